/**
 * bench:collect — 1 KB lines tailed → file channel (fsync per commit) → thrift → collector → file
 * channel → rolled files, beside rsyslog doing the same job (imfile → omfwd → imtcp → omfile) on the
 * same input in the same run. Prints MB/s, lines/s, the ratio and each side's peak RSS; the last line
 * is one JSON object. CPU seconds per process (user + system, from /proc) are printed beside the
 * rates: unlike the rates they barely move when other work shares the machine.
 *
 * BENCH_MB sets the input size (default 1024: the rate a pipeline sustains, which is what an agent and
 * a collector that run for days deliver; with 256 MiB about a quarter of our processes' CPU is their
 * start-up and V8's compiling of the hot paths, which rsyslog, a C program, does not pay, so the
 * figures then say more about start-up than about throughput — the start-up is printed on its own as
 * each side's time to its first output). The run needs about five times the input in free space
 * under the temporary directory (input, two write-ahead logs, both outputs). BENCH_ROUNDS (default 3) runs both pipelines that many
 * times, alternating which goes first, and prints the medians (the machine's speed drifts within
 * minutes, so one pair of runs says little). BENCH_PROFILE=1 runs our agent and collector with
 * `node --cpu-prof` and prints their top functions by self time. BENCH_RSYSLOG=0 runs our pipeline
 * only (BENCH_KEEP=1 then leaves the run's directory, profiles included, in place). BENCH_THREADS=1
 * prints each process's CPU seconds and minor page faults of the main thread and of the others (libuv
 * pool, V8 workers);
 * BENCH_NODE_ARGS adds node options to both processes (e.g. V8 heap flags for experiments);
 * BENCH_KEEP_CA_CERTS=1 passes NODE_EXTRA_CA_CERTS on to both pipelines (see main);
 * BENCH_RECENT sets both file channels' recentBytes; BENCH_DIRECT_IO=0 turns direct I/O off everywhere.
 *
 * Tuning, as a Flume user would do it: the agent drains its file channel with BENCH_SINKS (default 3)
 * thrift sinks to the same collector, each on its own connection and sink runner, so that while one
 * batch waits for the collector's disk sync the next is already on the wire; the collector's thrift
 * source commits calls from different connections concurrently (`threads`, default 4). One sink
 * (Flume's synchronous ThriftSink) leaves both processes idle during every sync. Batches are
 * BENCH_BATCH (default 2500) events of 1 KB at every stage (TAILDIR batchSize, thrift batch-size,
 * file_roll batchSize): 2.5 MB batches fill the pipeline sooner than 5 MB ones, and what is in flight
 * stays within the file channel's in-memory window for taking events it just wrote, so takes rarely
 * read back from disk. The collector drains its channel with BENCH_ROLL_SINKS (default 2) file_roll
 * sinks (file name prefixes k1-, k2- in the one output directory), so that one sink's file sync
 * overlaps the other's batch.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, freePort, kill9, peakRssMiB, spawnMonsoon } from '../test/support/procs.js';
import { summariseProfile } from './profile.js';

const MB = Number(process.env.BENCH_MB ?? 1024);
const SINKS = Number(process.env.BENCH_SINKS ?? 3);
const BATCH = Number(process.env.BENCH_BATCH ?? 2500);
const ROLL_SINKS = Number(process.env.BENCH_ROLL_SINKS ?? 2);
const PROFILE = process.env.BENCH_PROFILE === '1';
/** Rounds of both pipelines (alternating which goes first); the rates and the ratio printed are their medians. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
/** BENCH_DIRECT_IO=0 writes both file channels' logs and the rolled files through the page cache (`directIo = false`, `sink.directIo = false`). */
const DIRECT_IO = process.env.BENCH_DIRECT_IO !== '0';
/** BENCH_RECENT sets both file channels' `recentBytes` (default: the channel's own). */
const RECENT = process.env.BENCH_RECENT ? `\n{p}.channels.c1.recentBytes = ${Number(process.env.BENCH_RECENT)}` : '';
const LINE = 1024;
const lines = Math.floor((MB * 1024 * 1024) / LINE);
const root = mkdtempSync(join(tmpdir(), 'monsoon-bench-collect-'));

