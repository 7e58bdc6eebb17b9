/**
 * bench:bus — produce-and-consume throughput and produce latency with 1 KB records on the embedded
 * log, NATS JetStream (file storage) and Redis Streams, in one run on this machine.
 *
 * Every engine gets the same job: a topic of BENCH_PARTITIONS (default 4) partitions; one producer
 * sends BENCH_RECORDS (default 200,000) keyed 1 KB records in batches of BENCH_BATCH (default 500)
 * with BENCH_INFLIGHT (default 8) batches in flight; one group consumer in the same process reads
 * them concurrently, committing after every poll. Throughput is records / time from the first
 * produce to the last record consumed; produce latency is each batch's time from the call to its
 * acknowledgement (every record of a batch gets its batch's latency).
 *
 * Durability, stated per row:
 * - "os write": acknowledged once the record is written to the server's OS (survives kill -9 of the
 *   server process, not an OS crash) — the embedded log with `fsync: false`, JetStream file storage
 *   (nats-server 2.9 syncs on its own timer and has no per-write sync setting), Redis with
 *   `appendonly yes` + `appendfsync no`. The ratio is taken here, at equal durability.
 * - "fsync": acknowledged after fsync — the embedded log's default and Redis `appendfsync always`.
 *
 * The servers are throwaway instances on free loopback ports. Last output line: one JSON object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus, BusRecord } from '../src/bus/bus.js';
import { openEmbeddedBus } from '../src/bus/embedded/embedded.js';
import { openBus } from '../src/bus/url.js';
import { startNats } from '../test/support/nats.js';
import { startRedis } from '../test/support/redis.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 4);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 8);
const VALUE = 1024;

interface Result {
  label: string;
  durability: string;
  recordsPerS: number;
  mbPerS: number;
  produceRecordsPerS: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function makeBatch(start: number, n: number): BusRecord[] {
  const out: BusRecord[] = [];
  for (let i = start; i < start + n; i++) {
    const head = `rec-${String(i).padStart(10, '0')}-`;
    out.push({ key: Buffer.from(`key-${i % 10_000}`), value: Buffer.from(head + 'x'.repeat(VALUE - head.length)) });
  }
  return out;
}

async function run(label: string, durability: string, bus: Bus): Promise<Result> {
  const topic = `bench-${process.pid}`;
  await bus.admin.createTopic(topic, { partitions: PARTITIONS });
  const consumer = await bus.consumer(`bench-g-${process.pid}`, [topic], { from: 'earliest' });
  // Batches built before the clock starts: record construction is not the engine's cost.
  const batches: BusRecord[][] = [];
  for (let s = 0; s < RECORDS; s += BATCH) batches.push(makeBatch(s, Math.min(BATCH, RECORDS - s)));
  const latencies: number[] = [];
  let consumed = 0;
  let bytes = 0;
  const t0 = performance.now();
  let produceDone = 0;
  const produce = (async () => {
    let next = 0;
    const lane = async () => {
      while (next < batches.length) {
        const b = batches[next++]!;
        const s = performance.now();
        await bus.produce(topic, b);
        const ms = performance.now() - s;
        for (let i = 0; i < b.length; i++) latencies.push(ms);
      }
    };
    await Promise.all(Array.from({ length: INFLIGHT }, lane));
    produceDone = performance.now();
  })();
  const consume = (async () => {
    const deadline = Date.now() + 600_000;
    while (consumed < RECORDS) {
      if (Date.now() > deadline) throw new Error(`${label}: consumed ${consumed} of ${RECORDS} records in 10 minutes`);
      const got = await consumer.poll(5000, 200);
      for (const pb of got) {
        consumed += pb.records.length;
        for (const r of pb.records) bytes += r.value.length;
      }
      if (got.length > 0) await consumer.commit();
    }
  })();
  await Promise.all([produce, consume]);
  const secs = (performance.now() - t0) / 1000;
  await consumer.close();
  await bus.admin.deleteTopic(topic).catch(() => {});
  latencies.sort((a, b) => a - b);
  if (consumed !== RECORDS) throw new Error(`${label}: consumed ${consumed} records, produced ${RECORDS}`);
  return {
    label,
    durability,
    recordsPerS: Math.round(RECORDS / secs),
    mbPerS: Math.round((bytes / 1048576 / secs) * 10) / 10,
    produceRecordsPerS: Math.round(RECORDS / ((produceDone - t0) / 1000)),
    p50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
    p99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
  };
}

async function embedded(fsync: boolean): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'monsoon-bench-bus-'));
  const bus = await openEmbeddedBus(dir, { fsync });
  try {
    return await run(fsync ? 'embedded (fsync)' : 'embedded', fsync ? 'fsync' : 'os write', bus);
  } finally {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function redis(fsync: boolean): Promise<Result> {
  const server = await startRedis(['--appendonly', 'yes', '--appendfsync', fsync ? 'always' : 'no']);
  const bus = await openBus(server.url);
  try {
    return await run(fsync ? 'redis (appendfsync always)' : 'redis (appendfsync no)', fsync ? 'fsync' : 'os write', bus);
  } finally {
    await bus.close();
    await server.stop();
  }
}

async function jetstream(): Promise<Result> {
  const server = await startNats();
  const bus = await openBus(server.url);
  try {
    return await run('jetstream (file storage)', 'os write', bus);
  } finally {
    await bus.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  console.log(`bench:bus — ${RECORDS} records of ${VALUE} B, ${PARTITIONS} partitions, batches of ${BATCH}, ${INFLIGHT} in flight`);
  const rows: Result[] = [];
  for (const step of [() => embedded(false), () => jetstream(), () => redis(false), () => embedded(true), () => redis(true)]) {
    const r = await step();
    rows.push(r);
    console.log(
      `${r.label.padEnd(28)} ${r.durability.padEnd(9)} ${String(r.recordsPerS).padStart(8)} records/s ${String(r.mbPerS).padStart(7)} MB/s  ` +
        `produce ${String(r.produceRecordsPerS).padStart(8)} records/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms`,
    );
  }
  const [emb, js, red, embSync, redSync] = rows as [Result, Result, Result, Result, Result];
  const ratio = Math.round((emb.recordsPerS / js.recordsPerS) * 100) / 100;
  console.log(`embedded / JetStream at equal durability (os write): ${ratio}× (goal ≥ 2×)`);
  console.log(
    JSON.stringify({
      records: RECORDS,
      record_bytes: VALUE,
      durability: 'os write (acknowledged once in the OS page cache) for the three headline numbers',
      embedded_records_per_s: emb.recordsPerS,
      jetstream_records_per_s: js.recordsPerS,
      redis_records_per_s: red.recordsPerS,
      ratio_vs_jetstream: ratio,
      embedded_mb_per_s: emb.mbPerS,
      jetstream_mb_per_s: js.mbPerS,
      redis_mb_per_s: red.mbPerS,
      embedded_p99_produce_ms: emb.p99Ms,
      jetstream_p99_produce_ms: js.p99Ms,
      redis_p99_produce_ms: red.p99Ms,
      embedded_fsync_records_per_s: embSync.recordsPerS,
      embedded_fsync_p99_produce_ms: embSync.p99Ms,
      redis_fsync_records_per_s: redSync.recordsPerS,
      redis_fsync_p99_produce_ms: redSync.p99Ms,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
