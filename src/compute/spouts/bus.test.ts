import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openEmbeddedBus } from '../../bus/embedded/embedded.js';
import type { Bus } from '../../bus/bus.js';
import { BaseBasicBolt, type BasicOutputCollector, type OutputFieldsDeclarer, type SpoutOutputCollector, type TopologyContext } from '../api.js';
import { LocalCluster } from '../runtime/local.js';
import { CollectSink } from '../testkit.js';
import { TopologyBuilder } from '../topology.js';
import type { Tuple } from '../tuple.js';
import { BusMessageId, BusSpout } from './bus.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-busspout-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

async function busWith(records: number, partitions = 1): Promise<Bus> {
  const bus = await openEmbeddedBus(join(root, `bus${++n}`));
  await bus.admin.createTopic('events', { partitions });
  await bus.produce('events', Array.from({ length: records }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })));
  return bus;
}

class FakeCollector implements SpoutOutputCollector {
  emitted: { values: unknown[]; msgId: BusMessageId }[] = [];
  errors: unknown[] = [];
  emit(a: unknown, b?: unknown, c?: unknown): void {
    this.emitted.push({ values: b as unknown[], msgId: c as BusMessageId });
    void a;
  }
  emitDirect(): void {}
  reportError(e: unknown): void {
    this.errors.push(e);
  }
  getPendingCount(): number {
    return 0;
  }
}

/** Calls nextTuple until `count` tuples were emitted in total (polls are asynchronous). */
async function pump(spout: BusSpout, c: FakeCollector, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (c.emitted.length < count) {
    if (Date.now() > deadline) assert.fail(`only ${c.emitted.length} of ${count} emitted`);
    spout.nextTuple();
    await new Promise((r) => setImmediate(r));
  }
}

async function committed(bus: Bus, group: string): Promise<number | null> {
  return (await bus.lag(group)).find((l) => l.partition === 0)?.committed ?? null;
}

test('bus spout commits only the contiguous prefix of acked offsets (out-of-order acks)', async () => {
  const bus = await busWith(10);
  const spout = new BusSpout({ bus, topics: ['events'], group: 'g1', commitIntervalMs: 1e9 });
  const c = new FakeCollector();
  await spout.open({}, {} as TopologyContext, c);
  await pump(spout, c, 10);
  assert.deepEqual(c.emitted[3]!.values, ['events', 0, 3, 'k3', 'v3']);
  const id = (o: number): BusMessageId => c.emitted.find((e) => e.msgId.offset === o)!.msgId;
  for (const o of [1, 2]) spout.ack(id(o));
  await spout.commit();
  assert.equal(await committed(bus, 'g1'), null, 'offset 0 is pending: nothing to commit');
  spout.ack(id(0));
  await spout.commit();
  assert.equal(await committed(bus, 'g1'), 3);
  for (const o of [5, 6, 9]) spout.ack(id(o));
  await spout.commit();
  assert.equal(await committed(bus, 'g1'), 3, '3 and 4 still pending');
  spout.ack(id(4));
  spout.ack(id(3));
  await spout.commit();
  assert.equal(await committed(bus, 'g1'), 7);
  assert.deepEqual(spout.committedOffsets(), { 'events/0': 7 });
  for (const o of [7, 8]) spout.ack(id(o));
  await spout.close();
  assert.equal(await committed(bus, 'g1'), 10, 'close commits what is done');
  await bus.close();
});

