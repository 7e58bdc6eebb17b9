import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { Bus, BusRecord, ConsumedRecord, Consumer, ProducedOffset } from './bus.js';

/**
 * The Bus contract's conformance suite. Every bus implementation runs it from its own test file
 * (embedded, Kafka, NATS JetStream, Redis Streams). Topic and group names are unique per test so the
 * suite can share one external server. Durable buses provide `reopen` for the restart checks.
 */
export interface BusUnderTest {
  bus: Bus;
  /** Closes the bus and opens a new instance on the same storage/server. */
  reopen?: () => Promise<Bus>;
  cleanup: () => Promise<void>;
}

export type BusFactory = () => Promise<BusUnderTest>;

let seq = 0;
const unique = (what: string) => `${what}-${process.pid}-${++seq}-${randomBytes(3).toString('hex')}`;
const rec = (value: string, key?: string, extra: Partial<BusRecord> = {}): BusRecord => ({ value: Buffer.from(value), key: key === undefined ? null : Buffer.from(key), ...extra });
const isCode = (code: string) => (e: unknown) => e instanceof MonsoonError && e.code === code;

/** Polls until `n` records arrived (or the consumer stays empty for `idleMs`); returns them. */
export async function drain(c: Consumer, n: number, idleMs = 2000, batch = 5000): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  while (out.length < n) {
    const got = await c.poll(Math.min(batch, n - out.length), idleMs);
    if (got.length === 0) break;
    for (const b of got) out.push(...b.records);
  }
  return out;
}

/** Polls until `cond` holds; each round polls once and hands what arrived to `sink`. */
export async function pollUntil(cs: Consumer[], cond: () => boolean, what: string, sink: (r: ConsumedRecord) => void = () => {}): Promise<void> {
  const end = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    for (const c of cs) for (const b of await c.poll(100, 20)) b.records.forEach(sink);
  }
}

async function withBus(factory: BusFactory, fn: (u: BusUnderTest) => Promise<void>): Promise<void> {
  const u = await factory();
  try {
    await fn(u);
  } finally {
    await u.cleanup();
  }
}

// Kafka's published murmur2 values (UtilsTest.testMurmur2); the partition is toPositive(h) % n.
const KNOWN_KEYS: Array<[string, number]> = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['abc', 479470107],
];

