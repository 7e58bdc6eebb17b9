import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AckerListener } from '../acker.js';
import { CollectSink, ListSpout, SplitSentence } from '../testkit.js';
import { TopologyBuilder } from '../topology.js';
import { assignWorkers, encodeFrame, FrameReader, RoutingAcker, type Link } from './transfer.js';

test('assignWorkers deals executors round-robin; an executor’s tasks stay together', () => {
  const b = new TopologyBuilder();
  b.setSpout('s', new ListSpout([]), 1);
  b.setBolt('a', new SplitSentence(), 2).setNumTasks(4).shuffleGrouping('s');
  b.setBolt('b', CollectSink, 3).fieldsGrouping('a', ['word']);
  // task ids by component id order: a 1-4, b 5-7, s 8; executors in IR order: s, a[1,2], a[3,4], b5, b6, b7
  const w = assignWorkers(b.createTopology().ir, 2);
  assert.deepEqual([...w].sort((x, y) => x[0] - y[0]), [[1, 1], [2, 1], [3, 0], [4, 0], [5, 1], [6, 0], [7, 1], [8, 0]]);
});

test('FrameReader reassembles frames split anywhere and several per chunk', () => {
  const frames = [
    { k: 'a' as const, x: [1, 2, 3], f: [4], t: [] },
    { k: 'b' as const, task: 3, s: [0], src: [1], v: [[Buffer.from('x'), 'y', 2]], r: [0], h: [0], l: [0], m: [null] },
  ];
  const bytes = Buffer.concat(frames.map(encodeFrame));
  for (const cut of [1, 3, 4, 7, bytes.length - 1]) {
    const r = new FrameReader();
    const got = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
    assert.deepEqual(got, frames);
  }
});

test('RoutingAcker tracks its own roots and sends the others’ acks to their worker', () => {
  const done: unknown[] = [];
  const listener: AckerListener = { treeAcked: (_t, m) => done.push(['ok', m]), treeFailed: (_t, m) => done.push(['fail', m]) };
  const sent: unknown[][] = [];
  const link = { ackXor: (...a: number[]) => sent.push(['x', ...a]), ackFail: (r: number) => sent.push(['f', r]), ackTouch: (r: number) => sent.push(['t', r]) } as unknown as Link;
  const w1 = new RoutingAcker(listener, 1000, 1, 2, [link, undefined, undefined, link]);
  const root = w1.open(7, 'm1', 0);
  assert.equal(root % 4, 1, 'the root names its worker');
  w1.xor(root, 5, 6);
  w1.xor(root, 5, 6);
  assert.deepEqual(done, [['ok', 'm1']]);
  const foreign = 12 * 4 + 3;
  w1.xor(foreign, 1, 2);
  w1.fail(foreign);
  w1.touch(foreign, 1);
  assert.deepEqual(sent, [['x', foreign, 1, 2], ['f', foreign], ['t', foreign]]);
  const r2 = w1.open(7, 'm2', 0);
  w1.xor(r2, 9, 9);
  w1.apply({ k: 'a', x: [], f: [r2], t: [] }, 0);
  assert.deepEqual(done.at(-1), ['fail', 'm2']);
});
