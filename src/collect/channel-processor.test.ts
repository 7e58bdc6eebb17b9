import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent, type Event } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { MetricsRegistry, SourceCounterNames } from '../core/metrics.js';
import { DefaultChannelProcessor } from './channel-processor.js';
import { BodyPrefixInterceptor } from './interceptors/body_prefix.js';
import { ReplicatingSelector } from './selectors/replicating.js';
import { putAll } from './sinks/sink-testkit.js';
import { memoryChannel } from './testkit.js';

async function drain(ch: ReturnType<typeof memoryChannel>): Promise<string[]> {
  const tx = ch.transaction();
  const es = await tx.take(1000);
  await tx.commit();
  return es.map((e) => e.body.toString());
}

describe('channel processor with two required channels', () => {
  it('a batch refused by the second channel and retried by the source is stored once in each', async () => {
    const c1 = memoryChannel('c1', 100, 100);
    const c2 = memoryChannel('c2', 3, 3); // room for 3 events; keep-alive 0
    await c1.start();
    await c2.start();
    const m = new MetricsRegistry('a1');
    const p = new DefaultChannelProcessor(new ReplicatingSelector({ optional: [] }, [c1, c2]), [], m.component('SOURCE', 'r1', SourceCounterNames), silentLogger);
    await putAll(c2, [makeEvent('x'), makeEvent('y')]); // c2 nearly full
    const batch: Event[] = [makeEvent('a'), makeEvent('b')];
    await assert.rejects(p.process(batch, { 'taildir:r1': 'pos=2' })); // c1 commits, c2 is full
    // The source keeps the batch and retries once there is room (delivery.ts / taildir deliver()).
    await drain(c2);
    await p.process(batch, { 'taildir:r1': 'pos=2' });
    assert.deepEqual(await drain(c2), ['a', 'b']);
    assert.deepEqual(await drain(c1), ['a', 'b'], 'c1 must hold the batch once');
  });

  it('the position marker is not committed while another required channel lacks the batch', async () => {
    const c1 = memoryChannel('c1', 100, 100);
    const c2 = memoryChannel('c2', 1, 1);
    await c1.start();
    await c2.start();
    const m = new MetricsRegistry('a1');
    const p = new DefaultChannelProcessor(new ReplicatingSelector({ optional: [] }, [c1, c2]), [], m.component('SOURCE', 'r1', SourceCounterNames), silentLogger);
    await putAll(c2, [makeEvent('x')]);
    await assert.rejects(p.process([makeEvent('a')], { 'taildir:r1': 'pos=2' }));
    // A source restarting now (kill -9 here) reads this marker and skips line "a" for c2 forever.
    assert.equal(p.marker('taildir:r1'), undefined, 'no marker may be committed for a batch that failed');
  });
});

describe('interceptors on a retried batch', () => {
  it('a batch retried after ChannelFullError (backpressure) gets the body prefix once', async () => {
    const c1 = memoryChannel('c1', 2, 2);
    await c1.start();
    const m = new MetricsRegistry('a1');
    const p = new DefaultChannelProcessor(new ReplicatingSelector({ optional: [] }, [c1]), [new BodyPrefixInterceptor({ value: 'web!' })], m.component('SOURCE', 'r1', SourceCounterNames), silentLogger);
    await putAll(c1, [makeEvent('x')]);
    const batch = [makeEvent('line1'), makeEvent('line2')];
    await assert.rejects(p.process(batch)); // full: the source keeps `batch` and retries it (delivery.ts, taildir deliver())
    const tx = c1.transaction();
    await tx.take(10);
    await tx.commit();
    await p.process(batch);
    const t2 = c1.transaction();
    const got = (await t2.take(10)).map((e) => e.body.toString());
    await t2.commit();
    assert.deepEqual(got, ['web!line1', 'web!line2']);
  });
});
