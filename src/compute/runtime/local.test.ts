import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BaseBasicBolt, BaseRichBolt, BaseRichSpout, FailedException, type BasicOutputCollector, type OutputCollector, type OutputFieldsDeclarer, type SpoutOutputCollector, type TopologyConfig, type TopologyContext } from '../api.js';
import { CollectSink, ListSpout, SplitSentence, WordCount } from '../testkit.js';
import { TopologyBuilder } from '../topology.js';
import type { Tuple } from '../tuple.js';
import { SimClock } from './clock.js';
import { LocalCluster } from './local.js';

function manual(): { clock: SimClock; cluster: LocalCluster } {
  const clock = new SimClock();
  return { clock, cluster: new LocalCluster({ clock, manual: true }) };
}

const sentences = Array.from({ length: 300 }, (_, i) => `w${i % 7} w${i % 11} w${i % 13} common`);

test('word count: every sentence tree completes, each word is counted by exactly one task, counts are exact', async () => {
  WordCount.seen.clear();
  let spout!: ListSpout;
  const b = new TopologyBuilder();
  b.setSpout('sentences', () => (spout = new ListSpout(sentences, 'sentence')), 1);
  b.setBolt('split', () => new SplitSentence(), 3).setMaxTaskParallelism(2).shuffleGrouping('sentences');
  b.setBolt('count', WordCount, 4).fieldsGrouping('split', ['word']);
  b.setBolt('sink', CollectSink, 1).shuffleGrouping('count');
  CollectSink.got.length = 0;
  const { cluster } = manual();
  const t = await cluster.submitTopology('wc', {}, b.createTopology());
  t.runUntilIdle();
  assert.ok(spout.done(), `acked ${spout.acked.size} of ${sentences.length}`);
  assert.equal(spout.failed.length, 0);
  for (const [w, tasks] of WordCount.seen) assert.equal(tasks.size, 1, `word ${w} counted by tasks ${[...tasks].join(',')}`);
  const final = new Map<string, number>();
  for (const g of CollectSink.got) final.set(g.values[0] as string, Math.max(final.get(g.values[0] as string) ?? 0, g.values[1] as number));
  assert.equal(final.get('common'), 300);
  assert.equal(final.get('w0'), sentences.flatMap((s) => s.split(' ')).filter((w) => w === 'w0').length);
  const page = t.page();
  const sp = page.spouts.find((s) => s.spoutId === 'sentences')!;
  assert.equal(sp.acked, 300);
  assert.equal(sp.emitted, 300);
  const split = page.bolts.find((x) => x.boltId === 'split')!;
  assert.equal(split.executed, 300);
  assert.equal(split.emitted, 1200);
  assert.equal(split.acked, 300);
  const comp = t.component('count');
  assert.equal(comp.tasks, 4);
  assert.equal(t.component('split').tasks, 2, 'topology.max.task.parallelism caps split at 2 tasks');
  assert.equal(comp.executorStats.length, 4);
  assert.equal(comp.taskStats.reduce((n, x) => n + x.executed, 0), 1200);
  assert.equal(page.acker!.pending, 0);
  assert.deepEqual(cluster.summary().topologies.map((x) => x.name), ['wc']);
  await cluster.shutdown();
});

/** Holds every tuple until released; then acks (or fails) them. */
class HoldBolt extends BaseRichBolt {
  static held: Tuple[] = [];
  static c: OutputCollector;
  prepare(_c: TopologyConfig, _x: TopologyContext, c: OutputCollector): void {
    HoldBolt.c = c;
  }
  execute(t: Tuple): void {
    HoldBolt.held.push(t);
  }
  declareOutputFields(): void {}
  static release(fail = false): void {
    for (const t of HoldBolt.held.splice(0)) fail ? HoldBolt.c.fail(t) : HoldBolt.c.ack(t);
  }
}

/** Joins consecutive pairs: emits one tuple anchored to both inputs, then acks both. */
class PairBolt extends BaseRichBolt {
  private c!: OutputCollector;
  private pending: Tuple | null = null;
  prepare(_c: TopologyConfig, _x: TopologyContext, c: OutputCollector): void {
    this.c = c;
  }
  execute(t: Tuple): void {
    if (!this.pending) {
      this.pending = t;
      return;
    }
    this.c.emit([this.pending, t], [`${String(this.pending.getValue(0))}+${String(t.getValue(0))}`]);
    this.c.ack(this.pending);
    this.c.ack(t);
    this.pending = null;
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['pair']);
  }
}

