import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { redisUrlOptions } from '../../bus/url.js';
import { BusSpout } from '../spouts/bus.js';
import { acquireSharedBus, releaseSharedBus } from '../spouts/shared-bus.js';
import { BaseBasicBolt, type BasicOutputCollector, type OutputFieldsDeclarer } from '../api.js';
import { CollectSink, WordCount } from '../testkit.js';
import type { Tuple } from '../tuple.js';
import { TopologyBuilder } from '../topology.js';
import { planDistributed, startWorker } from './distributed.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-distributed-'));
after(() => rmSync(root, { recursive: true, force: true }));

class SplitValue extends BaseBasicBolt {
  execute(t: Tuple, c: BasicOutputCollector): void {
    for (const w of t.getStringByField('value').split(' ')) c.emit([w]);
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['word']);
  }
}

function wordcount(bus: string) {
  const b = new TopologyBuilder();
  b.setSpout('lines', new BusSpout({ bus, topics: ['lines'], group: 'wc-lines', from: 'earliest', commitIntervalMs: 50 }), 1);
  b.setBolt('split', SplitValue, 2).shuffleGrouping('lines', 'default');
  b.setBolt('count', WordCount, 3).setNumTasks(6).fieldsGrouping('split', ['word']);
  b.setBolt('sink', CollectSink, 1).globalGrouping('count');
  return b.createTopology();
}

test('planDistributed cuts FIELDS and GLOBAL edges with repartition topics and keeps the rest in the worker', () => {
  const plan = planDistributed(wordcount('/nowhere'), 'wc', 'redis://127.0.0.1:1');
  assert.deepEqual(
    plan.repartitions.map((r) => [r.component, r.topic, r.group, r.partitions]),
    [
      ['count', 'wc-count-repartition', 'wc-count', 6],
      ['sink', 'wc-sink-repartition', 'wc-sink', 1],
    ],
  );
  const ir = plan.topology.ir;
  const byId = new Map(ir.components.map((c) => [c.id, c]));
  assert.deepEqual(byId.get('split')!.inputs, [{ component: 'lines', stream: 'default', grouping: { type: 'SHUFFLE' } }], 'a shuffle stays inside the worker');
  assert.deepEqual(byId.get('count.repartition.out')!.inputs, [{ component: 'split', stream: 'default', grouping: { type: 'LOCAL_OR_SHUFFLE' } }]);
  assert.deepEqual(byId.get('count.repartition.in')!.streams, [{ id: 'split:default', fields: ['word'], direct: false }]);
  assert.deepEqual(byId.get('count')!.inputs, [{ component: 'count.repartition.in', stream: 'split:default', grouping: { type: 'FIELDS', fields: ['word'] } }]);
  assert.deepEqual(byId.get('sink')!.inputs, [{ component: 'sink.repartition.in', stream: 'count:default', grouping: { type: 'GLOBAL' } }]);
  assert.equal(plan.topology.components.has('count.repartition.out'), true);
  const b = new TopologyBuilder();
  b.setSpout('lines', new BusSpout({ bus: '/nowhere', topics: ['lines'], group: 'g' }));
  b.setBolt('x', CollectSink).fieldsGrouping('lines', ['key']);
  b.setBolt('x.repartition.in', CollectSink).shuffleGrouping('lines');
  assert.throws(() => planDistributed(b.createTopology(), 'wc', '/nowhere'), /component "x.repartition.in": the distributed runtime needs this id/);
});

test('two workers on one embedded bus split the input and count every word in one place', async () => {
  const dir = join(root, 'bus');
  const bus = await acquireSharedBus(dir);
  CollectSink.got.length = 0;
  const workers = [];
  try {
    await bus.admin.createTopic('lines', { partitions: 4 });
    for (let i = 0; i < 2; i++) workers.push(await startWorker(wordcount(dir), { name: 'wc', bus: dir }));
    const words = ['ant', 'bee', 'cat', 'dog', 'eel', 'fox', 'gnu'];
    const expected = new Map<string, number>();
    const lines = Array.from({ length: 400 }, (_, i) => {
      const line = Array.from({ length: 1 + (i % 4) }, (_, j) => words[(i + j * 3) % words.length]!);
      for (const w of line) expected.set(w, (expected.get(w) ?? 0) + 1);
      return { key: Buffer.from(`l${i}`), value: Buffer.from(line.join(' ')) };
    });
    await bus.produce('lines', lines);
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const end = Date.now() + 20_000;
    while (CollectSink.got.length < total && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(CollectSink.got.length, total, JSON.stringify(CollectSink.got.slice(0, 3)));
    // one running count per word reaching its total means one task in one worker counted it
    const max = new Map<string, number>();
    for (const g of CollectSink.got) max.set(g.values[0] as string, Math.max(max.get(g.values[0] as string) ?? 0, g.values[1] as number));
    assert.deepEqual(new Map([...max].sort()), new Map([...expected].sort()));
    // both workers read input partitions
    const emitted = workers.map((w) => w.topology.page().spouts.find((s) => s.spoutId === 'lines')!.emitted);
    assert.ok(emitted.every((n) => n > 0), `each worker read input: ${emitted.join(', ')}`);
  } finally {
    for (const w of workers) await w.stop();
    await releaseSharedBus(dir);
  }
});

test('a Redis bus URL carries group timings in its query', () => {
  assert.deepEqual(redisUrlOptions('redis://h:1?sessionTimeoutMs=1500&heartbeatMs=150'), { url: 'redis://h:1', options: { sessionTimeoutMs: 1500, heartbeatMs: 150 } });
  assert.deepEqual(redisUrlOptions('redis://h:1/2'), { url: 'redis://h:1/2', options: {} });
  assert.throws(() => redisUrlOptions('redis://h:1?heartbeatMs=soon'), /heartbeatMs must be a positive integer/);
});
