import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorCodes } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { RecordingProcessor, sourceContext, waitUntil } from '../testkit.js';
import { configureSource } from './configure.js';
import { SpoolDirSource, spoolDirSpec } from './spooldir.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A channel whose commits wait until the test releases them, one by one; commit number `failCall` throws once released. */
class HeldProcessor extends RecordingProcessor {
  calls = 0;
  private releases: Array<() => void> = [];
  constructor(private readonly failCall = 0) {
    super();
  }
  override async process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void> {
    const call = ++this.calls;
    await new Promise<void>((r) => this.releases.push(r));
    if (call === this.failCall) throw new Error('disk on fire');
    await super.process(events, markers);
  }
  release(): void {
    this.releases.shift()?.();
  }
  get waiting(): number {
    return this.releases.length;
  }
}

/** Two files, a.log older than b.log, and a source over them with `proc` as its channel. */
function fixture(proc: RecordingProcessor, props: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'monsoon-spool-pipe-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'a.log'), 'a1\na2\na3\n');
  writeFileSync(join(dir, 'b.log'), 'b1\nb2\n');
  utimesSync(join(dir, 'a.log'), new Date(1_000_000), new Date(1_000_000));
  const src = new SpoolDirSource(configureSource(spoolDirSpec, { spoolDir: dir, pollDelay: '20', maxBackoff: '20', ...props }), sourceContext('r1', proc));
  return { dir, src };
}

/** Releases the held commits one by one until `done`. */
async function releaseUntil(proc: HeldProcessor, done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) {
    await waitUntil(() => proc.waiting > 0 || done(), 5000, 'the next commit');
    proc.release();
  }
  await waitUntil(done, 5000, 'the files to be consumed');
}

/** Whether this process has `path` open (Linux: /proc/self/fd). */
function isOpen(path: string): boolean {
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

describe('spooldir source: commits overlap reading', () => {
  it('reads the next file while the batch before it commits, and commits in order', async () => {
    const proc = new HeldProcessor();
    const f = fixture(proc);
    await f.src.start();
    try {
      await waitUntil(() => proc.waiting === 1, 5000, "a.log's batch to reach the channel");
      // a.log's commit is held: the source has gone on to b.log meanwhile
      await waitUntil(() => isOpen(join(f.dir, 'b.log')), 5000, 'b.log to be opened while a.log commits');
      assert.equal(proc.calls, 1, "b.log's batch waits for a.log's to land");
      assert.ok(existsSync(join(f.dir, 'a.log')), 'a.log stays until its batch landed');
      proc.release();
      await waitUntil(() => proc.waiting === 1 && proc.calls === 2, 5000, "b.log's batch to reach the channel");
      assert.ok(existsSync(join(f.dir, 'a.log.COMPLETED')));
      proc.release();
      await waitUntil(() => existsSync(join(f.dir, 'b.log.COMPLETED')), 5000, 'b.log');
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(proc.bodies(), ['a1', 'a2', 'a3', 'b1', 'b2']);
  });

  it('drops what it read after a batch that failed and resumes from the marker: every line once, in order', async () => {
    const proc = new HeldProcessor(1);
    const f = fixture(proc);
    await f.src.start();
    try {
      await waitUntil(() => proc.waiting === 1 && isOpen(join(f.dir, 'b.log')), 5000, 'b.log read while a.log commits');
      proc.release(); // a.log's commit fails
      await releaseUntil(proc, () => existsSync(join(f.dir, 'b.log.COMPLETED')));
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(proc.bodies(), ['a1', 'a2', 'a3', 'b1', 'b2']);
    assert.ok(existsSync(join(f.dir, 'a.log.COMPLETED')));
    assert.equal(f.src.failures.length, 0);
  });

  it('a file of several batches whose middle commit fails: each line once, identities unique and in order', async () => {
    const proc = new HeldProcessor(2);
    const f = fixture(proc, { batchSize: '2' });
    writeFileSync(join(f.dir, 'a.log'), 'a1\na2\na3\na4\na5\n');
    utimesSync(join(f.dir, 'a.log'), new Date(1_000_000), new Date(1_000_000));
    await f.src.start();
    try {
      await releaseUntil(proc, () => existsSync(join(f.dir, 'b.log.COMPLETED')));
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(proc.bodies(), ['a1', 'a2', 'a3', 'a4', 'a5', 'b1', 'b2']);
    const ids = proc.events.map((e) => `${e.headers['monsoon.origin']}#${e.headers['monsoon.seq']}`);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(proc.events.slice(0, 5).map((e) => e.headers['monsoon.seq']), ['0', '1', '2', '3', '4']);
    assert.equal(proc.calls, proc.batches + 1, 'the failed commit was tried again');
  });

  it('counts the batch in flight as backlog, also once the file has been read to its end', async () => {
    const proc = new (class extends RecordingProcessor {
      attempts = 0;
      override async process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void> {
        this.attempts++;
        this.failNext = 1; // the channel stays full
        return super.process(events, markers);
      }
    })();
    const f = fixture(proc);
    rmSync(join(f.dir, 'b.log'));
    await f.src.start();
    try {
      await waitUntil(() => proc.attempts >= 3, 5000, 'a.log to be retried against the full channel');
      assert.equal(f.src.backlog(), 'a1\na2\na3\n'.length);
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(proc.bodies(), []);
  });

  it('leaves a file that grew while its last batch committed in place, reported, instead of deleting unread lines', async () => {
    const proc = new HeldProcessor();
    const f = fixture(proc, { deletePolicy: 'immediate' });
    rmSync(join(f.dir, 'b.log'));
    await f.src.start();
    try {
      await waitUntil(() => proc.waiting === 1, 5000, "a.log's batch to reach the channel");
      appendFileSync(join(f.dir, 'a.log'), 'a4\n');
      proc.release();
      await waitUntil(() => f.src.failures.length > 0, 5000, 'a.log to be reported');
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(proc.bodies(), ['a1', 'a2', 'a3']);
    assert.equal(f.src.failures[0]!.code, ErrorCodes.SOURCE_FILE_CHANGED);
    assert.equal(readFileSync(join(f.dir, 'a.log'), 'utf8'), 'a1\na2\na3\na4\n');
  });

  it('stops only once the batch in flight landed, and finishes its file', async () => {
    const proc = new HeldProcessor();
    const f = fixture(proc);
    await f.src.start();
    await waitUntil(() => proc.waiting === 1, 5000, "a.log's batch to reach the channel");
    let stopped = false;
    const stopping = f.src.stop().then(() => (stopped = true));
    try {
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(stopped, false, 'stop waits for the commit in flight');
    } finally {
      proc.release();
      await stopping;
    }
    assert.deepEqual(proc.bodies(), ['a1', 'a2', 'a3']);
    assert.ok(existsSync(join(f.dir, 'a.log.COMPLETED')));
    assert.ok(existsSync(join(f.dir, 'b.log')), 'nothing of b.log was committed');
    assert.equal(proc.calls, 1);
  });
});
