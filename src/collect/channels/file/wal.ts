import { fsyncDir } from '../../../core/fs.js';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
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

async function writeAll(fh: FileHandle, buf: Buffer, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, pos + done);
    done += bytesWritten;
  }
}

/** Writes `bufs` back to back at `pos` without joining them first. */
async function writeAllv(fh: FileHandle, bufs: Buffer[], pos: number): Promise<void> {
  let left = bufs;
  while (left.length > 0) {
    const { bytesWritten } = await fh.writev(left, pos);
    pos += bytesWritten;
    let n = bytesWritten;
    let i = 0;
    while (i < left.length && n >= left[i]!.length) n -= left[i++]!.length;
    left = left.slice(i);
    if (n > 0) left[0] = left[0]!.subarray(n);
  }
}

interface Pending {
  buf: Buffer;
  apply: (f: number, o: number) => void;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Appends transactions to the log. Appends that arrive while a write+fdatasync is in flight queue up
 * and share the next one (group commit). `apply` callbacks run in log order right after the data is
 * durable, before any append promise resolves, so in-memory state always matches a log prefix.
 */
export class LogWriter {
  private fh: FileHandle | undefined;
  private offset = 0;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private needRoll = false;
  /** fdatasync calls made for appends; fewer than appends when commits were grouped. */
  syncs = 0;
  /** The log position up to which every append has been applied. */
  applied: LogPosition;

  constructor(
    private readonly dirs: readonly string[],
    private readonly maxFileSize: number,
    private fileId: number,
  ) {
    this.applied = { f: fileId, o: MAGIC.length };
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
    const fh = await open(path, 'w');
    await writeAll(fh, MAGIC, 0);
    await fh.datasync();
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
    try {
      while (this.pending.length > 0) await this.flushBatch(this.pending.splice(0));
    } finally {
      this.flushing = undefined;
    }
  }

  private async flushBatch(batch: Pending[]): Promise<void> {
    const placed: LogPosition[] = [];
    try {
      if (this.needRoll || !this.fh) await this.roll();
      let chunk: Buffer[] = [];
      let chunkPos = this.offset;
      for (const p of batch) {
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
      await this.fh!.datasync();
      this.syncs++;
    } catch (e) {
      // What was written is unknown; later appends go to a fresh file so they never follow garbage.
      this.needRoll = true;
      for (const p of batch) p.reject(e);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.apply(placed[i]!.f, placed[i]!.o);
    this.applied = { f: this.fileId, o: this.offset };
    for (const p of batch) p.resolve();
  }

  private async writeChunk(chunk: Buffer[], pos: number): Promise<void> {
    if (chunk.length === 0) return;
    if (chunk.length === 1) await writeAll(this.fh!, chunk[0]!, pos);
    else await writeAllv(this.fh!, chunk, pos);
  }
}

export interface ScanHandlers {
  /** A committed transaction: the pointers of its events and its commit record. */
  commit(puts: Pointer[], rec: CommitRecord): void;
  /** A damaged or torn record at `offset`; the file is truncated there and its scan ends. */
  corrupt(offset: number, reason: string): void;
}

const CHUNK = 4 * 1024 * 1024;

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
      if (pos - bufPos + FRAME > buf.length) await refill(pos, CHUNK);
      if (pos - bufPos + FRAME > buf.length) return cut('torn record header at the end of the file');
      const len = buf.readUInt32LE(pos - bufPos);
      if (len === 0 || len > MAX_RECORD) return cut(`impossible record length ${len}`);
      if (pos + FRAME + len > size) return cut(`record of ${len} bytes runs past the end of the file (torn write)`);
      if (pos - bufPos + FRAME + len > buf.length) await refill(pos, Math.max(CHUNK, FRAME + len));
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
