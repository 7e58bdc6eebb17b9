import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { makeEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { DefaultSinkProcessor } from './processors/default.js';
import { FakeSink, fill } from './processors/testing.js';
import { SinkRunner } from './sink-runner.js';
import { memoryChannel, waitUntil } from './testkit.js';

function recordingLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

describe('sink runner', () => {
  it('drains the channel, then wakes on new data long before its back-off sleep would end', async () => {
    const ch = memoryChannel();
    const sink = new FakeSink('k1', ch);
    // A minute-long back-off: only the channel's data signal can make delivery quick.
    const runner = new SinkRunner({ processor: new DefaultSinkProcessor(sink), channels: [ch], log: silentLogger, backoffSleepIncrement: 60_000, maxBackoffSleep: 60_000 });
    await fill(ch, 25);
    await runner.start();
    try {
      assert.ok(sink.started);
      await waitUntil(() => sink.delivered().length === 25 && runner.stats.backoff > 0, 5000, 'the first events');
      const tx = ch.transaction();
      tx.put([makeEvent('late')]);
      await tx.commit();
      await waitUntil(() => sink.delivered().includes('late'), 5000, 'the late event');
    } finally {
      await runner.stop();
      await ch.stop(); // ends the channel's own pending wait so the test process can exit
    }
    assert.ok(sink.stopped);
  });

  it('stop() ends a back-off wait at once and lets the running process() finish', async () => {
    const ch = memoryChannel();
    const sink = new FakeSink('k1', ch);
    const runner = new SinkRunner({ processor: new DefaultSinkProcessor(sink), channels: [ch], log: silentLogger, backoffSleepIncrement: 60_000, maxBackoffSleep: 60_000 });
    await runner.start();
    await waitUntil(() => runner.stats.backoff > 0, 5000, 'a BACKOFF');
    let done = false;
    const stoppingIdle = runner.stop().then(() => (done = true));
    await waitUntil(() => done, 5000, 'stop() during a minute-long back-off');
    await stoppingIdle;
    assert.ok(sink.stopped);
    await ch.stop();

    const ch2 = memoryChannel();
    const held = new FakeSink('k2', ch2);
    let release!: () => void;
    held.gate = new Promise((r) => (release = r));
    const runner2 = new SinkRunner({ processor: new DefaultSinkProcessor(held), channels: [ch2], log: silentLogger });
    await fill(ch2, 5);
    await runner2.start();
    await waitUntil(() => held.calls === 1, 5000, 'a delivery in progress');
    let stopped = false;
    const stopping = runner2.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, 'stop waits for the delivery in progress');
    assert.equal(held.stopped, false, 'the sink is not stopped under a running delivery');
    release();
    await stopping;
    assert.deepEqual(held.delivered().length, 5, 'the delivery completed');
    assert.equal(held.calls, 1, 'no new process() after stop');
    assert.ok(held.stopped);
    await ch2.stop();
  });

  it('backs off after failures, warns once per streak and delivers once the sink recovers', async () => {
    const ch = memoryChannel();
    const sink = new FakeSink('k1', ch);
    sink.mode = 'fail';
    const { log, lines } = recordingLogger();
    const runner = new SinkRunner({ processor: new DefaultSinkProcessor(sink), channels: [ch], log, name: 'g1', backoffSleepIncrement: 5, maxBackoffSleep: 20 });
    await fill(ch, 10);
    await runner.start();
    try {
      await waitUntil(() => sink.failures >= 6, 5000, 'repeated failures');
      sink.mode = 'ok';
      await waitUntil(() => sink.delivered().length === 10, 5000, 'delivery after recovery');
    } finally {
      await runner.stop();
      await ch.stop();
    }
    const warnings = lines.filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!.msg, /Sink runner g1 could not deliver a batch \(sink k1 cannot reach its receiver\)/);
    assert.ok(lines.some((l) => l.level === 30 && /delivers again/.test(l.msg)));
    assert.equal(runner.stats.errors, sink.failures);
  });
});
