import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Acker, EdgeIds, type AckerListener } from './acker.js';

function recorder(): AckerListener & { acked: unknown[]; failed: [unknown, string][] } {
  const r = {
    acked: [] as unknown[],
    failed: [] as [unknown, string][],
    treeAcked: (_t: number, m: unknown) => void r.acked.push(m),
    treeFailed: (_t: number, m: unknown, _s: number, why: 'failed' | 'timeout') => void r.failed.push([m, why]),
  };
  return r;
}

test('XOR tree: completes exactly when every edge was created and acked, in any order', () => {
  const edges = new EdgeIds();
  for (let trial = 0; trial < 200; trial++) {
    const l = recorder();
    const a = new Acker(l, 30_000);
    const root = a.open(1, `m${trial}`, 0);
    // a random tree: the spout tuple, then each acked tuple creates 0..3 children
    const pending: [number, number][] = [];
    edges.next();
    pending.push([edges.hi, edges.lo]);
    a.xor(root, edges.hi, edges.lo);
    let created = 1;
    while (pending.length) {
      const i = Math.floor(Math.random() * pending.length);
      const [h, lo] = pending.splice(i, 1)[0]!;
      let ah = 0;
      let al = 0;
      const kids = created < 40 ? Math.floor(Math.random() * 4) : 0;
      for (let k = 0; k < kids; k++) {
        edges.next();
        pending.push([edges.hi, edges.lo]);
        ah ^= edges.hi;
        al ^= edges.lo;
        created++;
      }
      assert.equal(l.acked.length, 0, 'not complete while edges remain');
      a.xor(root, h ^ ah, lo ^ al);
    }
    assert.deepEqual(l.acked, [`m${trial}`]);
    assert.equal(a.pending(), 0);
  }
});

test('fail reports the spout message once; later acks of the tree are ignored', () => {
  const l = recorder();
  const a = new Acker(l, 30_000);
  const r = a.open(3, 'x', 0);
  a.xor(r, 5, 6);
  a.fail(r);
  a.xor(r, 5, 6);
  a.fail(r);
  assert.deepEqual(l.failed, [['x', 'failed']]);
  assert.deepEqual(l.acked, []);
});

test('expire fails trees older than the timeout; a reused slot does not accept the old root', () => {
  const l = recorder();
  const a = new Acker(l, 1000);
  const old = a.open(1, 'old', 0);
  a.xor(old, 1, 1);
  const young = a.open(1, 'young', 800);
  a.xor(young, 2, 2);
  assert.equal(a.expire(999), 0);
  assert.equal(a.expire(1000), 1);
  assert.deepEqual(l.failed, [['old', 'timeout']]);
  const reused = a.open(1, 'new', 1000);
  assert.notEqual(reused, old);
  a.xor(reused, 7, 7);
  a.xor(old, 7, 7); // a late ack for the expired tree must not touch the new one
  a.xor(reused, 7, 7);
  assert.deepEqual(l.acked, ['new']);
  a.touch(young, 1700);
  assert.equal(a.expire(2000), 0, 'resetTimeout restarted the clock');
  assert.equal(a.expire(2700), 1);
});

test('a tree whose spout tuple went to no task completes at once; thousands of trees grow the table', () => {
  const l = recorder();
  const a = new Acker(l, 1000);
  a.xor(a.open(1, 'empty', 0), 0, 0);
  assert.deepEqual(l.acked, ['empty']);
  const roots = Array.from({ length: 5000 }, (_, i) => a.open(1, i, 0));
  for (const r of roots) a.xor(r, 1, 0);
  assert.equal(a.pending(), 5000);
  for (const r of roots) a.xor(r, 1, 0);
  assert.equal(l.acked.length, 5001);
});