test('bus spout retries failed tuples with exponential back-off and gives up after maxRetries', async () => {
  const bus = await busWith(3);
  let now = 1_000;
  const spout = new BusSpout({ bus, topics: ['events'], group: 'g2', commitIntervalMs: 1e9, now: () => now, retry: { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000, maxRetries: 2 } });
  const c = new FakeCollector();
  await spout.open({}, {} as TopologyContext, c);
  await pump(spout, c, 3);
  const one = c.emitted[1]!.msgId;
  spout.ack(c.emitted[0]!.msgId);
  spout.ack(c.emitted[2]!.msgId);
  spout.fail(one);
  now += 99;
  spout.nextTuple();
  assert.equal(c.emitted.length, 3, 'not before the first delay');
  now += 1;
  spout.nextTuple();
  assert.equal(c.emitted.length, 4);
  assert.deepEqual(c.emitted[3]!.values, ['events', 0, 1, 'k1', 'v1']);
  spout.fail(one);
  now += 199;
  spout.nextTuple();
  assert.equal(c.emitted.length, 4, 'the second delay doubles');
  now += 1;
  spout.nextTuple();
  assert.equal(c.emitted.length, 5);
  await spout.commit();
  assert.equal(await committed(bus, 'g2'), 1);
  spout.fail(one); // third failure > maxRetries 2: given up, the commit moves on
  assert.equal(spout.counters.givenUp, 1);
  assert.equal(c.errors.length, 1);
  await spout.commit();
  assert.equal(await committed(bus, 'g2'), 3);
  assert.equal(spout.counters.retried, 2);
  await spout.close();
  await bus.close();
});

