/**
 * bench:e2e — sustained records/s through the whole examples/cdr chain on this machine, and the
 * latency from a record being written to it being queryable:
 *
 *   CdrGenerator (this process) ─► landing dir ─► `monsoon agent` (spooldir → file channel → thrift)
 *     ─► `monsoon server` (thrift collector → bus channel on topic `cdr` × 4 → bus spout → ETL →
 *        KV-store bolt (LMDB) + archive bolt (rolled files))
 *
 * - records/s: records stored (cells in the KV table) per second, from the first time records are
 *   found stored to the last, not counting those found the first time (they were processed before
 *   that window: a store commit lands thousands at once). At full speed the window includes the
 *   tail, when the generator and then the agent have finished and the server has the cores to
 *   itself; the rate the chain sustains with every stage busy is the highest BENCH_RATE it keeps up
 *   with over a longer run (bench/e2e-sustained.ts searches for it);
 * - latency: for the first record of every generated file, from the file's rename into the landing
 *   directory (the moment a spooling source may see it) until a read-only LMDB reader in this process
 *   finds its cell (one lookup of the cell's column, which firstRecordOf predicts from the file's
 *   seed and build time; polled every PROBE_MS = 20 ms: finer polling costs the chain CPU), p50 /
 *   p99 / max;
 * - peak RSS of each process (VmHWM), the generator's included, and the server's peak anonymous RSS
 *   (sampled: RSS without mapped files — LMDB's map of the KV store counts in RSS as page cache);
 * - CPU time per process (user + system) and per record: unlike records/s it barely moves when
 *   other work shares the machine, so it is the figure to compare changes by.
 * The last line is one JSON object (records_per_s, p50_latency_ms, p99_latency_ms, latency_trend:
 * the median latency of the first and of the last quarter of the probes, …).
 *
 * BENCH_RECORDS (default 300,000), BENCH_RATE (records/s, default 0 = as fast as the generator
 * goes), BENCH_FILE_RECORDS (records per landed file, default 2,000), BENCH_PROFILE=1 runs the
 * server and the agent with `node --cpu-prof` and prints their top functions by self time
 * (BENCH_PROFILE_DIR keeps the .cpuprofile files there, the agent's in `<dir>-agent`).
 * BENCH_SERVER_NODE_ARGS and BENCH_AGENT_NODE_ARGS add Node options to those processes (e.g.
 * `--perf-basic-prof` for `perf record`). BENCH_STORE_LINGER_MS sets the topology's `cdr.store.linger.ms` (how long the KV and archive
 * bolts let a batch gather; default 1,000).
 *
 * Figures measured on the development machine, and where the time goes:
 * src/server/README.md "Performance".
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CdrGenerator } from '../src/demo/cdr/generator.js';
import { cdrQualifier, cdrRowKey } from '../src/demo/cdr/etl.js';
import { CDR_FAMILY } from '../src/demo/cdr/topology.js';
import { firstRecordOf, prng } from '../src/demo/cdr/record.js';
import { KvStore } from '../src/store/kv/store.js';
import { cpuSeconds, freePort, kill9, peakRssMiB, rssAnonMiB, spawnMonsoon, type Proc } from '../test/support/procs.js';
import { summariseProfile } from './profile.js';

const N = Number(process.env.BENCH_RECORDS ?? 300_000);
const RATE = Number(process.env.BENCH_RATE ?? 0);
const FILE_RECORDS = Number(process.env.BENCH_FILE_RECORDS ?? 2000);
const PROFILE = process.env.BENCH_PROFILE === '1';
/**
 * How often this process looks for stored records. Everything it does competes with the chain for
 * the machine's two cores, so it looks rarely enough to cost little (a 5 ms loop that counted by
 * walking the table took a third of a core).
 */
