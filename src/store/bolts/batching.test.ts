import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutputCollector, TopologyContext } from '../../compute/api.js';
import { Fields, StreamInfo, Tuple } from '../../compute/tuple.js';
import { BatchingStoreBolt, type BatchingOptions } from './batching.js';

const info = new StreamInfo('src', 'default', new Fields('n'));
const tuple = (n: number) => new Tuple([n], info, 1, 8);
const ctx = { getThisComponentId: () => 'store', getThisTaskIndex: () => 0 } as TopologyContext;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records each write (its items and when it started) and commits it after `writeMs`. */
class Recorder extends BatchingStoreBolt<number> {
  readonly writes: { items: number[]; at: number }[] = [];
  constructor(
    opts: BatchingOptions,
    private readonly writeMs = 0,
  ) {
    super(opts);
  }
  protected async open(): Promise<void> {}
  protected item(t: Tuple): number {
    return t.getValue(0) as number;
  }
  protected async write(items: number[]): Promise<void> {
    this.writes.push({ items, at: Date.now() });
    await sleep(this.writeMs);
  }
  protected async closeStore(): Promise<void> {}
}

async function run(opts: BatchingOptions, writeMs = 0): Promise<{ bolt: Recorder; acked: number[] }> {
  const acked: number[] = [];
  const collector = { ack: (t: Tuple) => acked.push(t.getValue(0) as number), fail: () => assert.fail('nothing fails'), reportError: (e: unknown) => assert.fail(String(e)) } as unknown as OutputCollector;
  const bolt = new Recorder(opts, writeMs);
  await bolt.prepare({}, ctx, collector);
  return { bolt, acked };
}

describe('BatchingStoreBolt', () => {
  it('without lingerMs writes what one turn of the event loop handed over, at once', async () => {
    const { bolt, acked } = await run({});
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) bolt.execute(tuple(i));
    await sleep(30);
    assert.deepEqual(bolt.writes.map((w) => w.items.length), [10]);
    assert.ok(bolt.writes[0]!.at - t0 < 100, `written after ${bolt.writes[0]!.at - t0} ms`);
    assert.equal(acked.length, 10);
    await bolt.cleanup();
  });

  it('with lingerMs holds a small batch until its oldest tuple lingered, and writes a full one at once', async () => {
    const { bolt, acked } = await run({ lingerMs: 300, maxBatch: 100 });
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) bolt.execute(tuple(i));
    await sleep(100);
    for (let i = 10; i < 20; i++) bolt.execute(tuple(i));
    await sleep(100);
    assert.equal(bolt.writes.length, 0, 'nothing written before the linger ran out');
    await sleep(250);
    assert.deepEqual(bolt.writes.map((w) => w.items.length), [20], 'both turns in one write');
    assert.ok(bolt.writes[0]!.at - t0 >= 290, `written after ${bolt.writes[0]!.at - t0} ms`);
    const t1 = Date.now();
    for (let i = 0; i < 100; i++) bolt.execute(tuple(100 + i));
    assert.equal(bolt.writes.length, 2, 'a full batch goes without lingering');
    assert.ok(bolt.writes[1]!.at - t1 < 100);
    await sleep(10);
    assert.equal(acked.length, 120);
    await bolt.cleanup();
  });

  it('with idleMs, writes a lingering batch once no tuple came for idleMs', async () => {
    const { bolt, acked } = await run({ lingerMs: 60_000, idleMs: 50, maxBatch: 1000 });
    for (let i = 0; i < 5; i++) bolt.execute(tuple(i));
    const last = Date.now();
    for (const end = Date.now() + 10_000; bolt.writes.length === 0 && Date.now() < end; ) await sleep(10);
    assert.deepEqual(bolt.writes.map((w) => w.items), [[0, 1, 2, 3, 4]], 'written long before the 60 s linger');
    assert.ok(bolt.writes[0]!.at - last >= 48, `not before it was idle for 50 ms (written after ${bolt.writes[0]!.at - last} ms)`);
    await sleep(10);
    assert.equal(acked.length, 5);
    await bolt.cleanup();
  });

  it('with idleMs, a steady stream still lingers: every write follows an idle gap or a whole linger', async () => {
    const lingerMs = 300;
    const idleMs = 120;
    const { bolt, acked } = await run({ lingerMs, idleMs, maxBatch: 100_000 });
    const at: number[] = [];
    for (let i = 0; i < 60; i++) {
      at.push(Date.now());
      bolt.execute(tuple(i));
      await sleep(10);
    }
    for (const end = Date.now() + 10_000; acked.length < 60 && Date.now() < end; ) await sleep(10);
    assert.equal(acked.length, 60);
    let first = 0;
    for (const w of bolt.writes) {
      const last = first + w.items.length - 1;
      const idle = w.at - at[last]!;
      const lingered = w.at - at[first]!;
      // Date.now() has whole-millisecond steps: allow 2 ms
      assert.ok(idle >= idleMs - 2 || lingered >= lingerMs - 2, `write of tuples ${first}–${last} came ${idle} ms after the last and ${lingered} ms after the first`);
      first = last + 1;
    }
    assert.ok(bolt.writes.length < 60, 'tuples 10 ms apart gather into batches');
    await bolt.cleanup();
  });

  it('with lingerMs, tuples arriving during a write wait for the linger after it, not for another write', async () => {
    const { bolt, acked } = await run({ lingerMs: 100, maxBatch: 1000 }, 50);
    for (let i = 0; i < 5; i++) bolt.execute(tuple(i));
    await sleep(120); // the first write starts at ~100 ms and runs 50 ms
    for (let i = 5; i < 10; i++) bolt.execute(tuple(i));
    await sleep(200);
    assert.deepEqual(bolt.writes.map((w) => w.items), [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]);
    assert.equal(acked.length, 10);
    await bolt.cleanup();
  });

  it('with lingerMs, a tick writes what is buffered at once, and cleanup writes everything left', async () => {
    const { bolt, acked } = await run({ lingerMs: 60_000, maxBatch: 4 });
    for (let i = 0; i < 3; i++) bolt.execute(tuple(i));
    await sleep(30);
    assert.equal(bolt.writes.length, 0, 'lingering');
    bolt.execute(Tuple.tick(1));
    await sleep(30);
    assert.deepEqual(bolt.writes.map((w) => w.items), [[0, 1, 2]], 'the tick wrote the batch');
    for (let i = 3; i < 13; i++) bolt.execute(tuple(i)); // 2 full batches go at once, 2 tuples linger
    await sleep(30);
    assert.equal(bolt.writes.length, 3);
    await bolt.cleanup();
    assert.deepEqual(bolt.writes.map((w) => w.items.length), [3, 4, 4, 2]);
    assert.equal(acked.length, 13);
  });

  it('with lingerMs, cleanup writes more than maxBatch left behind a write in flight', async () => {
    const { bolt, acked } = await run({ lingerMs: 60_000, maxBatch: 4 }, 50);
    for (let i = 0; i < 14; i++) bolt.execute(tuple(i)); // the first 4 start a write; 10 wait behind it
    await bolt.cleanup();
    assert.deepEqual(bolt.writes.map((w) => w.items.length), [4, 4, 4, 2]);
    assert.equal(acked.length, 14);
  });
});
