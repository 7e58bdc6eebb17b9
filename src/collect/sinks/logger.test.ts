import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { makeEvent } from '../../core/event.js';
import { memoryChannel, sinkContext } from '../testkit.js';
import { describeEvent, LoggerSink } from './logger.js';
import { putAll } from './sink-testkit.js';

describe('logger sink', () => {
  it('logs headers and at most maxBytesToLog bytes of each body, then backs off when empty', async () => {
    const lines: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const ch = memoryChannel();
    const ctx = { ...sinkContext('k1', ch), log: pino({ level: 'info' }, out) };
    const sink = new LoggerSink({ maxBytesToLog: 4, batchSize: 10 }, ctx);
    await sink.start();
    await putAll(ch, [makeEvent('hello world', { a: '1' }), makeEvent(Buffer.from([0, 65]))]);
    assert.equal(await sink.process(), 'READY');
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]!) as { msg: string };
    assert.equal(first.msg, 'Event: { headers:{a=1} body: 68 65 6C 6C  hell }');
    assert.equal((JSON.parse(lines[1]!) as { msg: string }).msg, 'Event: { headers:{} body: 00 41  .A }');
    assert.equal(await sink.process(), 'BACKOFF');
    assert.equal(ctx.counters.get('EventDrainSuccessCount'), 2);
    assert.equal(ctx.counters.get('BatchUnderflowCount'), 1);
    assert.equal(ctx.counters.get('BatchEmptyCount'), 1);
    assert.equal(ch.size(), 0);
  });

  it('describes an empty body', () => {
    assert.equal(describeEvent(makeEvent(''), 16), 'Event: { headers:{} body: }');
  });
});
