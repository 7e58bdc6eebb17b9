import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { FileHarness, fileConfig } from './file/test-support.js';

/**
 * Crash safety: a child process runs three producers and one consumer on a file channel and reports
 * each commit on stdout after it returns; it is killed with SIGKILL mid-run. The reopened channel
 * must hold every reported put exactly once, in order, and nothing a committed take removed.
 */
const WRITERS = 3;
const BATCH = 100;

const childScript = (cfg: object) => `
import { FileChannel } from ${JSON.stringify(new URL('./file.js', import.meta.url).href)};
import { MetricsRegistry, ChannelCounterNames } from ${JSON.stringify(new URL('../../core/metrics.js', import.meta.url).href)};
import { silentLogger } from ${JSON.stringify(new URL('../../core/log.js', import.meta.url).href)};
const metrics = new MetricsRegistry('a1');
const ctx = { agent: 'a1', agentId: 't/a1', name: 'c1', log: silentLogger, metrics, dataDir: ${JSON.stringify(tmpdir())}, counters: metrics.component('CHANNEL', 'c1', ChannelCounterNames) };
const ch = new FileChannel('c1', ${JSON.stringify(cfg)}, ctx);
await ch.start();
const body = Buffer.alloc(200, 97);
async function producer(w) {
  for (let n = 0; ; n += ${BATCH}) {
    const tx = ch.transaction();
    const events = [];
    for (let i = 0; i < ${BATCH}; i++) events.push({ headers: { w: String(w), n: String(n + i) }, body });
    tx.put(events);
    await tx.commit({ ['put' + w]: String(n + ${BATCH} - 1) });
    process.stdout.write('P ' + w + ' ' + (n + ${BATCH} - 1) + '\\n');
  }
}
async function consumer() {
  for (;;) {
    const tx = ch.transaction();
    const got = await tx.take(250);
    const last = {};
    for (const e of got) last['take' + e.headers.w] = e.headers.n;
    await tx.commit(last);
    for (const [k, v] of Object.entries(last)) process.stdout.write('T ' + k.slice(4) + ' ' + v + '\\n');
    await new Promise((r) => setTimeout(r, got.length ? 2 : 10));
  }
}
await Promise.all([0, 1, 2].map(producer).concat([consumer()]));
`;

async function crashRun(killAfterPuts: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-crash-'));
  const cfg = fileConfig({ checkpointDir: join(dir, 'ck'), dataDirs: join(dir, 'data'), maxFileSize: 256 * 1024, checkpointInterval: 100, capacity: 1_000_000 });
  const script = join(dir, 'child.mjs');
  await writeFile(script, childScript(cfg));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lastPut = new Array<number>(WRITERS).fill(-1);
  const lastTake = new Array<number>(WRITERS).fill(-1);
  let puts = 0;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for await (const line of createInterface({ input: child.stdout! })) {
    const [kind, w, n] = line.split(' ');
    const arr = kind === 'P' ? lastPut : lastTake;
    assert.ok(Number(n) > arr[Number(w)]!, `reports of writer ${w} increase`);
    arr[Number(w)] = Number(n);
    if (kind === 'P' && ++puts === killAfterPuts) child.kill('SIGKILL');
  }
  await exited;
  assert.equal(child.signalCode, 'SIGKILL', 'the child was killed, not finished');

  const h = new FileHarness(cfg);
  try {
    const ch = await h.reopen();
    const remaining: number[][] = Array.from({ length: WRITERS }, () => []);
    for (;;) {
      const tx = ch.transaction();
      const got = await tx.take(1000);
      await tx.commit();
      if (got.length === 0) break;
      for (const e of got) remaining[Number(e.headers.w)]!.push(Number(e.headers.n));
    }
    for (let w = 0; w < WRITERS; w++) {
      const taken = Number(ch.marker(`take${w}`) ?? -1);
      const put = Number(ch.marker(`put${w}`) ?? -1);
      const rest = remaining[w]!;
      assert.ok(taken >= lastTake[w]!, `writer ${w}: take marker ${taken} covers the reported take ${lastTake[w]}`);
      assert.ok(put >= lastPut[w]!, `writer ${w}: put marker ${put} covers the reported put ${lastPut[w]}`);
      assert.equal((put + 1) % BATCH, 0, `writer ${w}: whole batches only`);
      // Exactly the events after the last committed take up to the last committed put, once each, in order.
      const expected = Array.from({ length: put - taken }, (_, i) => taken + 1 + i);
      assert.deepEqual(rest, expected, `writer ${w}: remaining events`);
    }
  } finally {
    await h.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('file channel survives kill -9', () => {
  for (const killAfter of [3, 25, 90, 160]) {
    it(`keeps every reported commit exactly once, in order (killed after ${killAfter} put commits)`, async () => {
      await crashRun(killAfter);
    });
  }
});
