import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startComputeApi } from '../rest.js';
import { CollectSink, ListSpout, SplitSentence, WordCount } from '../testkit.js';
import { TopologyBuilder } from '../topology.js';
import { SimClock } from './clock.js';
import { LocalCluster } from './local.js';

const sentences = Array.from({ length: 400 }, (_, i) => `w${i % 7} w${i % 11} w${i % 13} common`);

function wordCount(): { b: TopologyBuilder; spout: () => ListSpout } {
  let spout!: ListSpout;
  const b = new TopologyBuilder();
  b.setSpout('sentences', () => (spout = new ListSpout(sentences, 'sentence')), 1);
  b.setBolt('split', () => new SplitSentence(), 2).shuffleGrouping('sentences');
  b.setBolt('count', WordCount, 1).setNumTasks(4).fieldsGrouping('split', ['word']);
  b.setBolt('sink', CollectSink, 1).shuffleGrouping('count');
  return { b, spout: () => spout };
}

test('rebalance mid-run: count goes 1 → 3 → 2 executors over the same 4 tasks, counts stay exact and the UI shows the executors', async () => {
  WordCount.seen.clear();
  CollectSink.got.length = 0;
  const { b, spout } = wordCount();
  const cluster = new LocalCluster({ clock: new SimClock(), manual: true });
  const t = await cluster.submitTopology('wc', { 'topology.executor.batch.size': 8, 'topology.spout.batch.size': 8 }, b.createTopology());
  const countTasks = t.tasks.filter((x) => x.component === 'count');
  assert.equal(t.component('count').executors, 1);
  for (let i = 0; i < 5; i++) t.runRound();
  assert.ok(t.queues().some((q) => q.component === 'count' && q.bytes > 0), 'tuples are queued for count when the rebalance starts');
  assert.ok(!spout().done());
  // no wait: the tuples queued for count's tasks move to the tasks' new executors
  await t.rebalance({ waitSecs: 0, executors: { count: 3 } });
  assert.equal(t.status, 'ACTIVE');
  assert.equal(t.component('count').executors, 3);
  assert.equal(t.page().bolts.find((x) => x.boltId === 'count')!.executors, 3);
  const [a, b2, c, d] = countTasks.map((x) => x.id);
  assert.deepEqual(t.component('count').executorStats.map((e) => e.id), [`[${a}-${a}]`, `[${b2}-${b2}]`, `[${c}-${d}]`], "tasks split over executors as at submit");
  assert.deepEqual(t.tasks.filter((x) => x.component === 'count'), countTasks, 'the same task objects');
  for (let i = 0; i < 5; i++) t.runRound();
  // default wait (the message timeout) ends as soon as no tree is pending
  await cluster.rebalance('wc', { executors: { count: 2 } });
  assert.equal(t.acker!.pending(), 0);
  assert.equal(t.component('count').executors, 2);
  assert.deepEqual(t.component('count').executorStats.map((e) => e.id), [`[${a}-${b2}]`, `[${c}-${d}]`]);
  assert.equal(t.summary().executorsTotal, 1 + 2 + 2 + 1);
  t.runUntilIdle();
  assert.ok(spout().done(), `acked ${spout().acked.size} of ${sentences.length}`);
  assert.equal(spout().failed.length, 0);
  for (const [w, tasks] of WordCount.seen) assert.equal(tasks.size, 1, `word ${w} counted by tasks ${[...tasks].join(',')}`);
  const final = new Map<string, number>();
  for (const g of CollectSink.got) final.set(g.values[0] as string, Math.max(final.get(g.values[0] as string) ?? 0, g.values[1] as number));
  const expected = new Map<string, number>();
  for (const w of sentences.flatMap((s) => s.split(' '))) expected.set(w, (expected.get(w) ?? 0) + 1);
  assert.deepEqual(final, expected);
  assert.equal(CollectSink.got.length, 1600, 'every word counted once');
  assert.equal(t.component('count').taskStats.reduce((n, x) => n + x.executed, 0), 1600);
  await cluster.shutdown();
});

test('rebalance refuses unknown components, executor counts outside 1..numTasks and more workers, naming the component; an inactive topology stays inactive', async () => {
  const { b } = wordCount();
  const cluster = new LocalCluster({ clock: new SimClock(), manual: true });
  const t = await cluster.submitTopology('wc', {}, b.createTopology());
  await assert.rejects(t.rebalance({ executors: { nope: 2 } }), /component nope is not in the topology/);
  await assert.rejects(t.rebalance({ executors: { count: 5 } }), /component count: executors must be an integer from 1 to its 4 tasks \(numTasks\), got 5/);
  await assert.rejects(t.rebalance({ executors: { split: 0 } }), /component split: executors must be an integer from 1 to its 2 tasks/);
  await assert.rejects(t.rebalance({ numWorkers: 2 }), /MON_ERR_TOPOLOGY_INVALID|--workers N/);
  assert.equal(t.status, 'ACTIVE', 'a refused rebalance changes nothing');
  assert.equal(t.component('count').executors, 1);
  t.deactivate();
  await t.rebalance({ waitSecs: 0, executors: { sentences: 1, count: 4 } });
  assert.equal(t.status, 'INACTIVE');
  assert.equal(t.component('count').executors, 4);
  await cluster.shutdown();
  await assert.rejects(t.rebalance({}), /it was killed/);
  const refusing = new LocalCluster({ clock: new SimClock(), manual: true, rebalanceRefusal: 'distributed workers rebalance through the bus' });
  const d = await refusing.submitTopology('wc', {}, wordCount().b.createTopology());
  await assert.rejects(d.rebalance({ executors: { count: 2 } }), /distributed workers rebalance through the bus/);
  await refusing.shutdown();
});

test('REST rebalance takes Storm UI\'s body; bad options answer 400 naming the field or component', async () => {
  CollectSink.got.length = 0;
  const cluster = new LocalCluster({ clock: new SimClock(), manual: true });
  await cluster.submitTopology('wc', {}, wordCount().b.createTopology());
  const api = await startComputeApi(cluster, { port: 0 });
  try {
    const post = (path: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${api.port}${path}`, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const ok = await post('/api/v1/topology/wc/rebalance/0', { rebalanceOptions: { numWorkers: 1, executors: { count: 3 } } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual([ok.body.topologyOperation, ok.body.status], ['rebalance', 'success']);
    const page = (await fetch(`http://127.0.0.1:${api.port}/api/v1/topology/wc`).then((r) => r.json())) as { bolts: { boltId: string; executors: number }[] };
    assert.equal(page.bolts.find((x) => x.boltId === 'count')!.executors, 3);
    assert.equal((await post('/api/v1/topology/wc/rebalance/0')).status, 200, 'no body: nothing changes');
    const big = await post('/api/v1/topology/wc/rebalance/0', { rebalanceOptions: { executors: { count: 9 } } });
    assert.equal(big.status, 400);
    assert.match(String(big.body.errorMessage), /component count: executors must be an integer from 1 to its 4 tasks/);
    const typed = await post('/api/v1/topology/wc/rebalance/0', { rebalanceOptions: { executors: { count: 'x' } } });
    assert.match(String(typed.body.errorMessage), /rebalanceOptions\.executors\.count must be an integer/);
    assert.equal((await post('/api/v1/topology/wc/rebalance/-1', {})).status, 400);
    assert.equal((await post('/api/v1/topology/nope/rebalance/0', {})).status, 404);
  } finally {
    await api.close();
    await cluster.shutdown();
  }
});
