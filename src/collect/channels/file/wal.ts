import { fsyncDir, writevAll } from '../../../core/fs.js';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOCK, DIRECT_CREATE_FLAGS, isZeroPaddedEnd, type Staging } from './direct.js';
import { FRAME, MAGIC, MAX_RECORD, MalformedRecord, REC_COMMIT, REC_EVENT, decodeCommit, frameAt, type CommitRecord, type Pointer } from './records.js';

/**
 * The log files of a file channel: `log-<id>` spread round-robin over the data directories, appended
 * by one LogWriter with group commit, scanned at recovery.
 */
export interface LogPosition {
  f: number;
  o: number;
}

export const dataFilePath = (dirs: readonly string[], id: number): string => join(dirs[id % dirs.length]!, `log-${id}`);

/** Every data file present, by id. */
export async function listDataFiles(dirs: readonly string[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const d of dirs) {
    for (const name of await readdir(d)) {
      const m = /^log-(\d+)$/.exec(name);
      if (m) out.set(Number(m[1]), join(d, name));
    }
  }
  return out;
}

interface Pending {
  buf: Buffer;
  apply: (f: number, o: number) => void;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A group of appends whose bytes were written (or failed to be), before its sync. */
interface Written {
  placed: LogPosition[];
  fh: FileHandle | undefined;
  /** The log position right after the group. */
  end: LogPosition;
  /** Whether the group is in the same file right after the previous group's bytes (so it is lost if they are). */
  follows: boolean;
  error?: unknown;
}

/**
 * Appends transactions to the log. Appends that arrive while a group is being written queue up and
 * share the next write+fdatasync (group commit). The next group is written while the previous one
 * syncs (two fdatasyncs may run at once), so an append that arrives during a sync does not wait for
 * it before its own bytes go out. Groups still complete in log order: `apply` callbacks run in log
 * order right after the data is durable, before any append promise resolves, so in-memory state
 * always matches a log prefix. A group written right after one that failed fails too (its bytes may
 * follow garbage), and later groups go to a fresh file.
 */
export class LogWriter {
  private fh: FileHandle | undefined;
  private offset = 0;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private arrived: (() => void) | undefined;
  private needRoll = false;
  /** fdatasync calls made for appends; fewer than appends when commits were grouped. */
  syncs = 0;
  /** The log position up to which every append has been applied. */
  applied: LogPosition;

  /**
   * @param direct aligned memory for direct (O_DIRECT) writes (see direct.ts); without it the log is
   *   written through the page cache.
   */
  constructor(
    private readonly dirs: readonly string[],
    private readonly maxFileSize: number,
    private fileId: number,
    private readonly direct?: Staging,
  ) {
    this.applied = { f: fileId, o: MAGIC.length };
  }

  /** Whether appends bypass the page cache. */
  get directIo(): boolean {
    return this.direct !== undefined;
  }

  get currentFile(): number {
    return this.fileId;
  }

  async open(): Promise<void> {
    await this.create(this.fileId);
    this.applied = { f: this.fileId, o: this.offset };
  }

  private async create(id: number): Promise<void> {
    const path = dataFilePath(this.dirs, id);
    const direct = this.direct;
    const fh = await open(path, direct ? DIRECT_CREATE_FLAGS : 'w');
    try {
      if (direct) {
        direct.reset();
        await direct.append(fh, [MAGIC], 0);
      } else await writevAll(fh, [MAGIC], 0);
      await fh.datasync();
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
    await fsyncDir(this.dirs[id % this.dirs.length]!);
    this.fh = fh;
    this.fileId = id;
    this.offset = MAGIC.length;
  }

  private async roll(): Promise<void> {
    const old = this.fh;
    this.fh = undefined;
    if (old) await old.close().catch(() => {});
    await this.create(this.fileId + 1);
    this.needRoll = false;
  }

  append(buf: Buffer, apply: (f: number, o: number) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ buf, apply, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
      else this.arrived?.();
    });
  }

  /** Resolves when no append is queued or in flight. */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  async close(): Promise<void> {
    await this.idle();
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
  }

  private async flushLoop(): Promise<void> {
    // `last`: the completion of the newest group (true when it was applied); `before`: of the one
    // ahead of it. A group is written only once `before` completed: at most two groups sync at once.
    let last: Promise<boolean> = Promise.resolve(true);
    let before = last;
    try {
      for (;;) {
        if (this.pending.length === 0) {
          const arrival = new Promise<boolean>((r) => (this.arrived = () => r(false)));
          const settled = await Promise.race([last.then(() => true), arrival]);
          this.arrived = undefined;
          if (settled && this.pending.length === 0) return;
          continue;
        }
        await before;
        const group = this.pending.splice(0);
        const prev = last;
        const written = await this.write(group, prev);
        before = prev;
        last = this.complete(group, written, prev);
      }
    } finally {
      this.arrived = undefined;
      this.flushing = undefined;
    }
  }

