import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../src/compute/runtime/local.js';
import wordcountFiles from './fixtures/wordcount-files-topology.js';
import { kill9, spawnMonsoon } from './support/procs.js';

/**
 * `--workers 2`: the same word count in two worker processes gives the same per-task counts as the
 * local runtime — every word at the same count task, with the same count.
 */
const fixture = fileURLToPath(new URL('./fixtures/wordcount-files-topology.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'monsoon-workers-'));
after(() => rmSync(root, { recursive: true, force: true }));

function countFiles(dir: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const f of readdirSync(dir).filter((f) => f.startsWith('count-')).sort()) out[f] = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, number>;
  return out;
}

async function waitFor(cond: () => boolean, what: string, ms: number, tail = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a word count with --workers 2 routes and counts exactly as the local runtime', async () => {
  const localDir = join(root, 'local');
  const workersDir = join(root, 'workers');
  for (const d of [localDir, workersDir]) rmSync(d, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => Promise.all([fs.mkdir(localDir), fs.mkdir(workersDir)]));

  const cluster = new LocalCluster();
  await cluster.submitTopology('wc', { 'wc.dir': localDir }, wordcountFiles());
  await waitFor(() => readdirSync(localDir).some((f) => f.endsWith('.done')), 'the local run to ack every sentence', 30_000);
  await cluster.shutdown();
  const local = countFiles(localDir);
  assert.equal(Object.keys(local).length, 4);

  const p = spawnMonsoon(['topology', 'submit', fixture, '--name', 'wc', '--workers', '2', '--no-api', '-c', `wc.dir=${workersDir}`], { MONSOON_LOG_LEVEL: 'info' });
  try {
    await waitFor(() => readdirSync(workersDir).some((f) => f.endsWith('.done')), 'the two workers to ack every sentence', 40_000, p.tail);
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0, p.tail());
    // the executors were dealt over both processes: count tasks on each side, so words crossed links
    const started = p.output().split('\n').filter((l) => l.includes('"msg":"worker ')).map((l) => JSON.parse(l) as { worker: number; pid: number; tasks: number[] });
    assert.equal(new Set(started.map((s) => s.pid)).size, 2, p.output());
    for (const s of started) assert.ok(s.tasks.some((t) => t >= 1 && t <= 4), `worker ${s.worker} runs a count task: ${JSON.stringify(s.tasks)}`);
  } finally {
    await kill9(p);
  }
  const workers = countFiles(workersDir);
  assert.deepEqual(workers, local);
  const words = Object.values(local).flatMap((c) => Object.keys(c));
  assert.equal(new Set(words).size, words.length, 'each word counted by one task');
});