test('multi-anchoring: two spout trees joined into one tuple complete only when that tuple is acked', async () => {
  HoldBolt.held = [];
  let spout!: ListSpout;
  const b = new TopologyBuilder();
  b.setSpout('s', () => (spout = new ListSpout(['a', 'b', 'c', 'd'])), 1);
  b.setBolt('pair', PairBolt, 1).globalGrouping('s');
  b.setBolt('hold', HoldBolt, 1).shuffleGrouping('pair');
  const { cluster } = manual();
  const t = await cluster.submitTopology('multi', {}, b.createTopology());
  t.runUntilIdle();
  assert.equal(HoldBolt.held.length, 2);
  assert.deepEqual(HoldBolt.held.map((x) => x.getValue(0)), ['a+b', 'c+d']);
  assert.equal(Object.keys(HoldBolt.held[0]!.getMessageId()).length, 2, 'the joined tuple belongs to both trees');
  assert.equal(spout.acked.size, 0, 'no tree completes while the joined tuples are pending');
  HoldBolt.c.ack(HoldBolt.held.shift()!);
  t.runUntilIdle();
  assert.deepEqual([...spout.acked].sort(), [0, 1]);
  HoldBolt.release();
  t.runUntilIdle();
  assert.deepEqual([...spout.acked].sort(), [0, 1, 2, 3]);
  assert.equal(t.page().acker!.pending, 0);
  await cluster.shutdown();
});

test('a tree not acked within topology.message.timeout.secs fails (simulated time) and the spout replays it', async () => {
  HoldBolt.held = [];
  let spout!: ListSpout;
  const b = new TopologyBuilder();
  b.setSpout('s', () => (spout = new ListSpout(['x', 'y'])), 1);
  b.setBolt('hold', HoldBolt, 1).shuffleGrouping('s');
  const { clock, cluster } = manual();
  const t = await cluster.submitTopology('timeout', { 'topology.message.timeout.secs': 30 }, b.createTopology());
  t.runUntilIdle();
  assert.equal(HoldBolt.held.length, 2);
  clock.advance(29_000);
  t.runUntilIdle();
  assert.equal(spout.failed.length, 0, 'not failed before the timeout');
  HoldBolt.c.ack(HoldBolt.held.shift()!); // x completes in time
  clock.advance(2_000);
  t.runUntilIdle();
  assert.deepEqual(spout.failed, [1], 'y timed out');
  assert.deepEqual([...spout.acked], [0]);
  // the replayed y reaches the bolt again; a late ack of the first copy changes nothing
  assert.equal(HoldBolt.held.length, 2);
  const [late, again] = HoldBolt.held.splice(0);
  HoldBolt.c.ack(late!);
  t.runUntilIdle();
  assert.equal(spout.acked.has(1), false, 'the timed-out tree is gone; its late ack is ignored');
  HoldBolt.c.ack(again!);
  t.runUntilIdle();
  assert.deepEqual([...spout.acked].sort(), [0, 1]);
  assert.equal(t.page().spouts[0]!.failed, 1);
  await cluster.shutdown();
});

/** Throws on some inputs the first `times` times it sees them. */
class FlakyBolt extends BaseBasicBolt {
  static attempts = new Map<string, number>();
  execute(t: Tuple, c: BasicOutputCollector): void {
    const v = t.getString(0);
    const n = (FlakyBolt.attempts.get(v) ?? 0) + 1;
    FlakyBolt.attempts.set(v, n);
    if (v === 'bad' && n <= 2) throw new Error(`cannot process ${v} yet`);
    if (v === 'refused' && n <= 1) throw new FailedException('refused once');
    c.emit([v]);
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['v']);
  }
}

test('a bolt that throws fails its input (logged, counted, last error shown); the spout replays until processed', async () => {
  FlakyBolt.attempts.clear();
  CollectSink.got.length = 0;
  let spout!: ListSpout;
  const b = new TopologyBuilder();
  b.setSpout('s', () => (spout = new ListSpout(['ok1', 'bad', 'refused', 'ok2'])), 1);
  b.setBolt('flaky', FlakyBolt, 2).shuffleGrouping('s');
  b.setBolt('sink', CollectSink, 1).shuffleGrouping('flaky');
  const { cluster } = manual();
  const t = await cluster.submitTopology('flaky', {}, b.createTopology());
  t.runUntilIdle();
  assert.ok(spout.done());
  assert.deepEqual(spout.failed.sort(), [1, 1, 2]);
  assert.deepEqual(CollectSink.got.map((g) => g.values[0]).sort(), ['bad', 'ok1', 'ok2', 'refused']);
  const flaky = t.page().bolts.find((x) => x.boltId === 'flaky')!;
  assert.equal(flaky.failed, 3);
  assert.equal(flaky.errors, 2, 'FailedException fails without counting as an error');
  assert.match(flaky.lastError, /cannot process bad yet/);
  await cluster.shutdown();
});