function writeInput(path: string): number {
  const fd = openSync(path, 'w');
  const chunk: string[] = [];
  for (let i = 0; i < lines; i++) {
    const head = `line-${String(i).padStart(10, '0')}-`;
    chunk.push(head + 'x'.repeat(LINE - 1 - head.length));
    if (chunk.length === 1024 || i === lines - 1) {
      writeSync(fd, chunk.join('\n') + '\n');
      chunk.length = 0;
    }
  }
  // On disk before either pipeline starts: otherwise the first one timed (ours) shares the disk with
  // the kernel writing this file back, and the second (rsyslog) does not.
  fsyncSync(fd);
  closeSync(fd);
  return statSync(path).size;
}

/** CPU seconds (user+system) of a process's main thread and of its other threads (libuv pool, V8 workers). */
function threadCpu(pid: number | undefined): string {
  if (pid === undefined) return '';
  const by = new Map<string, [number, number, number]>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = t === String(pid) ? 'main' : 'other threads';
      // fields after the command name: minflt is the 8th, utime and stime the 12th and 13th
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const v = by.get(name) ?? [0, 0, 0];
      by.set(name, [v[0] + Number(f[11]) / 100, v[1] + Number(f[12]) / 100, v[2] + Number(f[7])]);
    } catch {
      // the thread ended
    }
  }
  return [...by].map(([k, [u, s, pf]]) => `${k} ${u.toFixed(2)}u+${s.toFixed(2)}s ${(pf / 1000).toFixed(0)}k faults`).join(', ');
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n;
}

function fileLines(path: string): number {
  const r = spawnSync('wc', ['-l', path], { encoding: 'utf8' });
  return Number(r.stdout.trim().split(/\s+/)[0] ?? 0);
}

/**
 * Polls `size` until it reaches `target`; returns the seconds after `t0` at which the first output
 * byte was seen (polled every 10 ms until then, every 50 ms after: a start-up figure to ±10 ms).
 */
async function delivered(size: () => number, target: number, t0: number, timeoutMs: number, what: () => string): Promise<number> {
  const end = Date.now() + timeoutMs;
  let first = 0;
  for (;;) {
    const n = size();
    if (n > 0 && first === 0) first = (Date.now() - t0) / 1000;
    if (n >= target) return first;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, first === 0 ? 10 : 50));
  }
}