const PROBE_MS = 20;
const COUNT_MS = 50;
const PROBE_OLDEST = 8;
const TOPOLOGY = fileURLToPath(new URL('../src/demo/cdr/topology.js', import.meta.url));
const AGENT_CONFIG = fileURLToPath(new URL('../../examples/cdr/agent.properties', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'monsoon-bench-e2e-'));
  const profDir = process.env.BENCH_PROFILE_DIR ?? join(dir, 'profile');
  const [http, bus, collector] = [await freePort(), await freePort(), await freePort()];
  const cfg = join(dir, 'monsoon.yaml');
  writeFileSync(
    cfg,
    JSON.stringify({
      dataDir: join(dir, 'server'),
      http: { port: http },
      bus: { port: bus, topics: [{ name: 'cdr', partitions: 4 }] },
      collector: { port: collector, topic: 'cdr', partitions: 4, batchSize: 2500 },
      topologies: [{ path: TOPOLOGY, name: 'cdr', config: process.env.BENCH_STORE_LINGER_MS === undefined ? {} : { 'cdr.store.linger.ms': Number(process.env.BENCH_STORE_LINGER_MS) } }],
    }),
  );
  const serverNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = spawnMonsoon(['server', '-c', cfg], {}, [...serverNodeArgs, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])]);
  const procs: Proc[] = [server];
  try {
    for (let i = 0; ; i++) {
      if (server.child.exitCode !== null) throw new Error(`the server exited: ${server.tail()}`);
      if (await fetch(`http://127.0.0.1:${http}/health`).then((r) => r.ok, () => false)) break;
      if (i > 600) throw new Error('the server did not start');
      await sleep(100);
    }
    const landing = join(dir, 'landing');
    const agentDir = join(dir, 'agent');
    const agentNodeArgs = (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const agent = spawnMonsoon(['agent', '-n', 'agent', '-f', AGENT_CONFIG, '--data-dir', agentDir, '--agent-id', 'bench/agent', '--no-reload'], { CDR_SPOOL_DIR: landing, CDR_AGENT_DIR: agentDir, CDR_COLLECTOR_HOST: '127.0.0.1', CDR_COLLECTOR_PORT: String(collector) }, [...agentNodeArgs, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}-agent`] : [])]);
    procs.push(agent);

    const builtAt = new Map<number, number>();
    const gen = new CdrGenerator({ dir: landing, statePath: join(dir, 'generator.json'), records: N, rate: RATE, fileRecords: FILE_RECORDS, onFile: (first, _n, nowMs) => builtAt.set(first, nowMs) });
    await gen.open();
    const { runId, seed } = JSON.parse(readFileSync(join(dir, 'generator.json'), 'utf8')) as { runId: string; seed: number };
    // the cell of the first record of the file starting at `first`: its account and start time are
    // the file's PRNG's first draws (record.ts firstRecordOf), its qualifier `<time>#<record id>`
    const probe = (first: number) => {
      const { account, startMs } = firstRecordOf(prng((seed ^ Math.imul(first + 1, 0x9e3779b1)) >>> 0), builtAt.get(first)!);
      return { row: cdrRowKey(account), column: `${CDR_FAMILY}:${cdrQualifier(startMs, `${runId}-${first}`)}` };
    };
    const pending = new Map<number, { row: string; column: string; at: number }>();
    const latencies: number[] = [];
    let seen = 0;
    const t0 = Date.now();
    const genRun = gen.run();
    let kv: KvStore | undefined;
    let firstStoredAt = 0;
    let firstStored = 0;
    let lastStored = 0;
    let lastStoredAt = 0;
    let countedAt = 0;
    let serverAnonMiB = 0;
    const deadline = Date.now() + Math.max(600_000, (N / 1000) * 1000 * 5);
    for (;;) {
      const now = Date.now();
      if (gen.generated > seen) {
        for (let f = seen; f < gen.generated; f += FILE_RECORDS) pending.set(f, { ...probe(f), at: now });
        seen = gen.generated;
      }
      if (!kv) {
        try {
          kv = KvStore.open(join(dir, 'server', 'kv'), { readOnly: true });
          kv.table('cdr');
        } catch {
          await kv?.close();
          kv = undefined;
        }
      }
      if (kv) {
        const t = kv.table('cdr');
        // Files are taken oldest first, so only the oldest few pending ones can have become
        // queryable since the last look; probing all of them would cost the chain a core.
        let probed = 0;
        for (const [f, p] of pending) {
          if (probed++ === PROBE_OLDEST) break;
          if (t.get(p.row, { columns: [p.column] }).length > 0) {
            latencies.push(now - p.at);
            pending.delete(f);
          }
        }
        // The count is LMDB's entry count; the probes above run every PROBE_MS.
        if (now - countedAt >= COUNT_MS || lastStored >= N) {
          countedAt = now;
          serverAnonMiB = Math.max(serverAnonMiB, rssAnonMiB(server.child.pid));
          const stored = t.count();
          if (stored > 0 && firstStoredAt === 0) {
            firstStoredAt = now;
            firstStored = stored;
          }
          if (stored > lastStored) {
            lastStored = stored;
            lastStoredAt = now;
          }
        }
        if (lastStored >= N && pending.size === 0) break;
      }
      if (now > deadline) throw new Error(`timed out: ${lastStored} of ${N} stored`);
      for (const p of procs) if (p.child.exitCode !== null) throw new Error(`a process exited: ${p.tail()}`);
      await sleep(PROBE_MS);
    }
    await genRun;
    const rss = { server_mib: Math.round(peakRssMiB(server.child.pid)), server_anon_mib: Math.round(serverAnonMiB), agent_mib: Math.round(peakRssMiB(agent.child.pid)), generator_mib: Math.round(process.resourceUsage().maxRSS / 1024) };
    const own = process.cpuUsage();
    const cpu = { server_s: cpuSeconds(server.child.pid), agent_s: cpuSeconds(agent.child.pid), generator_and_bench_s: Math.round((own.user + own.system) / 1e4) / 100 };
    const status = (await (await fetch(`http://127.0.0.1:${http}/api/v1/topology/cdr`)).json()) as { bolts: { boltId: string; executeLatency: string; capacity: string }[] };
    const kvWrites = ((await (await fetch(`http://127.0.0.1:${http}/api/v1/status`)).json()) as { stores: { kvWrites: { commits: number; cells: number; commitSeconds: number } } }).stores.kvWrites;
    await kv?.close();
    agent.child.kill('SIGTERM');
    server.child.kill('SIGTERM');
    await Promise.all([agent.exited, server.exited]);
    // probes find files oldest first, so the order of `latencies` is the files' order: a chain that
    // falls behind shows it as later files waiting longer
    const quarter = Math.floor(latencies.length / 4);
    const median = (xs: number[]) => pct([...xs].sort((a, b) => a - b), 50);
    const trend = { first_quarter_p50_ms: median(latencies.slice(0, quarter)), last_quarter_p50_ms: median(latencies.slice(latencies.length - quarter)) };
    latencies.sort((a, b) => a - b);
    const secs = (lastStoredAt - firstStoredAt) / 1000;
    const result = {
      records: N,
      records_found_stored_first: firstStored,
      // null when the first count already found every record (no window to measure a rate over)
      records_per_s: secs > 0 ? Math.round((lastStored - firstStored) / secs) : null,
      wall_s: Math.round((Date.now() - t0) / 100) / 10,
      p50_latency_ms: pct(latencies, 50),
      p99_latency_ms: pct(latencies, 99),
      max_latency_ms: latencies[latencies.length - 1] ?? NaN,
      latency_samples: latencies.length,
      latency_trend: trend,
      peak_rss: rss,
      cpu,
      cpu_us_per_record: { server: Math.round((cpu.server_s * 1e6) / N), agent: Math.round((cpu.agent_s * 1e6) / N), generator_and_bench: Math.round((cpu.generator_and_bench_s * 1e6) / N) },
      bolts: Object.fromEntries(status.bolts.map((b) => [b.boltId, { executeLatencyMs: b.executeLatency, capacity: b.capacity }])),
      // the KV store's commits and its writer thread's time in them (the store's own CPU, apart from the server's main thread)
      kv_writes: { commits: kvWrites.commits, cells: kvWrites.cells, commit_s: Math.round(kvWrites.commitSeconds * 100) / 100 },
      reference_records_per_s: 116_000,
    };
    process.stdout.write(`e2e cdr: ${result.records_per_s} records/s stored (field reference ~116,000/s on 10 servers × 16 cores), latency p50 ${result.p50_latency_ms} ms, p99 ${result.p99_latency_ms} ms; peak RSS server ${rss.server_mib} MiB (${rss.server_anon_mib} MiB without mapped files: the KV store's map counts in RSS), agent ${rss.agent_mib} MiB, generator ${rss.generator_mib} MiB; CPU per record server ${result.cpu_us_per_record.server} µs, agent ${result.cpu_us_per_record.agent} µs, generator (+ this bench's polling) ${result.cpu_us_per_record.generator_and_bench} µs\n`);
    if (PROFILE) process.stdout.write(summariseProfile('server', profDir) + summariseProfile('agent', `${profDir}-agent`));
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    for (const p of procs) await kill9(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:e2e failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