class Emitter extends BaseRichSpout {
  private c!: SpoutOutputCollector;
  private i = 0;
  constructor(private readonly limit = Infinity) {
    super();
  }
  open(_c: TopologyConfig, _x: TopologyContext, c: SpoutOutputCollector): void {
    this.c = c;
  }
  nextTuple(): void {
    if (this.i >= this.limit) return;
    const i = this.i++;
    this.c.emit([i, 'x'.repeat(100)], i);
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['i', 'pad']);
  }
}

test('topology.max.spout.pending bounds the trees in flight per spout task', async () => {
  HoldBolt.held = [];
  let spout!: Emitter;
  const b = new TopologyBuilder();
  b.setSpout('s', () => (spout = new Emitter()), 1).setMaxSpoutPending(50);
  b.setBolt('hold', HoldBolt, 1).shuffleGrouping('s');
  const { cluster } = manual();
  const t = await cluster.submitTopology('pending', {}, b.createTopology());
  t.runUntilIdle();
  assert.equal(HoldBolt.held.length, 50);
  HoldBolt.c.ack(HoldBolt.held.shift()!);
  HoldBolt.c.ack(HoldBolt.held.shift()!);
  t.runUntilIdle();
  assert.equal(HoldBolt.held.length, 50, 'two completed, two more emitted');
  assert.equal(t.page().spouts[0]!.acked, 2);
  void spout;
  await cluster.shutdown();
});

test('topology.acker.executors = 0: messages are acked as they are emitted', async () => {
  HoldBolt.held = [];
  let spout!: ListSpout;
  const b = new TopologyBuilder();
  b.setSpout('s', () => (spout = new ListSpout(['a', 'b', 'c'])), 1);
  b.setBolt('hold', HoldBolt, 1).shuffleGrouping('s');
  const { cluster } = manual();
  const t = await cluster.submitTopology('noack', { 'topology.acker.executors': 0 }, b.createTopology());
  t.runUntilIdle();
  assert.equal(HoldBolt.held.length, 3);
  assert.ok(spout.done(), 'acked without any bolt acking');
  assert.equal(t.page().acker, null);
  await cluster.shutdown();
});

class SlowSink extends BaseRichBolt {
  static executed = 0;
  private c!: OutputCollector;
  prepare(_c: TopologyConfig, _x: TopologyContext, c: OutputCollector): void {
    this.c = c;
  }
  execute(t: Tuple): void {
    SlowSink.executed++;
    const until = performance.now() + 0.005; // busy, as a slow store write would be
    while (performance.now() < until);
    this.c.ack(t);
  }
  declareOutputFields(): void {}
}

test('backpressure: a sink 10× slower than its spout keeps its queue within the byte bound plus one batch; nothing is dropped', async () => {
  SlowSink.executed = 0;
  let spout!: Emitter;
  const total = 20_000;
  const b = new TopologyBuilder();
  b.setSpout('fast', () => (spout = new Emitter(total)), 1);
  b.setBolt('slow', SlowSink, 1).shuffleGrouping('fast');
  const { cluster } = manual();
  const bound = 64 * 1024;
  const spoutBatch = 100;
  const t = await cluster.submitTopology(
    'bp',
    {
      'topology.executor.receive.buffer.bytes': bound,
      'topology.spout.batch.size': spoutBatch,
      'topology.executor.batch.size': 10, // per turn the sink takes a tenth of what the spout emits
    },
    b.createTopology(),
  );
  let maxBytes = 0;
  let rounds = 0;
  while (t.runRound()) {
    rounds++;
    for (const q of t.queues()) maxBytes = Math.max(maxBytes, q.bytes);
  }
  const q = t.queues()[0]!;
  const tupleBytes = 48 + 8 + 16 + 100;
  assert.ok(q.peakBytes >= q.high, `backpressure engaged (peak ${q.peakBytes}, high watermark ${q.high})`);
  assert.ok(q.peakBytes <= bound + spoutBatch * tupleBytes, `peak ${q.peakBytes} B exceeds ${bound} B + one batch`);
  assert.ok(maxBytes <= q.peakBytes);
  assert.equal(SlowSink.executed, total, 'every tuple delivered');
  assert.equal(t.page().spouts[0]!.acked, total);
  assert.ok(rounds > total / 10);
  void spout;
  await cluster.shutdown();
});

