/**
 * bench:e2e:sustained — the highest rate the examples/cdr chain keeps up with on this machine, every
 * stage busy at once. bench:e2e at full speed measures a window that includes the run's tail (the
 * generator, then the agent, finished and the server alone on the cores), so its records/s is above
 * what the chain sustains. This runs bench:e2e (dist/bench/e2e.js) with offered rates (BENCH_RATE)
 * from BENCH_SUSTAINED_FROM (default 40,000 records/s) up in steps of BENCH_SUSTAINED_STEP (default
 * 10,000), BENCH_RECORDS records each (default 1,200,000: 20–30 s a run), until a rate is not kept
 * up with: kept up means records stored at ≥ 95% of the offered rate and latency not growing (the
 * median of the last quarter of the latency probes at most 1 s above that of the first quarter).
 * One line per run; the last line is one JSON object with `sustained_records_per_s` (the highest
 * rate kept up with, null if none), its ratio to the field reference (116,000/s) and the runs.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FROM = Number(process.env.BENCH_SUSTAINED_FROM ?? 40_000);
const STEP = Number(process.env.BENCH_SUSTAINED_STEP ?? 10_000);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_200_000);
const MAX_RATE = 200_000;
/** The field reference: a 10-server Storm cluster's ~116,000 records/s. */
const REFERENCE = 116_000;
const E2E = fileURLToPath(new URL('./e2e.js', import.meta.url));

interface E2eResult {
  records_per_s: number | null;
  p50_latency_ms: number;
  p99_latency_ms: number;
  latency_trend: { first_quarter_p50_ms: number; last_quarter_p50_ms: number };
  cpu_us_per_record: Record<string, number>;
}

interface Run {
  offered: number;
  stored: number | null;
  kept_up: boolean;
  p50_latency_ms: number;
  p99_latency_ms: number;
  latency_trend: E2eResult['latency_trend'];
  cpu_us_per_record: Record<string, number>;
}

/** One bench:e2e run at `rate`; its last output line parsed. */
function run(rate: number): Promise<E2eResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [E2E], { env: { ...process.env, BENCH_RATE: String(rate), BENCH_RECORDS: String(RECORDS) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`bench:e2e at ${rate}/s exited with ${code}: ${last}`));
      try {
        resolve(JSON.parse(last) as E2eResult);
      } catch {
        reject(new Error(`bench:e2e at ${rate}/s printed no JSON result: ${last}`));
      }
    });
  });
}

async function main(): Promise<void> {
  if (!(FROM > 0) || !(STEP > 0) || !(RECORDS > 0)) throw new Error('BENCH_SUSTAINED_FROM, BENCH_SUSTAINED_STEP and BENCH_RECORDS must be positive numbers');
  const runs: Run[] = [];
  let sustained: number | null = null;
  for (let rate = FROM; rate <= MAX_RATE; rate += STEP) {
    const r = await run(rate);
    const t = r.latency_trend;
    const keptUp = r.records_per_s !== null && r.records_per_s >= 0.95 * rate && t.last_quarter_p50_ms <= t.first_quarter_p50_ms + 1000;
    runs.push({ offered: rate, stored: r.records_per_s, kept_up: keptUp, p50_latency_ms: r.p50_latency_ms, p99_latency_ms: r.p99_latency_ms, latency_trend: t, cpu_us_per_record: r.cpu_us_per_record });
    const latency = `latency p50 ${r.p50_latency_ms} ms p99 ${r.p99_latency_ms} ms (median ${t.first_quarter_p50_ms} ms in the first quarter, ${t.last_quarter_p50_ms} ms in the last)`;
    process.stdout.write(`offered ${rate}/s: stored ${r.records_per_s}/s, ${latency}: ${keptUp ? 'kept up' : 'fell behind'}\n`);
    if (!keptUp) break;
    sustained = rate;
  }
  const ratio = sustained === null ? null : Math.round((sustained / REFERENCE) * 100) / 100;
  process.stdout.write(JSON.stringify({ sustained_records_per_s: sustained, reference_records_per_s: REFERENCE, ratio_to_reference: ratio, records_per_run: RECORDS, runs }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:e2e:sustained failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