export function busConformance(label: string, factory: BusFactory, opts: { durable: boolean; concurrency?: number }): void {
  // Every case uses its own topics and groups, so a bus whose waits are the server's (a group
  // coordinator's rebalance delay) may run several at once.
  describe(`Bus conformance: ${label}`, { concurrency: opts.concurrency ?? 1 }, () => {
    it('keeps order within a partition and returns every field intact', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('order');
        await bus.admin.createTopic(t, { partitions: 3 });
        const produced: ProducedOffset[] = [];
        for (let b = 0; b < 3; b++) {
          const batch = Array.from({ length: 50 }, (_, i) => rec(`v${b * 50 + i}`, `key-${i % 5}`, { headers: { n: String(b * 50 + i), 'h-ä': 'ü' }, timestamp: 1_700_000_000_000 + b }));
          produced.push(...(await bus.produce(t, batch)));
        }
        const byPart = new Map<number, number[]>();
        for (const [i, o] of produced.entries()) byPart.set(o.partition, [...(byPart.get(o.partition) ?? []), i]);
        for (const idx of byPart.values()) assert.deepEqual(idx.map((i) => produced[i]!.offset), idx.map((_, k) => k), 'offsets are 0.. in produce order');
        const c = await bus.consumer(unique('g'), [t], { from: 'earliest' });
        const got = await drain(c, 150);
        assert.equal(got.length, 150);
        for (const r of got) {
          const n = Number(r.headers.n);
          assert.equal(r.value.toString(), `v${n}`);
          assert.equal(r.key!.toString(), `key-${n % 5}`);
          assert.equal(r.headers['h-ä'], 'ü');
          assert.equal(r.timestamp, 1_700_000_000_000 + Math.floor(n / 50));
          assert.deepEqual({ partition: r.partition, offset: r.offset }, produced[n]);
        }
        for (const [p, idx] of byPart) {
          assert.deepEqual(got.filter((r) => r.partition === p).map((r) => Number(r.headers.n)), idx, `partition ${p} in produce order`);
        }
        await c.close();
      });
    });

    it('maps a key to the partition a Kafka client chooses, the same every time', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('keys');
        await bus.admin.createTopic(t, { partitions: 7 });
        for (const [key, hash] of KNOWN_KEYS) {
          const want = (hash & 0x7fffffff) % 7;
          const [a, b] = [await bus.produce(t, [rec('x', key)]), await bus.produce(t, [rec('y', key), rec('z', key)])];
          assert.equal(a[0]!.partition, want, `key ${key}`);
          assert.deepEqual(b.map((o) => o.partition), [want, want], `key ${key} again`);
        }
      });
    });

    it('writes a record that names its partition there, over its key, and refuses a partition that does not exist', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('explicit');
        await bus.admin.createTopic(t, { partitions: 3 });
        const [key] = KNOWN_KEYS[0]!;
        const got = await bus.produce(t, [rec('a', key, { partition: 2 }), rec('b', undefined, { partition: 0 }), rec('c', undefined, { partition: 2 })]);
        assert.deepEqual(got.map((o) => o.partition), [2, 0, 2]);
        await assert.rejects(bus.produce(t, [rec('ok'), rec('bad', undefined, { partition: 3 })]), (e: unknown) => (e as { code?: string }).code === 'MON_ERR_BUS_INVALID_ARGUMENT');
        const d = await bus.admin.describeTopic(t);
        assert.equal(d.partitions.reduce((n, p) => n + p.latest, 0), 3, 'the refused batch wrote nothing');
      });
    });

    it('round-trips large records and empty values', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('large');
        await bus.admin.createTopic(t, { partitions: 1 });
        const big = randomBytes(1_000_000);
        await bus.produce(t, [rec('before'), { value: big, key: Buffer.from('k') }, { value: Buffer.alloc(0) }, rec('after')]);
        const got = await drain(await bus.consumer(unique('g'), [t], { from: 'earliest' }), 4);
        assert.equal(got.length, 4);
        assert.equal(got[0]!.value.toString(), 'before');
        assert.ok(got[1]!.value.equals(big), 'the 1 MB record is intact');
        assert.equal(got[2]!.value.length, 0);
        assert.equal(got[3]!.value.toString(), 'after');
      });
    });

    it('accepts an empty batch, and an empty topic polls empty', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('empty');
        await bus.admin.createTopic(t, { partitions: 2 });
        assert.deepEqual(await bus.produce(t, []), []);
        const c = await bus.consumer(unique('g'), [t], { from: 'earliest' });
        assert.deepEqual(await c.poll(10, 50), []);
        assert.deepEqual((await bus.admin.describeTopic(t)).partitions.map((p) => p.latest), [0, 0]);
        await bus.produce(t, [rec('one')]);
        assert.equal((await drain(c, 1)).length, 1);
      });
    });

    it('rejects invalid names, partition counts and unknown topics with coded errors', async () => {
      await withBus(factory, async ({ bus }) => {
        for (const bad of ['', '.', '..', 'has space', 'a/b', 'é', 'x'.repeat(250)]) {
          await assert.rejects(bus.admin.createTopic(bad, { partitions: 1 }), isCode(ErrorCodes.BUS_INVALID_NAME), JSON.stringify(bad));
        }
        for (const partitions of [0, -1, 1.5]) {
          await assert.rejects(bus.admin.createTopic(unique('p'), { partitions }), isCode(ErrorCodes.BUS_INVALID_ARGUMENT), String(partitions));
        }
        const longest = `${unique('n')}-`.padEnd(249, 'x');
        await bus.admin.createTopic(longest, { partitions: 1 });
        await assert.rejects(bus.admin.createTopic(longest, { partitions: 1 }), isCode(ErrorCodes.BUS_TOPIC_EXISTS));
        const missing = unique('missing');
        await assert.rejects(bus.produce(missing, [rec('x')]), isCode(ErrorCodes.BUS_UNKNOWN_TOPIC));
        await assert.rejects(bus.produce(missing, []), isCode(ErrorCodes.BUS_UNKNOWN_TOPIC), 'an empty batch checks the topic too');
        await assert.rejects(bus.admin.describeTopic(missing), isCode(ErrorCodes.BUS_UNKNOWN_TOPIC));
        await assert.rejects(bus.consumer('bad group', [longest]), isCode(ErrorCodes.BUS_INVALID_NAME));
      });
    });

    it('creates, describes, lists and deletes topics', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('admin');
        await bus.admin.createTopic(t, { partitions: 4, retentionMs: 3_600_000, retentionBytes: 1 << 30 });
        await bus.produce(t, [rec('a', 'foobar')]);
        const d = await bus.admin.describeTopic(t);
        assert.equal(d.name, t);
        assert.equal(d.retentionMs, 3_600_000);
        assert.equal(d.retentionBytes, 1 << 30);
        assert.deepEqual(d.partitions.map((p) => p.partition), [0, 1, 2, 3]);
        assert.equal(d.partitions.reduce((n, p) => n + p.latest - p.earliest, 0), 1);
        assert.ok((await bus.admin.listTopics()).includes(t));
        await bus.admin.deleteTopic(t);
        assert.ok(!(await bus.admin.listTopics()).includes(t));
        await assert.rejects(bus.admin.describeTopic(t), isCode(ErrorCodes.BUS_UNKNOWN_TOPIC));
        await assert.rejects(bus.admin.deleteTopic(t), isCode(ErrorCodes.BUS_UNKNOWN_TOPIC));
      });
    });

    it('redelivers from the committed offset after a consumer goes away without committing', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('crash');
        const g = unique('g');
        await bus.admin.createTopic(t, { partitions: 1 });
        await bus.produce(t, Array.from({ length: 10 }, (_, i) => rec(`r${i}`)));
        const c1 = await bus.consumer(g, [t], { from: 'earliest' });
        assert.equal((await drain(c1, 10)).length, 10);
        await c1.commit([{ topic: t, partition: 0, offset: 4 }]);
        await c1.close(); // "crashes": records 4..9 were read but never committed
        const c2 = await bus.consumer(g, [t], { from: 'earliest' });
        assert.deepEqual((await drain(c2, 6)).map((r) => r.value.toString()), ['r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
        await c2.commit();
        await c2.close();
        const c3 = await bus.consumer(g, [t], { from: 'earliest' });
        assert.deepEqual(await c3.poll(10, 100), []);
        await c3.close();
      });
    });

    it('reports lag per partition from the committed offset', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('lag');
        const g = unique('g');
        await bus.admin.createTopic(t, { partitions: 2 });
        await bus.produce(t, Array.from({ length: 10 }, (_, i) => rec(`r${i}`, 'foobar')));
        const p = (-790332482 & 0x7fffffff) % 2;
        const c = await bus.consumer(g, [t], { from: 'earliest' });
        const before = await bus.lag(g);
        assert.deepEqual(before.find((l) => l.partition === p), { topic: t, partition: p, committed: null, latest: 10, lag: 10 });
        await drain(c, 10);
        await c.commit([{ topic: t, partition: p, offset: 4 }]);
        const lag = await bus.lag(g);
        assert.deepEqual(lag.find((l) => l.partition === p), { topic: t, partition: p, committed: 4, latest: 10, lag: 6 });
        assert.deepEqual(lag.find((l) => l.partition === 1 - p), { topic: t, partition: 1 - p, committed: null, latest: 0, lag: 0 });
        await c.commit();
        assert.equal((await bus.lag(g)).find((l) => l.partition === p)!.lag, 0);
        await c.close();
      });
    });

    it('seeks to earliest, latest, an offset and a timestamp', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('seek');
        await bus.admin.createTopic(t, { partitions: 1 });
        await bus.produce(t, [1000, 2000, 3000, 4000, 5000].map((ts) => rec(`at${ts}`, undefined, { timestamp: ts })));
        const tp = { topic: t, partition: 0 };
        const c = await bus.consumer(unique('g'), [t], { from: 'latest' });
        await pollUntil([c], () => c.assignment().length === 1, 'an assignment');
        const next = async () => (await drain(c, 1))[0]?.value.toString();
        await c.seek(tp, 'earliest');
        assert.equal(await next(), 'at1000');
        await c.seek(tp, 3);
        assert.equal(await next(), 'at4000');
        await c.seek(tp, { timestamp: 2500 });
        assert.equal(await next(), 'at3000');
        await c.seek(tp, { timestamp: 3000 });
        assert.equal(await next(), 'at3000');
        await c.seek(tp, 'latest');
        assert.deepEqual(await c.poll(10, 50), []);
        await c.seek(tp, { timestamp: 9999 });
        assert.deepEqual(await c.poll(10, 50), []);
        await bus.produce(t, [rec('later')]);
        assert.equal(await next(), 'later');
        await assert.rejects(c.seek({ topic: t, partition: 5 }, 0), isCode(ErrorCodes.BUS_NOT_ASSIGNED));
        await c.close();
      });
    });

    it('splits partitions between the consumers of a group and hands them over when one leaves', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('split');
        const g = unique('g');
        await bus.admin.createTopic(t, { partitions: 4 });
        const a = await bus.consumer(g, [t], { from: 'earliest' });
        const b = await bus.consumer(g, [t], { from: 'earliest' });
        await pollUntil([a, b], () => a.assignment().length === 2 && b.assignment().length === 2, 'a 2/2 split');
        const parts = [...a.assignment(), ...b.assignment()].map((x) => x.partition).sort();
        assert.deepEqual(parts, [0, 1, 2, 3]);
        await b.close();
        await pollUntil([a], () => a.assignment().length === 4, 'the survivor to own all partitions');
        await bus.produce(t, ['21', 'foobar', 'abc', 'x1', 'x2', 'x3'].map((k) => rec(k, k)));
        assert.equal((await drain(a, 6)).length, 6);
        await a.close();
      });
    });

    it('a group new to a topic reads from the end with from=latest', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('latest');
        await bus.admin.createTopic(t, { partitions: 1 });
        await bus.produce(t, [rec('old')]);
        const c = await bus.consumer(unique('g'), [t], { from: 'latest' });
        await pollUntil([c], () => c.assignment().length === 1, 'an assignment');
        assert.deepEqual(await c.poll(10, 50), []);
        await bus.produce(t, [rec('new')]);
        assert.deepEqual((await drain(c, 1)).map((r) => r.value.toString()), ['new']);
        await c.close();
      });
    });

    if (opts.durable) {
      it('keeps records and committed offsets across a restart', async () => {
        await withBus(factory, async (u) => {
          const t = unique('restart');
          const g = unique('g');
          await u.bus.admin.createTopic(t, { partitions: 2 });
          await u.bus.produce(t, Array.from({ length: 20 }, (_, i) => rec(`r${i}`, `k${i}`)));
          const c = await u.bus.consumer(g, [t], { from: 'earliest' });
          const first = await drain(c, 12, 2000, 12);
          await c.commit();
          const lagBefore = await u.bus.lag(g);
          const bus = await u.reopen!();
          assert.deepEqual(await bus.lag(g), lagBefore);
          const c2 = await bus.consumer(g, [t], { from: 'earliest' });
          const rest = await drain(c2, 8);
          const all = [...first, ...rest].map((r) => r.value.toString()).sort();
          assert.deepEqual(all, Array.from({ length: 20 }, (_, i) => `r${i}`).sort(), 'each record once: committed ones are not read again');
          await c2.close();
        });
      });
    }

    it('loses nothing: 100,000 small records produced are consumed exactly once each', async () => {
      await withBus(factory, async ({ bus }) => {
        const t = unique('loss');
        const g = unique('g');
        await bus.admin.createTopic(t, { partitions: 4 });
        assert.deepEqual(await countDelivery(bus, t, g, 100_000), { acknowledged: 100_000, received: 100_000, missing: 0, duplicated: 0, offsetGaps: 0, misplaced: 0 });
        assert.deepEqual((await bus.lag(g)).map((l) => l.lag), [0, 0, 0, 0], 'everything consumed was committed');
      });
    });
  });
}

