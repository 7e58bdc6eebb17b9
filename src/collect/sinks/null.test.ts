import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '../../core/event.js';
import { memoryChannel, sinkContext } from '../testkit.js';
import { NullSink } from './null.js';
import { putAll } from './sink-testkit.js';

describe('null sink', () => {
  it('drains in batches of batchSize and counts complete, underflow and empty batches', async () => {
    const ch = memoryChannel();
    const ctx = sinkContext('k1', ch);
    const sink = new NullSink({ batchSize: 3 }, ctx);
    await putAll(ch, Array.from({ length: 7 }, (_, i) => makeEvent(`e${i}`)));
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await sink.process());
    assert.deepEqual(statuses, ['READY', 'READY', 'READY', 'BACKOFF']);
    assert.equal(ch.size(), 0);
    const c = ctx.counters;
    assert.deepEqual(
      [c.get('BatchCompleteCount'), c.get('BatchUnderflowCount'), c.get('BatchEmptyCount'), c.get('EventDrainAttemptCount'), c.get('EventDrainSuccessCount')],
      [2, 1, 1, 7, 7],
    );
  });
});
