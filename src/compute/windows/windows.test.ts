import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { BaseRichBolt, BaseRichSpout, type OutputCollector, type OutputFieldsDeclarer, type SpoutOutputCollector, type TopologyConfig, type TopologyContext } from '../api.js';
import { SimClock } from '../runtime/clock.js';
import type { BoltTask } from '../runtime/executor.js';
import { LocalCluster, type LocalTopology } from '../runtime/local.js';
import { TopologyBuilder } from '../topology.js';
import type { Tuple } from '../tuple.js';
import { BaseWindowedBolt, type TupleWindow } from './bolt.js';
import { Count, Duration } from './config.js';
import type { WindowedBoltExecutor } from './executor.js';

/** Emits what a test queued, (v, ts) with a msgId; records acks and fails. */
class FeedSpout extends BaseRichSpout {
  readonly queue: [unknown, number][] = [];
  readonly acked = new Set<number>();
  readonly failed: number[] = [];
  readonly byId = new Map<number, unknown>();
  private c!: SpoutOutputCollector;
  private seq = 0;
  open(_conf: TopologyConfig, _ctx: TopologyContext, c: SpoutOutputCollector): void {
    this.c = c;
  }
  nextTuple(): void {
    const item = this.queue.shift();
    if (!item) return;
    const id = ++this.seq;
    this.byId.set(id, item[0]);
    this.c.emit([item[0], item[1]], id);
  }
  override ack(id: unknown): void {
    this.acked.add(id as number);
  }
  override fail(id: unknown): void {
    this.failed.push(id as number);
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['v', 'ts']);
  }
  ackedValues(): unknown[] {
    return [...this.acked].map((id) => this.byId.get(id));
  }
}

interface Fired {
  all: unknown[];
  fresh: unknown[];
  expired: unknown[];
  start: number | null;
  end: number;
}

class RecordingBolt extends BaseWindowedBolt {
  readonly fired: Fired[] = [];
  private c!: OutputCollector;
  prepare(_conf: TopologyConfig, _ctx: TopologyContext, c: OutputCollector): void {
    this.c = c;
  }
  execute(w: TupleWindow): void {
    const vals = (ts: Tuple[]): unknown[] => ts.map((t) => t.getValue(0));
    this.fired.push({ all: vals(w.get()), fresh: vals(w.getNew()), expired: vals(w.getExpired()), start: w.getStartTimestamp(), end: w.getEndTimestamp() });
    this.c.emit([w.get().length]);
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['n']);
  }
}

class LateSink extends BaseRichBolt {
  readonly got: unknown[] = [];
  private c!: OutputCollector;
  prepare(_conf: TopologyConfig, _ctx: TopologyContext, c: OutputCollector): void {
    this.c = c;
  }
  execute(t: Tuple): void {
    this.got.push((t.getValue(0) as Tuple).getValue(0));
    this.c.ack(t);
  }
  declareOutputFields(): void {}
}

interface Rig {
  clock: SimClock;
  topo: LocalTopology;
  spouts: FeedSpout[];
  bolt: RecordingBolt;
  late: LateSink;
  exec: WindowedBoltExecutor;
  /** Queues items on a spout task and runs the topology until idle. */
  feed(items: [unknown, number][], task?: number): void;
  /** Advances the simulated clock and runs until idle. */
  advance(ms: number): void;
}

async function rig(configure: (b: RecordingBolt) => RecordingBolt, spoutTasks = 1, conf: TopologyConfig = {}, lateStream?: string): Promise<Rig> {
  const clock = new SimClock();
  const cluster = new LocalCluster({ clock, manual: true });
  const spouts: FeedSpout[] = [];
  const bolt = configure(new RecordingBolt());
  const late = new LateSink();
  const b = new TopologyBuilder();
  b.setSpout('feed', () => {
    const s = new FeedSpout();
    spouts.push(s);
    return s;
  }, spoutTasks);
  b.setBolt('win', () => bolt, 1).globalGrouping('feed');
  if (lateStream) b.setBolt('late', () => late, 1).globalGrouping('win', lateStream);
  const topo = await cluster.submitTopology(`w${Math.random()}`, conf, b.createTopology());
  // the builder made sample instances while describing; the last spouts are the tasks'
  spouts.splice(0, spouts.length - spoutTasks);
  const exec = (topo.tasks.find((t) => t.component === 'win') as BoltTask).bolt as unknown as WindowedBoltExecutor;
  return {
    clock,
    topo,
    spouts,
    bolt,
    late,
    exec,
    feed(items, task = 0) {
      spouts[task]!.queue.push(...items);
      topo.runUntilIdle();
    },
    advance(ms) {
      clock.advance(ms);
      topo.runUntilIdle();
    },
  };
}

