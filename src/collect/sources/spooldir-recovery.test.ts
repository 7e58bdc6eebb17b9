import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Event } from '../../core/event.js';
import { RecordingProcessor, sourceContext, waitUntil } from '../testkit.js';
import { configureSource } from './configure.js';
import { fileIdentity } from './spool/progress.js';
import { SpoolDirSource, spoolDirSpec } from './spooldir.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Commits `okBatches` batches, then refuses everything, like a channel that died with the process. */
class CrashingProcessor extends RecordingProcessor {
  constructor(private okBatches: number) {
    super();
  }
  override async process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void> {
    if (this.okBatches-- <= 0) this.failNext = 1;
    await super.process(events, markers);
  }
  revive(): void {
    this.okBatches = Number.MAX_SAFE_INTEGER;
  }
}

function source(dir: string, proc: RecordingProcessor, props: Record<string, string> = {}) {
  return new SpoolDirSource(configureSource(spoolDirSpec, { spoolDir: dir, pollDelay: '20', ...props }), sourceContext('r1', proc));
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'monsoon-spool-'));
  dirs.push(d);
  return d;
}

async function crashAndResume(content: string, props: Record<string, string>, okBatches: number) {
  const dir = tempDir();
  writeFileSync(join(dir, 'data.log'), content);
  const proc = new CrashingProcessor(okBatches);
  const first = source(dir, proc, props);
  await first.start();
  await waitUntil(() => proc.batches === okBatches && proc.failNext === 0 && first.backlog() > 0, 10_000, 'the first source to stall');
  await first.stop();
  assert.ok(existsSync(join(dir, 'data.log')), 'the file is not finished before the crash');
  proc.revive();
  const second = source(dir, proc, props);
  await second.start();
  try {
    await waitUntil(() => existsSync(join(dir, 'data.log.COMPLETED')), 10_000, 'the resumed source to finish the file');
  } finally {
    await second.stop();
  }
  return proc;
}

describe('spooldir source recovery', () => {
  it('resumes mid-file from the committed marker without loss or duplicates', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `line-${i}`);
    const proc = await crashAndResume(lines.join('\n') + '\n', { batchSize: '10' }, 7);
    assert.deepEqual(proc.bodies(), lines);
    assert.equal(new Set(proc.events.map((e) => e.headers['monsoon.seq'])).size, 1000);
  });

  it('resumes part way up the batch-size ramp, the restarted source ramping again from its first size', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `line-${i}`);
    // the first source commits batches of 64 and 128 lines, then stops while its 256-line batch is refused
    const proc = await crashAndResume(lines.join('\n') + '\n', { batchSize: '500' }, 2);
    assert.deepEqual(proc.sizes, [64, 128, 64, 128, 256, 500, 500, 360]);
    assert.deepEqual(proc.bodies(), lines);
    assert.equal(new Set(proc.events.map((e) => e.headers['monsoon.seq'])).size, 2000);
  });

  it('resumes in the middle of a split line', async () => {
    const long = 'x'.repeat(25) + 'é'.repeat(30) + 'y'.repeat(45);
    const proc = await crashAndResume(`a\n${long}\nz\n`, { batchSize: '3', 'deserializer.maxLineLength': '10' }, 2);
    const bodies = proc.bodies();
    assert.equal(bodies[0], 'a');
    assert.equal(bodies.slice(1, -1).join(''), long);
    assert.equal(bodies.length, 12);
    assert.equal(bodies.at(-1), 'z');
    assert.deepEqual(proc.events.slice(1, -1).map((e) => e.headers['monsoon.split']), Array.from({ length: 10 }, (_, i) => `${i + 1}/10`));
  });

  it('finishes the rename after a crash between the last commit and the rename', async () => {
    const dir = tempDir();
    const path = join(dir, 'done.log');
    writeFileSync(path, 'one\ntwo\n');
    const st = statSync(path);
    const proc = new RecordingProcessor();
    const id = await fileIdentity(path, st);
    proc.markers.set('spooldir:r1', JSON.stringify({ path, id, ino: st.ino, offset: st.size, done: true }));
    const src = source(dir, proc);
    await src.start();
    try {
      await waitUntil(() => existsSync(`${path}.COMPLETED`), 10_000, 'the rename');
    } finally {
      await src.stop();
    }
    assert.equal(proc.events.length, 0, 'nothing is delivered twice');
  });

  it('rejects unsupported deserializers and charsets with clear messages', () => {
    assert.throws(() => configureSource(spoolDirSpec, { spoolDir: '/tmp', deserializer: 'AVRO' }), /deserializer.*AVRO is not supported; only LINE/);
    assert.throws(() => configureSource(spoolDirSpec, { spoolDir: '/tmp', inputCharset: 'EBCDIC' }), /inputCharset: charset EBCDIC is not supported/);
    assert.throws(() => configureSource(spoolDirSpec, {}), /a1\.sources\.r1\.spoolDir: is required/);
  });
});
