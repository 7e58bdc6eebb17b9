import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Event } from '../../core/event.js';
import { RecordingProcessor, sourceContext, waitUntil } from '../testkit.js';
import { configureSource } from './configure.js';
import { SpoolDirSource, spoolDirSpec } from './spooldir.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A channel whose commits wait until the test releases them, one by one; `failFirst` makes the first one throw once released. */
class HeldProcessor extends RecordingProcessor {
  calls = 0;
  private releases: Array<() => void> = [];
  constructor(private readonly failFirst = false) {
    super();
  }
  override async process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void> {
    const call = ++this.calls;
    await new Promise<void>((r) => this.releases.push(r));
    if (call === 1 && this.failFirst) throw new Error('disk on fire');
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
function fixture(proc: RecordingProcessor) {
  const dir = mkdtempSync(join(tmpdir(), 'monsoon-spool-pipe-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'a.log'), 'a1\na2\na3\n');
  writeFileSync(join(dir, 'b.log'), 'b1\nb2\n');
  utimesSync(join(dir, 'a.log'), new Date(1_000_000), new Date(1_000_000));
  const src = new SpoolDirSource(configureSource(spoolDirSpec, { spoolDir: dir, pollDelay: '20', maxBackoff: '20' }), sourceContext('r1', proc));
  return { dir, src };
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
    const proc = new HeldProcessor(true);
    const f = fixture(proc);
    await f.src.start();
    try {
      await waitUntil(() => proc.waiting === 1 && isOpen(join(f.dir, 'b.log')), 5000, 'b.log read while a.log commits');
      proc.release(); // a.log's commit fails
      for (let i = 0; i < 50 && !existsSync(join(f.dir, 'b.log.COMPLETED')); i++) {
        await waitUntil(() => proc.waiting > 0 || existsSync(join(f.dir, 'b.log.COMPLETED')), 5000, 'the next commit');
        proc.release();
      }
      await waitUntil(() => existsSync(join(f.dir, 'b.log.COMPLETED')), 5000, 'b.log');
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(proc.bodies(), ['a1', 'a2', 'a3', 'b1', 'b2']);
    assert.ok(existsSync(join(f.dir, 'a.log.COMPLETED')));
    assert.equal(f.src.failures.length, 0);
  });

  it('stops only once the batch in flight landed, and finishes its file', async () => {
    const proc = new HeldProcessor();
    const f = fixture(proc);
    await f.src.start();
    await waitUntil(() => proc.waiting === 1, 5000, "a.log's batch to reach the channel");
    let stopped = false;
    const stopping = f.src.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(stopped, false, 'stop waits for the commit in flight');
    proc.release();
    await stopping;
    assert.deepEqual(proc.bodies(), ['a1', 'a2', 'a3']);
    assert.ok(existsSync(join(f.dir, 'a.log.COMPLETED')));
    assert.ok(existsSync(join(f.dir, 'b.log')), 'nothing of b.log was committed');
    assert.equal(proc.calls, 1);
  });
});