  /** Places and writes a group; a group that may roll to a new file first waits for `prev`. */
  private async write(group: Pending[], prev: Promise<boolean>): Promise<Written> {
    const placed: LogPosition[] = [];
    let total = 0;
    for (const p of group) total += p.buf.length;
    // A roll closes the file the previous group may still be syncing; and after a failed group
    // (which sets needRoll) nothing may be written behind its bytes.
    const serial = this.needRoll || !this.fh || this.offset + total > this.maxFileSize;
    let follows = !serial;
    try {
      if (serial) {
        await prev;
        if (this.needRoll || !this.fh) await this.roll();
        follows = false;
      }
      let chunk: Buffer[] = [];
      let chunkPos = this.offset;
      for (const p of group) {
        if (this.offset > MAGIC.length && this.offset + p.buf.length > this.maxFileSize) {
          await this.writeChunk(chunk, chunkPos);
          await this.fh!.datasync();
          await this.roll();
          chunk = [];
          chunkPos = this.offset;
        }
        placed.push({ f: this.fileId, o: this.offset });
        chunk.push(p.buf);
        this.offset += p.buf.length;
      }
      await this.writeChunk(chunk, chunkPos);
      return { placed, fh: this.fh, end: { f: this.fileId, o: this.offset }, follows };
    } catch (e) {
      // What was written is unknown; later appends go to a fresh file so they never follow garbage.
      this.needRoll = true;
      return { placed, fh: this.fh, end: { f: this.fileId, o: this.offset }, follows, error: e };
    }
  }

  /** Syncs a written group, then (after `prev` completed) applies and resolves it, or rejects it. */
  private async complete(group: Pending[], w: Written, prev: Promise<boolean>): Promise<boolean> {
    let error = w.error;
    if (error === undefined) {
      try {
        await w.fh!.datasync();
        this.syncs++;
      } catch (e) {
        error = e;
        this.needRoll = true;
      }
    }
    if (!(await prev) && w.follows && error === undefined) {
      error = new Error(`an earlier append to ${dataFilePath(this.dirs, w.end.f)} failed and this one was written after it`);
    }
    if (error !== undefined) {
      this.needRoll = true;
      for (const p of group) p.reject(error);
      return false;
    }
    for (let i = 0; i < group.length; i++) group[i]!.apply(w.placed[i]!.f, w.placed[i]!.o);
    this.applied = w.end;
    for (const p of group) p.resolve();
    return true;
  }

  private async writeChunk(chunk: Buffer[], pos: number): Promise<void> {
    if (chunk.length === 0) return;
    if (this.direct) await this.direct.append(this.fh!, chunk, pos);
    else await writevAll(this.fh!, chunk, pos);
  }
}

export interface ScanHandlers {
  /** A committed transaction: the pointers of its events and its commit record. */
  commit(puts: Pointer[], rec: CommitRecord): void;
  /** A damaged or torn record at `offset`; the file is truncated there and its scan ends. */
  corrupt(offset: number, reason: string): void;
}

/** Bytes the recovery scan reads at a time. */
export const SCAN_CHUNK = 4 * 1024 * 1024;

/**
 * Replays one data file from `from`, reading it in large chunks. Records after the first damaged one
 * cannot be framed reliably, so the file is cut there; other files are unaffected.
 */
export async function scanFile(path: string, id: number, from: number, h: ScanHandlers): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const size = (await fh.stat()).size;
    if (size < MAGIC.length) return; // created but never written: holds nothing
    const head = Buffer.alloc(MAGIC.length);
    await fh.read(head, 0, MAGIC.length, 0);
    if (!head.equals(MAGIC)) {
      h.corrupt(0, 'not a file channel data file (bad header)');
      return;
    }
    let buf = Buffer.alloc(0);
    let bufPos = 0;
    const refill = async (p: number, n: number) => {
      const len = Math.min(n, size - p);
      buf = Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(buf, 0, len, p);
      buf = buf.subarray(0, bytesRead);
      bufPos = p;
    };
    let pending: Pointer[] = [];
    let pos = Math.max(from, MAGIC.length);
    const cut = async (reason: string) => {
      h.corrupt(pos, reason);
      await fh.truncate(pos);
    };
    while (pos < size) {
      // a record header at hand, or, within the file's last block, all of its rest (see isZeroPaddedEnd)
      if (pos - bufPos + (size - pos < BLOCK ? size - pos : FRAME) > buf.length) await refill(pos, SCAN_CHUNK);
      const at = pos - bufPos;
      const len = at + FRAME <= buf.length ? buf.readUInt32LE(at) : -1;
      // the zeros a direct append leaves after the last record: the file's clean end
      if (len <= 0 && isZeroPaddedEnd(buf, at, buf.length - at, pos, size)) return;
      if (len < 0) return cut('torn record header at the end of the file');
      if (len === 0 || len > MAX_RECORD) return cut(`impossible record length ${len}`);
      if (pos + FRAME + len > size) return cut(`record of ${len} bytes runs past the end of the file (torn write)`);
      if (pos - bufPos + FRAME + len > buf.length) await refill(pos, Math.max(SCAN_CHUNK, FRAME + len));
      const fr = frameAt(buf, pos - bufPos);
      if (!fr.ok) return cut(fr.reason === 'torn' ? 'torn record' : 'checksum mismatch');
      if (fr.type === REC_EVENT) {
        pending.push({ f: id, o: pos, l: FRAME + len });
      } else if (fr.type === REC_COMMIT) {
        let rec: CommitRecord;
        try {
          rec = decodeCommit(buf, fr.start, fr.end);
        } catch (e) {
          if (e instanceof MalformedRecord) return cut(`malformed commit record: ${e.message}`);
          throw e;
        }
        h.commit(rec.putCount === pending.length ? pending : pending.slice(pending.length - rec.putCount), rec);
        pending = [];
      } else {
        return cut(`unknown record type ${fr.type}`);
      }
      pos += FRAME + len;
    }
  } finally {
    await fh.close();
  }
}