class TickCounter extends BaseRichBolt {
  static ticks: { task: number; component: string; stream: string; secs: unknown }[] = [];
  private task = 0;
  prepare(_c: TopologyConfig, ctx: TopologyContext): void {
    this.task = ctx.getThisTaskId();
  }
  execute(t: Tuple): void {
    if (t.isTick()) TickCounter.ticks.push({ task: this.task, component: t.getSourceComponent(), stream: t.getSourceStreamId(), secs: t.getValue(0) });
  }
  declareOutputFields(): void {}
}

test('tick tuples arrive every topology.tick.tuple.freq.secs on __system/__tick (simulated time)', async () => {
  TickCounter.ticks = [];
  const b = new TopologyBuilder();
  b.setSpout('s', () => new ListSpout([]), 1);
  b.setBolt('ticked', TickCounter, 2).shuffleGrouping('s').addConfiguration('topology.tick.tuple.freq.secs', 10);
  const { clock, cluster } = manual();
  const t = await cluster.submitTopology('ticks', {}, b.createTopology());
  clock.advance(35_000);
  t.runUntilIdle();
  assert.equal(TickCounter.ticks.length, 6, '3 ticks × 2 tasks');
  assert.deepEqual(new Set(TickCounter.ticks.map((x) => x.task)).size, 2);
  for (const x of TickCounter.ticks) assert.deepEqual([x.component, x.stream, x.secs], ['__system', '__tick', 10]);
  await cluster.shutdown();
});

class StreamSpout extends BaseRichSpout {
  private c!: SpoutOutputCollector;
  private i = 0;
  open(_c: TopologyConfig, _x: TopologyContext, c: SpoutOutputCollector): void {
    this.c = c;
  }
  nextTuple(): void {
    if (this.i >= 10) return;
    const i = this.i++;
    this.c.emit(i % 2 ? 'odds' : 'evens', [i], i);
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declareStream('odds', ['n']);
    d.declareStream('evens', ['n']);
  }
}

/** Sends each number directly to the task at index n % tasks of `target`. */
class Router extends BaseRichBolt {
  private c!: OutputCollector;
  private tasks: number[] = [];
  prepare(_c: TopologyConfig, ctx: TopologyContext, c: OutputCollector): void {
    this.c = c;
    this.tasks = ctx.getComponentTasks('direct-sink');
  }
  execute(t: Tuple): void {
    const n = t.getInteger(0);
    this.c.emitDirect(this.tasks[n % this.tasks.length]!, 'routed', t, [n]);
    this.c.ack(t);
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declareStream('routed', true, ['n']);
  }
}

test('named streams and direct grouping: each subscriber gets only its stream; emitDirect reaches the named task', async () => {
  CollectSink.got.length = 0;
  const b = new TopologyBuilder();
  b.setSpout('nums', StreamSpout, 1);
  b.setBolt('odd-sink', CollectSink, 1).shuffleGrouping('nums', 'odds');
  b.setBolt('router', Router, 1).shuffleGrouping('nums', 'evens');
  b.setBolt('direct-sink', CollectSink, 3).directGrouping('router', 'routed');
  const { cluster } = manual();
  const t = await cluster.submitTopology('streams', {}, b.createTopology());
  t.runUntilIdle();
  const tasks = t.tasksByComponent.get('direct-sink')!;
  const odd = CollectSink.got.filter((g) => g.stream === 'odds').map((g) => g.values[0]);
  assert.deepEqual(odd, [1, 3, 5, 7, 9]);
  const routed = CollectSink.got.filter((g) => g.stream === 'routed');
  assert.deepEqual(routed.map((g) => g.values[0]).sort(), [0, 2, 4, 6, 8]);
  for (const g of routed) assert.equal(g.task, tasks[(g.values[0] as number) % tasks.length]);
  const out = t.component('nums').outputStats;
  assert.deepEqual(out.map((s) => [s.stream, s.emitted]), [['odds', 5], ['evens', 5]]);
  assert.equal(t.page().spouts[0]!.acked, 10);
  await cluster.shutdown();
});

