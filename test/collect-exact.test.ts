/**
 * Exact delivery through crashes: lines written quickly into files rotated by rename and by
 * copytruncate; the agent (TAILDIR → file channel → load_balance over 3 thrift sinks) is SIGKILLed and
 * restarted 5 times; 2 of the 3 collectors (thrift → file channel → file_roll) are SIGKILLed and
 * restarted. Afterwards the output holds every line exactly once.
 *
 * MONSOON_FAULT_LINES sets the line count (default 1,000,000).
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, kill9, spawnMonsoon, type Proc } from './support/procs.js';

const TOTAL = Number(process.env.MONSOON_FAULT_LINES ?? 1_000_000);
const PER_STREAM = TOTAL / 2;
const ROTATE_EVERY = Math.max(1000, Math.floor(PER_STREAM / 5));
const LINE_BYTES = 40; // every line has the same length, so output bytes tell progress
const line = (stream: string, n: number) => `${stream}-${String(n).padStart(10, '0')}-`.padEnd(LINE_BYTES - 1, 'x');

const root = mkdtempSync(join(tmpdir(), 'monsoon-exact-'));
const logs = join(root, 'logs');
const out = join(root, 'out');
const procs = new Set<Proc>();
after(async () => {
  for (const p of procs) await kill9(p);
  if (!process.exitCode) rmSync(root, { recursive: true, force: true });
});

function collectorConf(i: number, port: number): string {
  const d = join(root, `col${i}`);
  return `c.sources = r1\nc.channels = ch\nc.sinks = k1
c.sources.r1.type = thrift\nc.sources.r1.bind = 127.0.0.1\nc.sources.r1.port = ${port}\nc.sources.r1.channels = ch
c.channels.ch.type = file\nc.channels.ch.checkpointDir = ${d}/cp\nc.channels.ch.dataDirs = ${d}/data
c.channels.ch.capacity = 2000000\nc.channels.ch.transactionCapacity = 10000\nc.channels.ch.checkpointInterval = 2000
c.sinks.k1.type = file_roll\nc.sinks.k1.channel = ch\nc.sinks.k1.sink.directory = ${out}/col${i}\nc.sinks.k1.sink.rollInterval = 5\nc.sinks.k1.batchSize = 2000\n`;
}

function agentConf(ports: number[]): string {
  const d = join(root, 'agent');
  const sinks = ports
    .map(
      (p, i) => `a.sinks.k${i + 1}.type = thrift\na.sinks.k${i + 1}.channel = ch\na.sinks.k${i + 1}.hostname = 127.0.0.1\na.sinks.k${i + 1}.port = ${p}
a.sinks.k${i + 1}.batch-size = 1000\na.sinks.k${i + 1}.connect-timeout = 2000\na.sinks.k${i + 1}.request-timeout = 5000\na.sinks.k${i + 1}.replay-timeout = 30000\n`,
    )
    .join('');
  return `a.sources = r1\na.channels = ch\na.sinks = k1 k2 k3\na.sinkgroups = g1
a.sources.r1.type = TAILDIR\na.sources.r1.filegroups = f1 f2
a.sources.r1.filegroups.f1 = ${logs}/rename\\\\.log.*\na.sources.r1.filegroups.f2 = ${logs}/copy\\\\.log.*
a.sources.r1.positionFile = ${d}/taildir_position.json\na.sources.r1.batchSize = 1000\na.sources.r1.channels = ch
a.channels.ch.type = file\na.channels.ch.checkpointDir = ${d}/cp\na.channels.ch.dataDirs = ${d}/data
a.channels.ch.capacity = 2000000\na.channels.ch.transactionCapacity = 10000\na.channels.ch.checkpointInterval = 2000
${sinks}a.sinkgroups.g1.sinks = k1 k2 k3\na.sinkgroups.g1.processor.type = load_balance\na.sinkgroups.g1.processor.backoff = true
a.sinkgroups.g1.processor.selector = round_robin\na.sinkgroups.g1.processor.selector.maxTimeOut = 3000\n`;
}

function outputBytes(): number {
  let n = 0;
  for (const d of readdirSync(out)) for (const f of readdirSync(join(out, d))) n += statSync(join(out, d, f)).size;
  return n;
}

/** Writes both streams in chunks, rotating one by rename and the other by copy + truncate. */
async function writeLogs(): Promise<void> {
  const chunk = 5000;
  for (let start = 0; start < PER_STREAM; start += chunk) {
    for (const s of ['rename', 'copy'] as const) {
      const lines: string[] = [];
      for (let n = start; n < Math.min(PER_STREAM, start + chunk); n++) lines.push(line(s, n));
      appendFileSync(join(logs, `${s}.log`), lines.join('\n') + '\n');
    }
    const written = start + chunk;
    if (written % ROTATE_EVERY === 0 && written < PER_STREAM) {
      const k = written / ROTATE_EVERY;
      renameSync(join(logs, 'rename.log'), join(logs, `rename.log.${k}`));
      copyFileSync(join(logs, 'copy.log'), join(logs, `copy.log.${k}`));
      truncateSync(join(logs, 'copy.log'), 0);
    }
    await new Promise((r) => setImmediate(r));
  }
}

