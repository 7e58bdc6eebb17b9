import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { waitUntil } from '../../src/collect/testkit.js';
import { readJournal } from './spool-child.js';

const child = join(dirname(fileURLToPath(import.meta.url)), 'spool-child.js');
const work = mkdtempSync(join(tmpdir(), 'monsoon-spool-kill-'));
const running = new Set<ChildProcess>();
after(() => {
  for (const c of running) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

function startChild(dir: string, journal: string): ChildProcess {
  const c = spawn(process.execPath, [child, dir, journal], { stdio: 'inherit' });
  running.add(c);
  c.on('exit', () => running.delete(c));
  return c;
}

async function kill9(c: ChildProcess): Promise<void> {
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
}

describe('spooldir source under kill -9', () => {
  it('delivers every line exactly once across two SIGKILLs', async () => {
    const dir = join(work, 'spool');
    const journal = join(work, 'journal');
    mkdirSync(dir);
    const lines = Array.from({ length: 20_000 }, (_, i) => `event-${i}`);
    writeFileSync(join(dir, 'data.log'), lines.join('\n') + '\n');
    const batches = () => readJournal(journal).length;

    for (const killAt of [200, 700]) {
      const c = startChild(dir, journal);
      await waitUntil(() => batches() >= killAt, 15_000, `${killAt} committed batches`);
      await kill9(c);
      assert.ok(existsSync(join(dir, 'data.log')), 'killed before the end of the file');
    }
    const c = startChild(dir, journal);
    try {
      await waitUntil(() => existsSync(join(dir, 'data.log.COMPLETED')), 15_000, 'the file to be finished');
    } finally {
      await kill9(c);
    }
    const committed = readJournal(journal);
    assert.deepEqual(committed.flatMap((l) => l.bodies), lines);
    assert.equal(new Set(committed.flatMap((l) => l.seqs)).size, lines.length);
  });

  it('many small files (the next one read while a commit is in flight): every line exactly once across two SIGKILLs', async () => {
    const dir = join(work, 'spool-many');
    const journal = join(work, 'journal-many');
    mkdirSync(dir);
    const files = Array.from({ length: 80 }, (_, f) => `f${String(f).padStart(3, '0')}.log`);
    const linesOf = (name: string) => Array.from({ length: 25 }, (_, i) => `${name}-${i}`);
    for (const name of files) writeFileSync(join(dir, name), linesOf(name).join('\n') + '\n');
    const batches = () => readJournal(journal).length;
    for (const killAt of [40, 130]) {
      const c = startChild(dir, journal);
      await waitUntil(() => batches() >= killAt, 15_000, `${killAt} committed batches`);
      await kill9(c);
    }
    const done = () => files.every((n) => existsSync(join(dir, `${n}.COMPLETED`)));
    assert.ok(!done(), 'killed before the last file');
    const c = startChild(dir, journal);
    try {
      await waitUntil(done, 15_000, 'every file to be finished');
    } finally {
      await kill9(c);
    }
    const bodies = readJournal(journal).flatMap((l) => l.bodies);
    assert.equal(new Set(bodies).size, bodies.length, 'no line twice');
    assert.deepEqual([...bodies].sort(), files.flatMap(linesOf).sort());
    // each file's lines in order
    for (const name of files) assert.deepEqual(bodies.filter((b) => b.startsWith(`${name}-`)), linesOf(name));
  });
});