test('emitting to an undeclared stream or with the wrong arity is an error naming the component; the topology keeps running', async () => {
  class Bad extends BaseRichSpout {
    private c!: SpoutOutputCollector;
    private n = 0;
    open(_c: TopologyConfig, _x: TopologyContext, c: SpoutOutputCollector): void {
      this.c = c;
    }
    nextTuple(): void {
      this.n++;
      if (this.n === 1) this.c.emit('nope', [1]);
      else if (this.n === 2) this.c.emit([1, 2]);
      else if (this.n === 3) this.c.emit([3], 3);
    }
    declareOutputFields(d: OutputFieldsDeclarer): void {
      d.declare(['a']);
    }
  }
  CollectSink.got.length = 0;
  const b = new TopologyBuilder();
  b.setSpout('bad', Bad, 1);
  b.setBolt('sink', CollectSink, 1).shuffleGrouping('bad');
  const { cluster } = manual();
  const t = await cluster.submitTopology('bad', {}, b.createTopology());
  for (let i = 0; i < 5; i++) t.runRound();
  const sp = t.page().spouts[0]!;
  assert.equal(sp.errors, 2);
  assert.match(sp.lastError, /component bad: emitted 2 values on stream "default", which declares 1 fields/);
  assert.deepEqual(CollectSink.got.map((g) => g.values), [[3]]);
  await cluster.shutdown();
});

test('deactivate stops nextTuple, activate resumes it; kill closes every component', async () => {
  let spout!: ListSpout;
  let cleaned = 0;
  class Sink extends CollectSink {
    cleanup(): void {
      cleaned++;
    }
  }
  const b = new TopologyBuilder();
  b.setSpout('s', () => (spout = new ListSpout(['a', 'b'])), 1);
  b.setBolt('sink', Sink, 2).shuffleGrouping('s');
  const { cluster } = manual();
  const t = await cluster.submitTopology('act', {}, b.createTopology());
  t.deactivate();
  t.runUntilIdle();
  assert.equal(spout.acked.size, 0);
  t.activate();
  t.runUntilIdle();
  assert.equal(spout.acked.size, 2);
  await cluster.killTopology('act');
  assert.equal(cleaned, 2);
  assert.equal(t.status, 'KILLED');
  assert.deepEqual(cluster.list(), []);
});

test('automatic scheduling on the system clock runs a topology to completion by itself', async () => {
  let spout!: ListSpout;
  const b = new TopologyBuilder();
  b.setSpout('s', () => (spout = new ListSpout(sentences, 'sentence')), 2);
  b.setBolt('split', SplitSentence, 2).localOrShuffleGrouping('s');
  b.setBolt('count', WordCount, 2).partialKeyGrouping('split', ['word']);
  const cluster = new LocalCluster();
  const t = await cluster.submitTopology('auto', { 'topology.max.spout.pending': 20 }, b.createTopology());
  const deadline = Date.now() + 20_000;
  while (t.page().spouts[0]!.acked < sentences.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(t.page().spouts[0]!.acked, sentences.length);
  void spout;
  await cluster.shutdown();
});

/** Acks and emits later, from a timer — as a bolt waiting on a store write would. */
class AsyncBolt extends BaseRichBolt {
  private c!: OutputCollector;
  prepare(_c: TopologyConfig, _x: TopologyContext, c: OutputCollector): void {
    this.c = c;
  }
  execute(t: Tuple): void {
    setTimeout(() => {
      this.c.emit(t, [`${String(t.getValue(0))}!`]);
      this.c.ack(t);
    }, 5);
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['v']);
  }
}

test('a bolt that emits and acks from an asynchronous callback gets its tuples delivered and its trees completed', async () => {
  CollectSink.got.length = 0;
  let spout!: ListSpout;
  const b = new TopologyBuilder();
  b.setSpout('s', () => (spout = new ListSpout(['a', 'b', 'c'])), 1);
  b.setBolt('async', AsyncBolt, 1).shuffleGrouping('s');
  b.setBolt('sink', CollectSink, 1).shuffleGrouping('async');
  const cluster = new LocalCluster();
  await cluster.submitTopology('async', {}, b.createTopology());
  const deadline = Date.now() + 10_000;
  while (!spout.done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(spout.done());
  assert.deepEqual(CollectSink.got.map((g) => g.values[0]).sort(), ['a!', 'b!', 'c!']);
  await cluster.shutdown();
});