describe('exact delivery through agent and collector crashes', () => {
  it(`delivers ${TOTAL} rotated lines exactly once`, { timeout: 600_000 }, async () => {
    mkdirSync(logs, { recursive: true });
    const ports = [await freePort(), await freePort(), await freePort()];
    for (let i = 1; i <= 3; i++) {
      mkdirSync(join(out, `col${i}`), { recursive: true });
      writeFileSync(join(root, `col${i}.properties`), collectorConf(i, ports[i - 1]!));
    }
    writeFileSync(join(root, 'agent.properties'), agentConf(ports));
    const startCollector = (i: number) => {
      const p = spawnMonsoon(['agent', '-n', 'c', '-f', join(root, `col${i}.properties`), '--data-dir', join(root, `col${i}`, 'state')]);
      procs.add(p);
      return p;
    };
    const startAgent = () => {
      const p = spawnMonsoon(['agent', '-n', 'a', '-f', join(root, 'agent.properties'), '--data-dir', join(root, 'agent', 'state'), '--agent-id', 'test-agent']);
      procs.add(p);
      return p;
    };
    const collectors = [startCollector(1), startCollector(2), startCollector(3)];
    let agent = startAgent();
    const writing = writeLogs();

    const expectedBytes = TOTAL * LINE_BYTES;
    const progress = () => outputBytes() / expectedBytes;
    // Output that stops growing for this long means lines were lost (or the chain is stuck): stop
    // waiting and report exactly which lines are missing.
    const STALL_MS = 45_000;
    let stalled = false;
    const waitFor = async (fraction: number) => {
      let last = -1;
      let since = Date.now();
      while (!stalled && progress() < fraction) {
        const now = outputBytes();
        if (now !== last) {
          last = now;
          since = Date.now();
        } else if (Date.now() - since > STALL_MS) {
          stalled = true;
          console.error(`output stalled at ${(progress() * 100).toFixed(1)}%\nagent: ${agent.tail()}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const schedule: Array<[number, () => Promise<void>]> = [
      [0.08, async () => { await kill9(agent); procs.delete(agent); agent = startAgent(); }],
      [0.2, async () => { await kill9(agent); procs.delete(agent); agent = startAgent(); }],
      [0.3, async () => { await kill9(collectors[0]!); procs.delete(collectors[0]!); setTimeout(() => (collectors[0] = startCollector(1)), 1500); }],
      [0.4, async () => { await kill9(agent); procs.delete(agent); agent = startAgent(); }],
      [0.55, async () => { await kill9(collectors[1]!); procs.delete(collectors[1]!); setTimeout(() => (collectors[1] = startCollector(2)), 1500); }],
      [0.6, async () => { await kill9(agent); procs.delete(agent); agent = startAgent(); }],
      [0.75, async () => { await kill9(agent); procs.delete(agent); agent = startAgent(); }],
    ];
    let kills = 0;
    for (const [at, act] of schedule) {
      await waitFor(at);
      if (stalled) break;
      await act();
      kills++;
    }
    await writing;
    await waitFor(1);
    // Anything duplicated would still be arriving; give it a moment to show up.
    let last = -1;
    while (!stalled && outputBytes() !== last) {
      last = outputBytes();
      await new Promise((r) => setTimeout(r, 3000));
    }

    const seen = { rename: new Uint8Array(PER_STREAM), copy: new Uint8Array(PER_STREAM) };
    const dups: string[] = [];
    const bad: string[] = [];
    for (const d of readdirSync(out)) {
      for (const f of readdirSync(join(out, d))) {
        for (const l of readFileSync(join(out, d, f), 'latin1').split('\n')) {
          if (l === '') continue;
          const m = /^(rename|copy)-(\d{10})-x*$/.exec(l);
          if (!m || l.length !== LINE_BYTES - 1) {
            bad.push(l.slice(0, 60));
            continue;
          }
          const arr = seen[m[1] as 'rename' | 'copy'];
          const n = Number(m[2]);
          if (arr[n]) dups.push(`${m[1]}-${n}`);
          arr[n] = 1;
        }
      }
    }
    const missing: string[] = [];
    for (const s of ['rename', 'copy'] as const) for (let n = 0; n < PER_STREAM; n++) if (!seen[s][n]) missing.push(`${s}-${n}`);
    assert.deepEqual({ bad: bad.slice(0, 5), badCount: bad.length }, { bad: [], badCount: 0 }, 'malformed output lines');
    assert.deepEqual({ dups: dups.slice(0, 10), dupCount: dups.length }, { dups: [], dupCount: 0 }, 'duplicated lines');
    assert.deepEqual({ missing: missing.slice(0, 10), missingCount: missing.length }, { missing: [], missingCount: 0 }, 'missing lines');
    assert.equal(kills, schedule.length, 'every planned kill happened mid-run');
  });
});
