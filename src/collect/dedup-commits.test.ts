import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent, type Event } from '../core/event.js';
import { DedupCommitter, type PutFn } from './dedup-commits.js';
import { IdentitySet } from './dedup.js';

const limits = { retentionMs: 3_600_000, maxOrigins: 100, maxIntervals: 100_000 };
const ev = (origin: string, seq: number): Event => makeEvent(`${origin}#${seq}`, { 'monsoon.origin': origin, 'monsoon.seq': String(seq) });
const range = (origin: string, from: number, n: number) => Array.from({ length: n }, (_, i) => ev(origin, from + i));
const key = (e: Event) => `${e.headers['monsoon.origin']}#${e.headers['monsoon.seq']}`;

/** A channel stand-in: puts wait until released, then commit events and markers together (or fail). */
class FakeChannel {
  readonly stored: string[] = [];
  readonly markers = new Map<string, string>();
  readonly pending: Array<{ fresh: Event[]; markers: Record<string, string>; done: (ok: boolean) => void }> = [];
  maxConcurrent = 0;
  put: PutFn = (fresh, markers) =>
    new Promise((resolve, reject) => {
      this.pending.push({
        fresh,
        markers,
        done: (ok) => {
          if (!ok) return reject(new Error('commit failed'));
          for (const e of fresh) this.stored.push(key(e));
          for (const [k, v] of Object.entries(markers)) this.markers.set(k, v);
          resolve();
        },
      });
      this.maxConcurrent = Math.max(this.maxConcurrent, this.pending.length);
    });
  /** Completes the `i`-th pending put. */
  finish(i: number, ok = true): void {
    const [p] = this.pending.splice(i, 1);
    p!.done(ok);
  }
  /** What a restarted source would know: the union of the stored slot markers. */
  restored(slots: number): IdentitySet {
    const c = new DedupCommitter('dedup:r1', slots, limits);
    assert.deepEqual(c.restore((k) => this.markers.get(k)), []);
    return c.identities;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

/** xorshift32 from `seed`: deterministic, with usable low bits; gives integers in [0, n). */
function xorshift(seed: number): (n: number) => number {
  return (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
}

describe('DedupCommitter', () => {
  it('commits batches with disjoint identities concurrently, each under its own slot marker', async () => {
    const ch = new FakeChannel();
    const c = new DedupCommitter('dedup:r1', 3, limits);
    const runs = [c.commit(range('a', 0, 10), ch.put), c.commit(range('a', 10, 10), ch.put), c.commit(range('a', 20, 10), ch.put)];
    await tick();
    assert.equal(ch.pending.length, 3);
    assert.deepEqual(ch.pending.map((p) => Object.keys(p.markers)[0]).sort(), ['dedup:r1', 'dedup:r1#1', 'dedup:r1#2']);
    ch.finish(2);
    ch.finish(0);
    ch.finish(0);
    assert.deepEqual((await Promise.all(runs)).map((r) => r.accepted), [10, 10, 10]);
    assert.deepEqual(c.identities.intervals('a'), [[0, 29]]);
    assert.deepEqual(ch.restored(3).intervals('a'), [[0, 29]]);
  });

  it('holds a batch back while an overlapping one is in flight, then drops what it committed', async () => {
    const ch = new FakeChannel();
    const c = new DedupCommitter('dedup:r1', 4, limits);
    const first = c.commit(range('a', 0, 10), ch.put);
    const replay = c.commit(range('a', 5, 10), ch.put);
    await tick();
    assert.equal(ch.pending.length, 1, 'the overlapping batch waits');
    ch.finish(0);
    await tick();
    assert.equal(ch.pending.length, 1);
    assert.deepEqual(ch.pending[0]!.fresh.map(key), range('a', 10, 5).map(key));
    ch.finish(0);
    assert.deepEqual(await first, { accepted: 10, duplicates: 0, pruned: 0 });
    assert.deepEqual(await replay, { accepted: 5, duplicates: 5, pruned: 0 });
    assert.deepEqual(ch.stored, range('a', 0, 15).map(key));
  });

  it('commits a waiting replay in full when the first attempt failed', async () => {
    const ch = new FakeChannel();
    const c = new DedupCommitter('dedup:r1', 4, limits);
    const first = c.commit(range('a', 0, 10), ch.put);
    const replay = c.commit(range('a', 0, 10), ch.put);
    await tick();
    ch.finish(0, false);
    await assert.rejects(first, /commit failed/);
    await tick();
    ch.finish(0);
    assert.equal((await replay).accepted, 10);
    assert.deepEqual(ch.stored, range('a', 0, 10).map(key));
  });

  it('waits for a free slot when more batches arrive than it has slots', async () => {
    const ch = new FakeChannel();
    const c = new DedupCommitter('dedup:r1', 2, limits);
    const runs = [0, 1, 2, 3].map((i) => c.commit(range('b', i * 5, 5), ch.put));
    await tick();
    assert.equal(ch.pending.length, 2);
    while (ch.pending.length > 0) {
      ch.finish(0);
      await tick();
    }
    await Promise.all(runs);
    await c.idle();
    assert.equal(ch.maxConcurrent, 2);
    assert.deepEqual([...ch.markers.keys()].sort(), ['dedup:r1', 'dedup:r1#1']);
    assert.deepEqual(ch.restored(2).intervals('b'), [[0, 19]]);
  });

  it('keeps the union of stored markers equal to the committed identities under random interleavings', async () => {
    const rnd = xorshift(7);
    let concurrent = 0;
    for (let round = 0; round < 20; round++) {
      const ch = new FakeChannel();
      const c = new DedupCommitter('dedup:r1', 1 + rnd(4), limits);
      const runs: Promise<unknown>[] = [];
      for (let step = 0; step < 60; step++) {
        if (ch.pending.length > 0 && rnd(3) === 0) ch.finish(rnd(ch.pending.length), rnd(5) !== 0);
        else {
          // batches of two origins, often replays or overlaps of earlier ones
          const origin = rnd(2) === 0 ? 'a' : 'b';
          runs.push(c.commit(range(origin, rnd(100), 1 + rnd(8)), ch.put).catch(() => {}));
        }
        await tick();
        const durable = new Set(ch.stored);
        assert.equal(durable.size, ch.stored.length, 'no identity is stored twice');
        const union = ch.restored(c.slots);
        for (const o of ['a', 'b']) {
          for (let s = 0; s < 110; s++) assert.equal(union.has(o, s), durable.has(`${o}#${s}`), `round ${round} step ${step}: ${o}#${s}`);
        }
      }
      while (ch.pending.length > 0) {
        ch.finish(0);
        await tick();
      }
      await Promise.all(runs);
      concurrent = Math.max(concurrent, ch.maxConcurrent);
    }
    assert.ok(concurrent >= 3, 'the interleavings include concurrent commits');
  });

  it('keeps the union of slot markers and the cold marker equal to the committed identities while origins cool', async () => {
    const rnd = xorshift(11);
    const origins = ['a', 'b', 'c', 'd', 'e', 'f'];
    let cooled = 0;
    let smallMarkers = 0;
    for (let round = 0; round < 20; round++) {
      const ch = new FakeChannel();
      let clock = 0;
      const now = () => clock;
      const c = new DedupCommitter('dedup:r1', 1 + rnd(4), limits, { coolAfterMs: 2000, coolEveryMs: 1000 });
      const runs: Promise<unknown>[] = [];
      for (let step = 0; step < 80; step++) {
        clock += rnd(800);
        if (ch.pending.length > 0 && rnd(3) === 0) ch.finish(rnd(ch.pending.length), rnd(5) !== 0);
        else {
          // a few origins at a time are active; the others idle long enough to cool, then come back
          const origin = origins[(Math.floor(step / 20) * 2 + rnd(2)) % origins.length]!;
          runs.push(c.commit(range(origin, rnd(100), 1 + rnd(8)), ch.put, now).catch(() => {}));
        }
        await tick();
        const durable = new Set(ch.stored);
        assert.equal(durable.size, ch.stored.length, 'no identity is stored twice');
        const union = ch.restored(c.slots);
        for (const o of origins) {
          for (let s = 0; s < 110; s++) assert.equal(union.has(o, s), durable.has(`${o}#${s}`), `round ${round} step ${step}: ${o}#${s}`);
        }
        if (c.identities.coldCount > 0) cooled++;
        const slot = ch.markers.get('dedup:r1');
        if (slot && ch.markers.has('dedup:r1#cold') && Object.keys((JSON.parse(slot) as { o: object }).o).length < new Set(ch.stored.map((k) => k.split('#')[0])).size) smallMarkers++;
      }
      while (ch.pending.length > 0) {
        ch.finish(0);
        await tick();
      }
      await Promise.all(runs);
    }
    assert.ok(cooled > 0, 'origins cooled');
    assert.ok(smallMarkers > 0, 'slot markers left cold origins out');
  });

  it('restores the union of all slot markers, whatever the slot count was', () => {
    const a = IdentitySet.empty(limits).admit(range('a', 0, 5), 1).next;
    const b = IdentitySet.empty(limits).admit([...range('a', 5, 5), ...range('z', 3, 1)], 2).next;
    const markers = new Map([
      ['dedup:r1', a.serialize()],
      ['dedup:r1#7', b.serialize()],
      ['dedup:r1#2', 'not json'],
    ]);
    const c = new DedupCommitter('dedup:r1', 1, limits);
    const bad = c.restore((k) => markers.get(k));
    assert.deepEqual(bad.map((x) => x.key), ['dedup:r1#2']);
    assert.deepEqual(c.identities.intervals('a'), [[0, 9]]);
    assert.deepEqual(c.identities.intervals('z'), [[3, 3]]);
  });
});