export interface DeliveryCount {
  /** Records `produce` acknowledged with a distinct partition/offset. */
  acknowledged: number;
  received: number;
  /** Produced records never received. */
  missing: number;
  /** Records received more than once. */
  duplicated: number;
  /** Places where a partition's consumed offsets do not follow on from the previous one (a skip or a step back). */
  offsetGaps: number;
  /**
   * Records consumed at another partition/offset than `produce` reported for them: with the checks
   * above, zero means every partition delivered exactly the acknowledged records, in offset order.
   */
  misplaced: number;
}

/**
 * Produces `n` numbered ~45-byte records to `topic` (8 batches of 1,000 in flight; a third without a
 * key), then consumes them with `group`, committing after each poll, and counts what went wrong.
 * Consuming ends when nothing arrives for `stragglerMs` (200 ms once all `n` arrived). Exported so a test can show that the count does catch a bus that silently drops records.
 */
export async function countDelivery(bus: Bus, topic: string, group: string, n: number, stragglerMs = 3000): Promise<DeliveryCount> {
  const pad = 'x'.repeat(40);
  const acked = new Set<string>();
  // Where produce said each record landed (partition, offset), to check the consumed position.
  const ackedPartition = new Int32Array(n).fill(-1);
  const ackedOffset = new Float64Array(n).fill(-1);
  const producing: Promise<void>[] = [];
  for (let start = 0; start < n; start += 1000) {
    const batch = Array.from({ length: Math.min(1000, n - start) }, (_, i) => rec(`${start + i}:${pad}`, (start + i) % 3 === 0 ? undefined : `k${(start + i) % 97}`));
    producing.push(
      bus.produce(topic, batch).then((res) =>
        res.forEach((o, k) => {
          acked.add(`${o.partition}/${o.offset}`);
          ackedPartition[start + k] = o.partition;
          ackedOffset[start + k] = o.offset;
        }),
      ),
    );
    if (producing.length >= 8) await Promise.all(producing.splice(0));
  }
  await Promise.all(producing);
  const c = await bus.consumer(group, [topic], { from: 'earliest' });
  const seen = new Uint8Array(n);
  const nextOffset = new Map<number, number>();
  let received = 0;
  let offsetGaps = 0;
  let misplaced = 0;
  for (;;) {
    // Once all arrived, one short poll more catches duplicates; until then wait longer for stragglers.
    const got = await c.poll(10_000, received >= n ? 200 : stragglerMs);
    if (got.length === 0) break;
    for (const b of got) {
      for (const r of b.records) {
        const i = Number(r.value.toString('latin1', 0, r.value.indexOf(58)));
        seen[i]!++;
        received++;
        if (r.partition !== ackedPartition[i] || r.offset !== ackedOffset[i]) misplaced++;
        if (r.offset !== (nextOffset.get(r.partition) ?? r.offset)) offsetGaps++;
        nextOffset.set(r.partition, r.offset + 1);
      }
    }
    await c.commit();
  }
  await c.close();
  let missing = 0;
  let duplicated = 0;
  for (const s of seen) {
    if (s === 0) missing++;
    else if (s > 1) duplicated++;
  }
  return { acknowledged: acked.size, received, missing, duplicated, offsetGaps, misplaced };
}