async function runOurs(input: string, bytes: number) {
  const dir = join(root, 'ours');
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  const port = await freePort();
  const rollSinks = Array.from({ length: ROLL_SINKS }, (_, i) => `k${i + 1}`);
  writeFileSync(
    join(dir, 'collector.properties'),
    `col.sources = r1\ncol.channels = c1\ncol.sinks = ${rollSinks.join(' ')}
col.sources.r1.type = thrift\ncol.sources.r1.bind = 127.0.0.1\ncol.sources.r1.port = ${port}\ncol.sources.r1.channels = c1
col.channels.c1.type = file\ncol.channels.c1.checkpointDir = ${dir}/col/cp\ncol.channels.c1.dataDirs = ${dir}/col/data
col.channels.c1.capacity = 1000000\ncol.channels.c1.transactionCapacity = 10000\ncol.channels.c1.minimumRequiredSpace = 0\ncol.channels.c1.directIo = ${DIRECT_IO}${RECENT.replace('{p}', 'col')}
${rollSinks.map((k) => `col.sinks.${k}.type = file_roll\ncol.sinks.${k}.channel = c1\ncol.sinks.${k}.sink.directory = ${out}\ncol.sinks.${k}.sink.pathManager.prefix = ${k}-\ncol.sinks.${k}.sink.rollInterval = 0\ncol.sinks.${k}.batchSize = ${BATCH}\ncol.sinks.${k}.sink.directIo = ${DIRECT_IO}\n`).join('')}`,
  );
  const sinks = Array.from({ length: SINKS }, (_, i) => `k${i + 1}`);
  writeFileSync(
    join(dir, 'agent.properties'),
    `ag.sources = r1\nag.channels = c1\nag.sinks = ${sinks.join(' ')}
ag.sources.r1.type = TAILDIR\nag.sources.r1.filegroups = f1\nag.sources.r1.filegroups.f1 = ${input.replace(/\./g, '\\\\.')}
ag.sources.r1.positionFile = ${dir}/ag/pos.json\nag.sources.r1.batchSize = ${BATCH}\nag.sources.r1.channels = c1
ag.channels.c1.type = file\nag.channels.c1.checkpointDir = ${dir}/ag/cp\nag.channels.c1.dataDirs = ${dir}/ag/data
ag.channels.c1.capacity = 1000000\nag.channels.c1.transactionCapacity = 10000\nag.channels.c1.minimumRequiredSpace = 0\nag.channels.c1.directIo = ${DIRECT_IO}${RECENT.replace('{p}', 'ag')}
${sinks.map((k) => `ag.sinks.${k}.type = thrift\nag.sinks.${k}.channel = c1\nag.sinks.${k}.hostname = 127.0.0.1\nag.sinks.${k}.port = ${port}\nag.sinks.${k}.batch-size = ${BATCH}\n`).join('')}`,
  );
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const prof = (who: string) => [...extra, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'profile', who)}`] : [])];
  const collector = spawnMonsoon(['agent', '-n', 'col', '-f', join(dir, 'collector.properties'), '--data-dir', join(dir, 'col')], {}, prof('collector'));
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  const agent = spawnMonsoon(['agent', '-n', 'ag', '-f', join(dir, 'agent.properties'), '--data-dir', join(dir, 'ag')], {}, prof('agent'));
  let secs = 0;
  let first = 0;
  let rss = { agent: 0, collector: 0 };
  let cpu = { agent: 0, collector: 0 };
  try {
    first = await delivered(() => dirBytes(out), bytes, t0, 600_000, () => `our pipeline to deliver ${bytes} bytes (agent: ${agent.tail()} collector: ${collector.tail()})`);
  } finally {
    secs = (Date.now() - t0) / 1000;
    rss = { agent: peakRssMiB(agent.child.pid), collector: peakRssMiB(collector.child.pid) };
    cpu = { agent: cpuSeconds(agent.child.pid), collector: cpuSeconds(collector.child.pid) };
    if (process.env.BENCH_THREADS === '1') console.log(`threads: agent ${threadCpu(agent.child.pid)}; collector ${threadCpu(collector.child.pid)}`);
    if (PROFILE) {
      // a clean stop, so that each process writes its profile
      agent.child.kill('SIGTERM');
      collector.child.kill('SIGTERM');
      await Promise.all([agent.exited, collector.exited]);
      process.stdout.write(summariseProfile('agent', join(root, 'profile', 'agent')) + summariseProfile('collector', join(root, 'profile', 'collector')));
    }
    await kill9(agent);
    await kill9(collector);
  }
  return { secs, first, rss, cpu };
}

async function runRsyslog(input: string, bytes: number) {
  const dir = join(root, 'rsyslog');
  mkdirSync(join(dir, 'a'), { recursive: true });
  mkdirSync(join(dir, 'b'), { recursive: true });
  const port = await freePort();
  const out = join(dir, 'out.log');
  writeFileSync(
    join(dir, 'b.conf'),
    `global(workDirectory="${dir}/b" maxMessageSize="8k")
module(load="imtcp")
template(name="raw" type="string" string="%msg%\\n")
ruleset(name="out") { action(type="omfile" file="${out}" template="raw") }
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="out")\n`,
  );
  writeFileSync(
    join(dir, 'a.conf'),
    `global(workDirectory="${dir}/a" maxMessageSize="8k")
