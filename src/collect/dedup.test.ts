import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent, type Event } from '../core/event.js';
import { IdentitySet, merge } from './dedup.js';

const limits = { retentionMs: 60_000, maxOrigins: 100, maxIntervals: 100 };
const ev = (origin: string, seq: number): Event => makeEvent(`${origin}#${seq}`, { 'monsoon.origin': origin, 'monsoon.seq': String(seq) });
const evs = (origin: string, seqs: number[]) => seqs.map((s) => ev(origin, s));

describe('IdentitySet', () => {
  it('merges overlapping and adjacent intervals', () => {
    assert.deepEqual(merge([1, 3, 10, 12], [4, 5, 8, 9]), [1, 5, 8, 12]);
    assert.deepEqual(merge([], [2, 2]), [2, 2]);
    assert.deepEqual(merge([0, 10], [3, 4]), [0, 10]);
    assert.deepEqual(merge([0, 1], [5, 6]), [0, 1, 5, 6]);
  });

  it('keeps contiguous batches as one interval and finds members by binary search', () => {
    let set = IdentitySet.empty(limits);
    set = set.admit(evs('a', [0, 1, 2, 3]), 1).next;
    set = set.admit(evs('a', [4, 5, 6]), 2).next;
    set = set.admit(evs('a', [10, 12]), 3).next;
    assert.deepEqual(set.intervals('a'), [[0, 6], [10, 10], [12, 12]]);
    set = set.admit(evs('a', [11, 7, 8, 9]), 4).next;
    assert.deepEqual(set.intervals('a'), [[0, 12]]);
    assert.equal(set.has('a', 0), true);
    assert.equal(set.has('a', 12), true);
    assert.equal(set.has('a', 13), false);
    assert.equal(set.has('b', 0), false);
  });

  it('admits random batches as a plain set would: runs, interleaved origins, repeats, seen ids hot and cold, seqs that are no identity', () => {
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let set = IdentitySet.empty(limits);
    const known = new Set<string>();
    for (let round = 0; round < 200; round++) {
      const ids: ({ origin: string; seq: number } | undefined)[] = [];
      const base = Math.floor(rand() * 300) - 100; // negative sequence numbers too
      const len = 1 + Math.floor(rand() * 60);
      for (let i = 0; i < len; i++) {
        const r = rand();
        // every fourth round many origins (repeats in several of them in one batch)
        const origin = `o${Math.floor(rand() * (round % 4 === 3 ? 25 : 3))}`;
        // mostly rising runs, some going back, some repeats, some without identity, a few seqs that
        // are not safe integers (no identity either)
        const odd = [Number.NaN, 1.5, 2 ** 53, Number.POSITIVE_INFINITY, -0][Math.floor(rand() * 5)]!;
        const seq = r < 0.6 ? base + i : r < 0.8 ? base + Math.floor(rand() * 40) : r < 0.87 ? base + i - 1 : odd;
        ids.push(r < 0.9 ? { origin, seq } : undefined);
      }
      const a = set.admitIds(ids, round);
      const inBatch = new Set<string>();
      const added = new Map<string, number[]>(); // fresh seqs per origin, origins in order of their first fresh one
      const want = ids.map((id) => {
        if (!id || !Number.isSafeInteger(id.seq)) return 1;
        const k = `${id.origin}/${id.seq}`;
        if (known.has(k) || inBatch.has(k)) return 0;
        inBatch.add(k);
        added.set(id.origin, [...(added.get(id.origin) ?? []), id.seq]);
        return 1;
      });
      assert.deepEqual([...(a.fresh ?? want.map(() => 1))], want, `round ${round}`);
      assert.equal(a.duplicates, want.filter((w) => w === 0).length);
      const ranges = (seqs: number[]) => merge([], seqs.sort((x, y) => x - y).flatMap((q) => [q, q]));
      assert.deepEqual([...a.added].map(([o, r]) => [o, [...r]]), [...added].map(([o, q]) => [o, ranges(q)]), `round ${round}: added`);
      for (const k of inBatch) known.add(k);
      set = a.next;
      if (round % 50 === 49) set = set.cool(round + 1, 0).next; // move every origin to the cold part
      for (const k of known) {
        const [o, q] = k.split('/');
        assert.equal(set.has(o!, Number(q)), true, `round ${round}: ${k} held`);
      }
    }
  });

  it('drops seen identities and repeats within a batch, passes events without identity, and is immutable', () => {
    const set = IdentitySet.empty(limits).admit(evs('a', [0, 1, 2]), 1).next;
    const plain = makeEvent('no identity');
    const r = set.admit([...evs('a', [1, 3, 3, 2, 4]), plain, ...evs('b', [1])], 2);
    assert.deepEqual(
      r.fresh.map((e) => e.body.toString()),
      ['a#3', 'a#4', 'no identity', 'b#1'],
    );
    assert.equal(r.duplicates, 3);
    assert.equal(set.has('a', 3), false, 'admit must not change the current set');
    assert.equal(r.next.has('a', 3), true);
    assert.deepEqual(r.next.intervals('a'), [[0, 4]]);
  });

  it('round-trips through its serialized form', () => {
    const set = IdentitySet.empty(limits).admit([...evs('x/"q"', [5, 6, 9]), ...evs('y', [0])], 7).next;
    const back = IdentitySet.parse(set.serialize(), limits);
    assert.deepEqual(back.intervals('x/"q"'), [[5, 6], [9, 9]]);
    assert.deepEqual(back.intervals('y'), [[0, 0]]);
    assert.equal(back.serialize(), set.serialize());
    assert.throws(() => IdentitySet.parse('{"v":2}', limits), /version 1/);
    assert.throws(() => IdentitySet.parse('{"v":1,"o":{"a":{"t":1,"r":[1]}}}', limits), /malformed/);
  });

  it('prunes origins idle past the retention, and caps origins and intervals', () => {
    let set = IdentitySet.empty(limits).admit(evs('old', [0]), 0).next;
    set = set.admit(evs('new', [0]), 50_000).next;
    const r = set.admit(evs('new', [1]), 70_000);
    assert.equal(r.pruned, 1);
    assert.equal(r.next.originCount, 1);
    assert.equal(r.next.has('old', 0), false);

    const small = { retentionMs: 60_000, maxOrigins: 2, maxIntervals: 2 };
    const gaps = IdentitySet.empty(small).admit(evs('g', [0, 2, 4, 6]), 1);
    assert.deepEqual(gaps.next.intervals('g'), [[4, 4], [6, 6]], 'the lowest intervals go first');
    assert.equal(gaps.pruned, 2);
    let many = IdentitySet.empty(small);
    for (const [i, o] of ['o1', 'o2', 'o3'].entries()) many = many.admit(evs(o, [0]), i).next;
    assert.equal(many.originCount, 2);
    assert.equal(many.has('o1', 0), false, 'the longest idle origin goes first');
    assert.equal(many.has('o3', 0), true);
  });

  it('cools idle origins apart, keeps the cold entry of one active again, and enforces maxOrigins when cooling', () => {
    const lim = { retentionMs: 1_000_000, maxOrigins: 3, maxIntervals: 100 };
    let set = IdentitySet.empty(lim).admit(evs('x', [0, 1]), 0).next;
    set = set.admit(evs('y', [0]), 5_000).next;
    const cooled = set.cool(12_000, 10_000).next; // x idle 12 s, y 7 s
    assert.equal(JSON.parse(cooled.serializeCold()).o.x !== undefined, true);
    assert.equal(JSON.parse(cooled.serializeHot()).o.x, undefined);
    assert.ok(cooled.has('x', 1) && cooled.has('y', 0));
    // x comes back: its hot entry starts from the cold one, and the cold entry stays until x cools again
    const again = cooled.admit(evs('x', [2]), 13_000).next;
    assert.deepEqual(again.intervals('x'), [[0, 2]]);
    assert.deepEqual(JSON.parse(again.serializeHot()).o.x.r, [0, 2]);
    const recooled = again.cool(16_000, 10_000).next; // y cools, x is hot
    assert.deepEqual(JSON.parse(recooled.serializeCold()).o.x.r, [0, 1], 'a store writing the cold part first keeps x');
    assert.ok(JSON.parse(recooled.serializeCold()).o.y);
    // over maxOrigins (3): cooling asks to run and drops the least recently seen cold-only origins
    let many = recooled;
    for (const [i, o] of ['p', 'q', 'r'].entries()) many = many.admit(evs(o, [0]), 17_000 + i).next;
    assert.equal(many.needsCooling(17_100, 10_000), true);
    const bounded = many.cool(17_100, 10_000).next;
    assert.equal(bounded.has('y', 0), false, 'y, the oldest cold-only origin, is forgotten first');
    assert.ok(bounded.has('p', 0) && bounded.has('q', 0) && bounded.has('r', 0));
  });
});