const items = (vs: number[], ts = 0): [unknown, number][] => vs.map((v) => [v, ts]);

test('count tumbling window: fires every n tuples; tuples are acked once evaluated (no later window holds them)', async () => {
  const r = await rig((b) => b.withTumblingWindow(Count.of(3)));
  r.feed(items([1, 2, 3, 4, 5, 6, 7]));
  assert.deepEqual(r.bolt.fired.map((f) => f.all), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(r.bolt.fired[1]!.fresh, [4, 5, 6]);
  assert.deepEqual(r.bolt.fired[1]!.expired, [1, 2, 3]);
  assert.equal(r.bolt.fired[0]!.start, null);
  assert.deepEqual(r.spouts[0]!.ackedValues().sort(), [1, 2, 3, 4, 5, 6], '7 waits for its window');
  await r.topo.kill();
});

test('count sliding window: the last length tuples every slide; a tuple is acked when it leaves its last window', async () => {
  const r = await rig((b) => b.withWindow(Count.of(4), Count.of(2)));
  r.feed(items([1, 2, 3, 4, 5, 6]));
  assert.deepEqual(r.bolt.fired.map((f) => f.all), [[1, 2], [1, 2, 3, 4], [3, 4, 5, 6]]);
  assert.deepEqual(r.bolt.fired.map((f) => f.fresh), [[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(r.bolt.fired.map((f) => f.expired), [[], [], [1, 2]]);
  assert.deepEqual(r.spouts[0]!.ackedValues().sort(), [1, 2, 3, 4], '5 and 6 are still in the next window');
  await r.topo.kill();
});

test('duration tumbling window in simulated processing time: fires every length ms, acks at the next evaluation', async () => {
  const r = await rig((b) => b.withTumblingWindow(Duration.seconds(1)));
  r.feed(items([1, 2]));
  r.advance(500);
  r.feed(items([3]));
  r.advance(499);
  assert.equal(r.bolt.fired.length, 0);
  r.advance(1);
  assert.deepEqual(r.bolt.fired.map((f) => [f.all, f.start, f.end]), [[[1, 2, 3], 0, 1000]]);
  r.feed(items([4])); // arrives at 1000, after that evaluation: next window
  r.advance(1000);
  assert.deepEqual(r.bolt.fired[1], { all: [4], fresh: [4], expired: [1, 2, 3], start: 1000, end: 2000 });
  assert.deepEqual(r.spouts[0]!.ackedValues().sort(), [1, 2, 3]);
  r.advance(1000);
  assert.deepEqual(r.bolt.fired[2]!.expired, [4]);
  assert.deepEqual(r.spouts[0]!.ackedValues().sort(), [1, 2, 3, 4]);
  await r.topo.kill();
});

test('duration sliding window in simulated processing time: (now - length, now] every slide', async () => {
  const r = await rig((b) => b.withWindow(Duration.seconds(2), Duration.seconds(1)));
  r.advance(100);
  r.feed(items([1]));
  r.advance(400);
  r.feed(items([2]));
  r.advance(1000);
  r.feed(items([3]));
  r.advance(500); // t = 2000
  r.advance(1000); // t = 3000
  r.advance(1000); // t = 4000
  assert.deepEqual(
    r.bolt.fired.map((f) => [f.end, f.all, f.fresh, f.expired]),
    [
      [1000, [1, 2], [1, 2], []],
      [2000, [1, 2, 3], [3], []],
      [3000, [3], [], [1, 2]],
      [4000, [], [], [3]],
    ],
  );
  assert.equal(r.spouts[0]!.acked.size, 3);
  assert.equal(r.spouts[0]!.failed.length, 0);
  await r.topo.kill();
});

test('event time: out-of-order tuples within the lag land in their window, in event-time order; late ones go to the late stream', async () => {
  const r = await rig((b) => b.withTumblingWindow(Duration.seconds(1)).withTimestampField('ts').withLag(Duration.of(500)).withWatermarkInterval(Duration.of(100)).withLateTupleStream('late'), 1, {}, 'late');
  r.feed([['a', 100], ['b', 300], ['c', 1200], ['d', 200]]);
  r.advance(100); // watermark 700: no window ends by then
  assert.equal(r.bolt.fired.length, 0);
  assert.equal(r.exec.counters.watermark, 700);
  r.feed([['e', 1600]]);
  r.advance(100); // watermark 1100
  assert.deepEqual(r.bolt.fired.map((f) => [f.start, f.end, f.all]), [[0, 1000, ['a', 'd', 'b']]]);
  r.feed([['late', 50]]);
  assert.deepEqual(r.late.got, ['late']);
  assert.equal(r.exec.counters.late, 1);
  r.feed([['f', 2600]]);
  r.advance(100); // watermark 2100
  assert.deepEqual(r.bolt.fired[1], { all: ['c', 'e'], fresh: ['c', 'e'], expired: ['a', 'd', 'b'], start: 1000, end: 2000 });
  assert.deepEqual(r.spouts[0]!.ackedValues().sort(), ['a', 'b', 'c', 'd', 'e', 'late']);
  await r.topo.kill();
});

test('event time count window: tuples are counted in event-time order as the watermark passes them', async () => {
  const r = await rig((b) => b.withTumblingWindow(Count.of(2)).withTimestampField('ts').withWatermarkInterval(Duration.of(100)));
  r.feed([['c', 300], ['a', 100], ['b', 200], ['e', 500], ['d', 400]]);
  r.advance(100); // watermark 500
  assert.deepEqual(r.bolt.fired.map((f) => [f.all, f.end]), [[['a', 'b'], 500], [['c', 'd'], 500]]);
  assert.equal(r.exec.counters.held, 1, 'e waits for a second tuple');
  await r.topo.kill();
});

test('event time sliding: windows end at multiples of the slide; empty stretches are skipped', async () => {
  const r = await rig((b) => b.withWindow(Duration.of(2000), Duration.of(1000)).withTimestampField('ts').withWatermarkInterval(Duration.of(100)));
  r.feed([['a', 500], ['b', 1500], ['c', 9500]]);
  r.advance(100); // watermark 9500
  assert.deepEqual(r.bolt.fired.map((f) => [f.start, f.end, f.all]), [[-1000, 1000, ['a']], [0, 2000, ['a', 'b']], [1000, 3000, ['b']]]);
  r.feed([['d', 12000]]);
  r.advance(100); // watermark 12000
  assert.deepEqual(
    r.bolt.fired.slice(3).map((f) => [f.end, f.all, f.expired]),
    [
      [10000, ['c'], ['b']],
      [11000, ['c'], []],
      [12000, ['d'], ['c']],
    ],
  );
  assert.deepEqual(r.spouts[0]!.ackedValues().sort(), ['a', 'b', 'c']);
  await r.topo.kill();
});

test('event time: the watermark is the minimum over input tasks; an idle input stops holding it back; its later tuples are late', async () => {
  const r = await rig((b) => b.withTumblingWindow(Duration.of(1000)).withTimestampField('ts').withWatermarkInterval(Duration.of(100)).withIdleInputTimeout(Duration.of(2000)), 2);
  r.feed([['a1', 5000]], 0);
  r.feed([['b1', 1000]], 1);
  r.advance(100);
  assert.equal(r.exec.counters.watermark, 1000, 'min(5000, 1000)');
  assert.deepEqual(r.bolt.fired.map((f) => [f.end, f.all]), [[1000, ['b1']]]);
  r.feed([['b2', 3000]], 1);
  r.advance(100);
  assert.equal(r.exec.counters.watermark, 3000);
  assert.deepEqual(r.bolt.fired.map((f) => [f.end, f.all]), [[1000, ['b1']], [3000, ['b2']]]);
  // task 1 goes quiet; task 0 keeps sending: once task 1 has been idle 2 s it no longer holds the watermark
  r.advance(1000);
  r.feed([['a2', 8000]], 0);
  r.advance(700); // t = 1900: task 1 last spoke at 200
  assert.equal(r.exec.counters.watermark, 3000);
  r.advance(400); // t = 2300
  assert.equal(r.exec.counters.watermark, 8000);
  assert.deepEqual(r.bolt.fired.map((f) => f.end), [1000, 3000, 5000, 8000]);
  r.feed([['b3', 4000]], 1);
  assert.equal(r.exec.counters.late, 1);
  assert.equal(r.exec.counters.lateDropped, 1, 'no late stream declared: counted and acked');
  assert.ok(r.spouts[1]!.ackedValues().includes('b3'));
  await r.topo.kill();
});

test('a windowed bolt holds at most topology.bolts.window.max.tuples tuples: more inputs are failed with MON_ERR_WINDOW_FULL', async () => {
  const r = await rig((b) => b.withTumblingWindow(Duration.seconds(1)).withMaxTuples(3));
  r.feed(items([1, 2, 3, 4, 5]));
  assert.equal(r.exec.counters.rejected, 2);
  assert.equal(r.spouts[0]!.failed.length, 2);
  const task = r.topo.tasks.find((t) => t.component === 'win')!;
  assert.match(task.stats.lastError!.error, /MON_ERR_WINDOW_FULL|max\.tuples/);
  r.advance(1000);
  assert.deepEqual(r.bolt.fired[0]!.all, [1, 2, 3]);
  await r.topo.kill();
});

test('a message timeout not above window length + slide is refused at submit, naming the component (Storm rule)', async () => {
  const b = new TopologyBuilder();
  b.setSpout('feed', FeedSpout);
  b.setBolt('slow-window', () => new RecordingBolt().withWindow(Duration.seconds(20), Duration.seconds(10)), 1).shuffleGrouping('feed');
  const cluster = new LocalCluster({ clock: new SimClock(), manual: true });
  await assert.rejects(
    cluster.submitTopology('t', { 'topology.message.timeout.secs': 30 }, b.createTopology()),
    (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.WINDOW_INVALID && /slow-window/.test(e.message) && /topology\.message\.timeout\.secs/.test(e.message),
  );
  const ok = await cluster.submitTopology('t2', { 'topology.message.timeout.secs': 31 }, b.createTopology());
  await ok.kill();
});

class FailAll extends BaseRichBolt {
  private c!: OutputCollector;
  prepare(_conf: TopologyConfig, _ctx: TopologyContext, c: OutputCollector): void {
    this.c = c;
  }
  execute(t: Tuple): void {
    this.c.fail(t);
  }
  declareOutputFields(): void {}
}

test('emits made while a window is evaluated are anchored to its tuples: a downstream failure fails them at the spout', async () => {
  const clock = new SimClock();
  let spout!: FeedSpout;
  const b = new TopologyBuilder();
  b.setSpout('feed', () => (spout = new FeedSpout()), 1);
  b.setBolt('win', () => new RecordingBolt().withTumblingWindow(Count.of(3)), 1).globalGrouping('feed');
  b.setBolt('fail', FailAll, 1).shuffleGrouping('win');
  const topo = await new LocalCluster({ clock, manual: true }).submitTopology('anchored', {}, b.createTopology());
  spout.queue.push([1, 0], [2, 0], [3, 0], [4, 0]);
  topo.runUntilIdle();
  assert.deepEqual(spout.failed.sort(), [1, 2, 3]);
  assert.equal(spout.acked.size, 0, 'the window acked its tuples, but the anchored emit failed their trees');
  await topo.kill();
});
