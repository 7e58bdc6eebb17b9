import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { appendFile, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadPos } from './line-reader.js';

/**
 * Spool progress: which file is being read and up to which byte. It travels as a channel marker,
 * committed with each batch; a copy goes to Flume's tracker file for people to look at, and files
 * that failed (changed after pickup, undecodable, unrenamable) are listed beside it so they are
 * skipped after a restart too.
 */
export interface Progress {
  path: string;
  /** File identity: inode, size at pickup and a hash of the first bytes. */
  id: string;
  ino: number;
  offset: number;
  /** Events delivered from this file so far: the identity sequence of the next one. */
  seq?: number;
  split?: ReadPos['split'];
  /** The whole file is committed; only the rename or delete may be left to do. */
  done?: boolean;
}

const HASH_BYTES = 4096;

export async function fileIdentity(path: string, st: Stats): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const n = Math.min(HASH_BYTES, st.size);
    const buf = Buffer.alloc(n);
    if (n > 0) await fh.read(buf, 0, n, 0);
    return `${st.ino}-${st.size}-${createHash('sha256').update(buf).digest('hex').slice(0, 16)}`;
  } finally {
    await fh.close();
  }
}

export function parseProgress(s: string | undefined): Progress | undefined {
  if (s === undefined) return undefined;
  try {
    const p = JSON.parse(s) as Progress;
    return typeof p.path === 'string' && typeof p.id === 'string' && typeof p.offset === 'number' ? p : undefined;
  } catch {
    return undefined;
  }
}

export class TrackerDir {
  private readonly metaFile: string;
  private readonly failedFile: string;
  /** The identities (fileIdentity) that failed, by path: a later, different file of that name is read. */
  private readonly failed = new Map<string, Set<string>>();
  /** The newest position not yet written, the write in flight, and the error of one that failed. */
  private metaNext: Progress | undefined;
  private metaWriting: Promise<void> | undefined;
  private metaError: unknown;

  constructor(readonly dir: string) {
    this.metaFile = join(dir, '.flumespool-main.meta');
    this.failedFile = join(dir, '.monsoon-failed');
  }

  async load(): Promise<void> {
    let text = '';
    try {
      text = await readFile(this.failedFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as { path: string; id: string; ids?: string[] };
        this.remember(r.path, Array.isArray(r.ids) ? r.ids : [r.id]);
      } catch {
        // A torn last line after a crash; the file is flagged again when it is met.
      }
    }
  }

  /**
   * Records the reading position in the tracker directory's meta file, as Flume's tracker does. The
   * channel's marker is what a restart resumes from, so the reader does not wait for this write: at
   * most one is in flight and only the newest position waits behind it (a write through libuv's
   * busy thread pool had cost the reading loop ~5 ms per batch). A failed write is thrown by the
   * next call, or by `settled`.
   */
  writeMeta(p: Progress): void {
    this.throwMetaError();
    this.metaNext = p;
    this.metaWriting ??= this.writeMetas();
  }

  /** Waits for the meta writes in flight; throws the error of one that failed. */
  async settled(): Promise<void> {
    while (this.metaWriting) await this.metaWriting;
    this.throwMetaError();
  }

  private async writeMetas(): Promise<void> {
    try {
      for (let p = this.metaNext; p; p = this.metaNext) {
        this.metaNext = undefined;
        await writeFile(this.metaFile, JSON.stringify(p) + '\n');
      }
    } catch (e) {
      this.metaError = e;
      this.metaNext = undefined;
    } finally {
      this.metaWriting = undefined;
    }
  }

  private throwMetaError(): void {
    const e = this.metaError;
    if (e === undefined) return;
    this.metaError = undefined;
    throw e;
  }

  /** Whether the file of `path` with identity `id` failed before. */
  hasFailed(path: string, id: string): boolean {
    return this.failed.get(path)?.has(id) ?? false;
  }

  /** Whether some file of this name failed before (its identity must then be compared). */
  mayHaveFailed(path: string): boolean {
    return this.failed.has(path);
  }

  /** Records a failed file under each of its identities (as picked up and, if it changed, as it is now). */
  async addFailed(path: string, ids: readonly string[], code: string, reason: string): Promise<void> {
    this.remember(path, ids);
    await appendFile(this.failedFile, JSON.stringify({ path, id: ids[0], ids, code, reason, at: new Date().toISOString() }) + '\n');
  }

  private remember(path: string, ids: readonly string[]): void {
    let set = this.failed.get(path);
    if (!set) this.failed.set(path, (set = new Set()));
    for (const id of ids) if (typeof id === 'string') set.add(id);
  }
}