test('bus spout stops polling at maxUncommittedOffsets and resumes as acks let the commit point move', async () => {
  const bus = await busWith(40);
  const spout = new BusSpout({ bus, topics: ['events'], group: 'g3', pollRecords: 5, maxUncommittedOffsets: 10, commitIntervalMs: 1e9 });
  const c = new FakeCollector();
  await spout.open({}, {} as TopologyContext, c);
  await pump(spout, c, 10);
  for (let i = 0; i < 50; i++) {
    spout.nextTuple();
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(c.emitted.length, 10, 'no more than maxUncommittedOffsets outstanding');
  assert.equal(spout.uncommitted(), 10);
  spout.ack(c.emitted[1]!.msgId);
  for (let i = 0; i < 20; i++) {
    spout.nextTuple();
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(c.emitted.length, 10, 'an ack above a pending offset frees nothing');
  for (const e of c.emitted) spout.ack(e.msgId);
  await pump(spout, c, 20);
  await spout.close();
  await bus.close();
});

/**
 * A bus whose one partition holds records at the given offsets (gaps allowed, as in a compacted
 * Kafka topic), delivered in polls of `per`; commits are recorded.
 */
function gappedBus(offsets: number[], per = 100): { bus: Bus; commits: number[]; assigned: { topic: string; partition: number }[] } {
  const commits: number[] = [];
  const assigned = [{ topic: 'events', partition: 0 }];
  let pos = 0;
  const records = offsets.map((offset) => ({ topic: 'events', partition: 0, offset, key: null, value: Buffer.from(`v${offset}`), timestamp: 0, headers: {} }));
  const consumer = {
    poll: async () => {
      const batch = records.slice(pos, pos + per);
      pos += batch.length;
      return batch.length ? [{ topic: 'events', partition: 0, records: batch }] : [];
    },
    commit: async (o?: { offset: number }[]) => {
      for (const c of o ?? []) commits.push(c.offset);
    },
    seek: async () => {},
    assignment: () => assigned,
    close: async () => {},
  };
  return { bus: { consumer: async () => consumer } as unknown as Bus, commits, assigned };
}

test('bus spout: gaps between offsets (a compacted topic) do not hold the commit back', async () => {
  const { bus, commits } = gappedBus([0, 1, 5, 6, 9]);
  const spout = new BusSpout({ bus, topics: ['events'], group: 'gap', commitIntervalMs: 1e9 });
  const c = new FakeCollector();
  await spout.open({}, {} as TopologyContext, c);
  await pump(spout, c, 5);
  const id = (o: number): BusMessageId => c.emitted.find((e) => e.msgId.offset === o)!.msgId;
  spout.ack(id(0));
  spout.ack(id(1));
  await spout.commit();
  assert.deepEqual(commits, [5], 'the next record to process is at 5; 2–4 do not exist');
  spout.ack(id(6));
  spout.ack(id(5));
  await spout.commit();
  assert.equal(commits.at(-1), 9);
  assert.equal(spout.uncommitted(), 1);
  spout.ack(id(9));
  await spout.commit();
  assert.equal(commits.at(-1), 10, 'everything polled is done');
  assert.equal(spout.uncommitted(), 0);
  await spout.close();
});

test('bus spout: with thousands in flight, a failed record is replayed from the spout\'s copy and the commit waits for it', async () => {
  const offsets = Array.from({ length: 3000 }, (_, i) => i * 2);
  const { bus, commits } = gappedBus(offsets, 500);
  let now = 0;
  const spout = new BusSpout({ bus, topics: ['events'], group: 'many', commitIntervalMs: 1e9, maxUncommittedOffsets: 1e6, now: () => now, retry: { initialDelayMs: 10 } });
  const c = new FakeCollector();
  await spout.open({}, {} as TopologyContext, c);
  await pump(spout, c, 3000);
  const failed = c.emitted[1234]!.msgId;
  assert.equal(failed.offset, 2468);
  for (const e of c.emitted) if (e.msgId !== failed) spout.ack(e.msgId);
  spout.fail(failed);
  await spout.commit();
  assert.equal(commits.at(-1), 2468, 'committed up to the failed record');
  now += 10;
  spout.nextTuple();
  const replay = c.emitted.at(-1)!;
  assert.equal(c.emitted.length, 3001);
  assert.deepEqual(replay.values, ['events', 0, 2468, null, 'v2468']);
  spout.ack(replay.msgId);
  spout.ack(failed); // a late ack of the first attempt is harmless
  await spout.commit();
  assert.equal(commits.at(-1), 5999);
  assert.equal(spout.uncommitted(), 0);
  await spout.close();
});

test('bus spout: a record whose emit throws is given up and reported, and the commit moves past it', async () => {
  const { bus, commits } = gappedBus([0, 1, 2, 3, 4]);
  const spout = new BusSpout({ bus, topics: ['events'], group: 'throws', commitIntervalMs: 1e9 });
  const c = new FakeCollector();
  const emit = c.emit.bind(c);
  c.emit = (a, b, cc) => {
    if ((cc as BusMessageId).offset === 2) throw new Error('cannot decode');
    emit(a, b, cc);
  };
  await spout.open({}, {} as TopologyContext, c);
  await pump(spout, c, 4);
  assert.equal(spout.counters.givenUp, 1);
  assert.match(String(c.errors[0]), /events-0@2 could not be emitted; given up: cannot decode/);
  for (const e of c.emitted) spout.ack(e.msgId);
  await spout.commit();
  assert.equal(commits.at(-1), 5);
  await spout.close();
});

test('bus spout: retries of a partition that moved away are dropped, however many', async () => {
  const { bus, assigned } = gappedBus(Array.from({ length: 20_000 }, (_, i) => i), 20_000);
  let now = 0;
  const spout = new BusSpout({ bus, topics: ['events'], group: 'moved', commitIntervalMs: 1e9, maxUncommittedOffsets: 1e6, pollRecords: 20_000, now: () => now, retry: { initialDelayMs: 10 } });
  const c = new FakeCollector();
  await spout.open({}, {} as TopologyContext, c);
  await pump(spout, c, 20_000);
  for (const e of c.emitted) spout.fail(e.msgId);
  assigned.length = 0; // a rebalance takes the partition away; the next poll notices
  spout.nextTuple();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(spout.uncommitted(), 0, 'the moved partition is no longer tracked');
  now += 10;
  spout.nextTuple();
  assert.equal(c.emitted.length, 20_000, 'nothing of the moved partition is replayed here');
  assert.equal(spout.counters.retried, 0);
  await spout.close();
});

class FailFirst extends BaseBasicBolt {
  static seen = new Set<string>();
  execute(t: Tuple, c: BasicOutputCollector): void {
    const v = t.getStringByField('value');
    if (Number(v.slice(1)) % 7 === 0 && !FailFirst.seen.has(v)) {
      FailFirst.seen.add(v);
      throw new Error(`first attempt at ${v} fails`);
    }
    c.emit([v]);
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['value']);
  }
}

test('a topology reading the bus processes every record, replaying failed ones, and commits to the end', async () => {
  const bus = await busWith(0, 3);
  await bus.produce('events', Array.from({ length: 90 }, (_, i) => ({ key: Buffer.from(`k${i % 10}`), value: Buffer.from(`v${i}`) })));
  CollectSink.got.length = 0;
  FailFirst.seen.clear();
  const b = new TopologyBuilder();
  b.setSpout('bus', () => new BusSpout({ bus, topics: ['events'], group: 'etl', commitIntervalMs: 50, retry: { initialDelayMs: 10 } }), 2);
  b.setBolt('etl', FailFirst, 2).shuffleGrouping('bus');
  b.setBolt('sink', CollectSink, 1).shuffleGrouping('etl');
  const cluster = new LocalCluster();
  const t = await cluster.submitTopology('bus-etl', {}, b.createTopology());
  const deadline = Date.now() + 20_000;
  while (t.page().spouts[0]!.acked < 90 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await cluster.shutdown();
  assert.equal(t.page().spouts[0]!.acked, 90);
  assert.equal(t.page().spouts[0]!.failed, 13, 'v0, v7, … v84 failed once each');
  assert.deepEqual(new Set(CollectSink.got.map((g) => g.values[0])).size, 90);
  const lag = await bus.lag('etl');
  assert.deepEqual(lag.map((l) => l.lag), [0, 0, 0]);
  await bus.close();
});

test('spout tasks given a bus URL share one opened embedded log and close it with the last task', async () => {
  const dir = join(root, 'by-url');
  const seed = await openEmbeddedBus(dir);
  await seed.admin.createTopic('events', { partitions: 2 });
  await seed.produce('events', Array.from({ length: 20 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })));
  await seed.close();
  CollectSink.got.length = 0;
  const b = new TopologyBuilder();
  b.setSpout('bus', new BusSpout({ bus: dir, topics: ['events'], group: 'url', commitIntervalMs: 20 }), 2);
  b.setBolt('sink', CollectSink, 1).shuffleGrouping('bus');
  const cluster = new LocalCluster();
  const t = await cluster.submitTopology('by-url', {}, b.createTopology());
  const deadline = Date.now() + 20_000;
  while (t.page().spouts[0]!.acked < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await cluster.shutdown();
  assert.equal(CollectSink.got.length, 20);
  const again = await openEmbeddedBus(dir); // the lock was released
  assert.deepEqual((await again.lag('url')).map((l) => l.lag), [0, 0]);
  await again.close();
});

test('bus spout in batch mode: one tuple per partition per poll, acked, failed and retried as one, commits by record', async () => {
  const bus = await busWith(50, 2);
  let now = 1_000;
  const spout = new BusSpout({ bus, topics: ['events'], group: 'gb', batch: true, encoding: 'buffer', pollRecords: 20, commitIntervalMs: 1e9, now: () => now, retry: { initialDelayMs: 100, maxRetries: 1 } });
  const c = new FakeCollector();
  await spout.open({}, {} as TopologyContext, c);
  const values = (e: { values: unknown[] }) => (e.values[3] as Buffer[]).map((b) => b.toString());
  const all = () => c.emitted.flatMap((e) => e.values[2] as number[]).length;
  while (all() < 50) await pump(spout, c, c.emitted.length + 1);
  for (const e of c.emitted) {
    const [topic, partition, offsets] = e.values as [string, number, number[]];
    assert.equal(topic, 'events');
    assert.ok(offsets.length >= 1 && offsets.length <= 20, `${offsets.length} records in one tuple`);
    assert.deepEqual(offsets, offsets.map((_, i) => offsets[0]! + i));
    assert.equal(e.msgId.partition, partition);
    assert.equal((e.msgId as unknown as { offsets: number[] }).offsets, offsets);
  }
  const emitted = c.emitted.length;
  assert.equal(spout.counters.emitted, 50, 'records are counted');
  assert.equal((c.emitted[0]!.msgId as unknown as { seqKey?: unknown }).seqKey, undefined, 'a batch id is not sequenced: a replay may group records differently');
  assert.equal(spout.uncommitted(), 50);
  // ack every batch but the first of partition 0; fail that one
  const first = c.emitted.find((e) => e.msgId.partition === 0)!;
  for (const e of c.emitted) if (e !== first) spout.ack(e.msgId);
  await spout.commit();
  const lag = await bus.lag('gb');
  assert.equal(lag.find((l) => l.partition === 0)?.committed ?? null, null, 'the failed batch holds partition 0 back');
  const p1 = lag.find((l) => l.partition === 1)!;
  assert.equal(p1.committed, p1.latest, 'partition 1 is committed record by record up to its end');
  spout.fail(first.msgId);
  now += 100;
  spout.nextTuple();
  assert.equal(c.emitted.length, emitted + 1);
  const again = c.emitted[emitted]!;
  assert.deepEqual({ offsets: again.values[2], values: values(again) }, { offsets: first.values[2], values: values(first) }, 'the same batch again');
  assert.equal(spout.counters.retried, 1);
  spout.fail(again.msgId);
  assert.equal(spout.counters.givenUp, (first.values[2] as number[]).length, 'giving a batch up counts its records');
  await spout.commit();
  const p0 = (await bus.lag('gb')).find((l) => l.partition === 0)!;
  assert.equal(p0.committed, p0.latest);
  assert.equal(spout.uncommitted(), 0);
  await spout.close();
  await bus.close();
});

test('bus spout in batch mode gives a batch up whole when its emit throws, and commits past it', async () => {
  const bus = await busWith(30, 1);
  const spout = new BusSpout({ bus, topics: ['events'], group: 'gt', batch: true, pollRecords: 10, commitIntervalMs: 1e9 });
  const c = new FakeCollector();
  let throws = true;
  const emit = c.emit.bind(c);
  c.emit = (a: unknown, b?: unknown, d?: unknown) => {
    if (throws) {
      throws = false;
      throw new Error('cannot route');
    }
    emit(a, b, d);
  };
  await spout.open({}, {} as TopologyContext, c);
  const deadline = Date.now() + 10_000;
  while (spout.counters.emitted + spout.counters.givenUp < 30 && Date.now() < deadline) {
    spout.nextTuple();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(spout.counters.givenUp, 10);
  assert.equal(spout.counters.emitted, 20);
  assert.match(String(c.errors[0]), /events-0@0\.\.9 could not be emitted; given up: cannot route/);
  for (const e of c.emitted) spout.ack(e.msgId);
  await spout.commit();
  assert.equal(await committed(bus, 'gt'), 30);
  await spout.close();
  await bus.close();
});

test('bus spout in batch mode: a replayed batch carries the same values, whatever buffers they were views of', async () => {
  // values that are views of several buffers, in runs and alternating, with text outside ASCII
  const shared = Buffer.from('aa|bé|cc|dd');
  const big = Buffer.alloc(10_000, 'z');
  const { bus } = gappedBus([0, 1, 2, 3, 4, 5], 6);
  const consumer = await bus.consumer('g', ['events']);
  const views = [shared.subarray(0, 2), shared.subarray(3, 6), big.subarray(0, 5000), shared.subarray(7, 9), Buffer.from('own'), big.subarray(5000)];
  const polled = await consumer.poll(6, 0);
  polled[0]!.records.forEach((r, i) => (r.value = views[i]!));
  const once = async () => [{ topic: 'events', partition: 0, records: polled[0]!.records }];
  let first = true;
  consumer.poll = async () => (first ? ((first = false), once()) : []);
  for (const encoding of ['buffer', 'utf8'] as const) {
    first = true;
    let now = 0;
    const spout = new BusSpout({ bus: { consumer: async () => consumer } as unknown as Bus, topics: ['events'], group: 'g', batch: true, encoding, now: () => now, retry: { initialDelayMs: 10 } });
    const c = new FakeCollector();
    await spout.open({}, {} as TopologyContext, c);
    await pump(spout, c, 1);
    spout.fail(c.emitted[0]!.msgId);
    now += 10;
    spout.nextTuple();
    assert.equal(c.emitted.length, 2);
    const [a, b] = c.emitted.map((e) => e.values[3] as unknown[]);
    assert.deepEqual(b, a, `${encoding}: the replay's values`);
    const want = views.map((v) => (encoding === 'utf8' ? v.toString('utf8') : v));
    assert.deepEqual(b, want);
    await spout.close();
  }
});