module(load="imfile" mode="inotify")
ruleset(name="fwd") { action(type="omfwd" target="127.0.0.1" port="${port}" protocol="tcp" template="RSYSLOG_ForwardFormat") }
input(type="imfile" file="${input}" tag="bench" ruleset="fwd")\n`,
  );
  const start = (name: string) => spawn('rsyslogd', ['-n', '-f', join(dir, `${name}.conf`), '-i', join(dir, `${name}.pid`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const b = start('b');
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  const a = start('a');
  let secs = 0;
  let first = 0;
  let rss = { sender: 0, receiver: 0 };
  let cpu = { sender: 0, receiver: 0 };
  try {
    // rsyslog writes each line with one leading space (the forward format's MSG), so it is done at
    // input + one byte per line. Watching the size is cheap; counting lines of a growing 256 MiB file
    // every 50 ms took CPU from rsyslog itself. The count is checked once, after the clock stops.
    const done = bytes + lines;
    let size = 0;
    first = await delivered(
      () => {
        try {
          size = statSync(out).size;
        } catch {
          size = 0;
        }
        return size;
      },
      done,
      t0,
      600_000,
      () => `rsyslog to deliver ${done} bytes (has ${size})`,
    );
  } finally {
    secs = (Date.now() - t0) / 1000;
    rss = { sender: peakRssMiB(a.pid), receiver: peakRssMiB(b.pid) };
    cpu = { sender: cpuSeconds(a.pid), receiver: cpuSeconds(b.pid) };
    a.kill('SIGKILL');
    b.kill('SIGKILL');
  }
  const got = fileLines(out);
  if (got !== lines) throw new Error(`rsyslog delivered ${got} lines, not ${lines}`);
  return { secs, first, rss, cpu };
}

async function main(): Promise<void> {
  // NODE_EXTRA_CA_CERTS (set in this machine's shell for its tools, not something an agent's service
  // would carry) makes every Node process parse that certificate file at start, ~60 ms here, before
  // any of Monsoon's code runs; no agent or collector here uses TLS. It is removed from the
  // environment both pipelines inherit (rsyslog never reads it, so only our side gains); the rest of
  // the environment is passed on as it is. BENCH_KEEP_CA_CERTS=1 keeps it.
  if (process.env.BENCH_KEEP_CA_CERTS !== '1' && process.env.NODE_EXTRA_CA_CERTS !== undefined) {
    delete process.env.NODE_EXTRA_CA_CERTS;
    console.log('environment: NODE_EXTRA_CA_CERTS is not passed to either pipeline (BENCH_KEEP_CA_CERTS=1 keeps it)');
  }
  const haveRsyslog = spawnSync('rsyslogd', ['-v']).status === 0;
  if (!haveRsyslog) throw new Error('rsyslogd is not installed: apt-get install -y rsyslog');
  const free = statfsSync(root);
  const need = 5 * MB * 1024 * 1024;
  if (free.bavail * free.bsize < need) {
    throw new Error(`bench:collect needs ~${Math.ceil(need / 2 ** 30)} GiB free under ${tmpdir()} for BENCH_MB=${MB} (input, two write-ahead logs, both outputs); it has ${((free.bavail * free.bsize) / 2 ** 30).toFixed(1)} GiB: set a smaller BENCH_MB`);
  }
  mkdirSync(join(root, 'in'), { recursive: true });
  const input = join(root, 'in', 'input.log');
  const bytes = writeInput(input);
  const mb = bytes / (1024 * 1024);
  console.log(`input: ${lines} lines of ${LINE} bytes (${mb.toFixed(0)} MiB) in ${input}`);

  const ours = await runOurs(input, bytes);
  if (process.env.BENCH_RSYSLOG === '0') {
    console.log(`ours:    ${(mb / ours.secs).toFixed(1)} MB/s, first output after ${ours.first.toFixed(2)} s; peak RSS agent ${ours.rss.agent.toFixed(0)} MiB, collector ${ours.rss.collector.toFixed(0)} MiB; CPU agent ${ours.cpu.agent.toFixed(2)} s, collector ${ours.cpu.collector.toFixed(2)} s`);
    if (process.env.BENCH_KEEP !== '1') rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
    return;
  }
  type Round = { ours: Awaited<ReturnType<typeof runOurs>>; rs: Awaited<ReturnType<typeof runRsyslog>> };
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // alternate which side goes first, so that neither always meets the machine in the same state
    let o = ours;
    let rs: Round['rs'];
    if (r === 0) rs = await runRsyslog(input, bytes);
    else {
      for (const d of ['ours', 'rsyslog']) rmSync(join(root, d), { recursive: true, force: true });
      if (r % 2 === 1) {
        rs = await runRsyslog(input, bytes);
        o = await runOurs(input, bytes);
      } else {
        o = await runOurs(input, bytes);
        rs = await runRsyslog(input, bytes);
      }
    }
    rounds.push({ ours: o, rs });
    const oMb = mb / o.secs;
    const rMb = mb / rs.secs;
    if (ROUNDS > 1) console.log(`round ${r + 1}/${ROUNDS}: ours ${oMb.toFixed(1)} MB/s (first output after ${o.first.toFixed(2)} s), rsyslog ${rMb.toFixed(1)} MB/s (after ${rs.first.toFixed(2)} s), ratio ${(oMb / rMb).toFixed(2)}`);
  }
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const oursSecs = med(rounds.map((x) => x.ours.secs));
  const rsSecs = med(rounds.map((x) => x.rs.secs));
  const oursMb = mb / oursSecs;
  const rsMb = mb / rsSecs;
  const ratio = med(rounds.map((x) => x.rs.secs / x.ours.secs));
  const peak = (f: (x: Round) => number) => Math.round(Math.max(...rounds.map(f)));
  const cpu = (f: (x: Round) => number) => +med(rounds.map(f)).toFixed(2);
  const of = ROUNDS > 1 ? ` (median of ${ROUNDS} rounds; peak RSS the highest)` : '';
  console.log(`ours:    ${oursMb.toFixed(1)} MB/s, ${Math.round(lines / oursSecs)} lines/s, peak RSS agent ${peak((x) => x.ours.rss.agent)} MiB, collector ${peak((x) => x.ours.rss.collector)} MiB; CPU agent ${cpu((x) => x.ours.cpu.agent)} s, collector ${cpu((x) => x.ours.cpu.collector)} s${of}`);
  console.log(`rsyslog: ${rsMb.toFixed(1)} MB/s, ${Math.round(lines / rsSecs)} lines/s, peak RSS sender ${peak((x) => x.rs.rss.sender)} MiB, receiver ${peak((x) => x.rs.rss.receiver)} MiB; CPU sender ${cpu((x) => x.rs.cpu.sender)} s, receiver ${cpu((x) => x.rs.cpu.receiver)} s${of}`);
  console.log(`first output: ours after ${cpu((x) => x.ours.first)} s, rsyslog after ${cpu((x) => x.rs.first)} s (median)`);
  console.log(`collect: ours ${oursMb.toFixed(1)} MB/s, rsyslog ${rsMb.toFixed(1)} MB/s, ratio ${ratio.toFixed(2)}`);
  rmSync(root, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      ours_mb_per_s: +oursMb.toFixed(2),
      ours_lines_per_s: Math.round(lines / oursSecs),
      rsyslog_mb_per_s: +rsMb.toFixed(2),
      rsyslog_lines_per_s: Math.round(lines / rsSecs),
      ratio_vs_rsyslog: +ratio.toFixed(3),
      ours_peak_rss_mib: { agent: peak((x) => x.ours.rss.agent), collector: peak((x) => x.ours.rss.collector) },
      rsyslog_peak_rss_mib: { sender: peak((x) => x.rs.rss.sender), receiver: peak((x) => x.rs.rss.receiver) },
      ours_cpu_s: { agent: cpu((x) => x.ours.cpu.agent), collector: cpu((x) => x.ours.cpu.collector) },
      rsyslog_cpu_s: { sender: cpu((x) => x.rs.cpu.sender), receiver: cpu((x) => x.rs.cpu.receiver) },
      input_mib: Math.round(mb),
      ours_first_output_s: cpu((x) => x.ours.first),
      rsyslog_first_output_s: cpu((x) => x.rs.first),
      rounds: rounds.map((x) => ({ ours_mb_per_s: +(mb / x.ours.secs).toFixed(2), rsyslog_mb_per_s: +(mb / x.rs.secs).toFixed(2), ratio: +(x.rs.secs / x.ours.secs).toFixed(3), ours_first_output_s: x.ours.first, rsyslog_first_output_s: x.rs.first })),
    }),
  );
}

main().catch((e) => {
  console.error(e);
  if (process.env.BENCH_KEEP !== '1') rmSync(root, { recursive: true, force: true });
  process.exit(1);
});
