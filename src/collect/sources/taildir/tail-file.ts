import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { FileGroup } from './config.js';
import { LineReader } from './line-reader.js';
import type { PositionEntry } from './positions.js';

/** How many leading bytes identify a file's content (with its inode). */
export const HEAD_BYTES = 1024;

/** One tailed file, known by inode plus its leading bytes (`head`, up to HEAD_BYTES). */
export class TailFile {
  /** Identity part of this file's events (`<inode>-<fingerprint>`), fixed when its first line is sent. */
  id: string | undefined;
  /** Committed position: every line before it has been delivered. */
  pos: number;
  /** Lines delivered before `pos` under `id`: the sequence number of the next line's identity. */
  line = 0;
  readonly reader: LineReader;
  fh: FileHandle | undefined;
  /** Size and modification time from the last scan, to notice change. */
  size = 0;
  mtime = '';
  lastActivity = Date.now();
  /** Found under a filegroup pattern in the last scan. */
  listed = true;
  /** Renamed since found, or a copy: its writer has moved on, so a held partial line may be sent when idle. */
  rotated = false;
  /** A new file whose content so far is a copy of this one's: not read until the original is truncated. */
  copyOf: TailFile | undefined;
  /** A copy (copytruncate) read from where its original was when truncated. */
  isCopy = false;

  constructor(
    readonly ino: string,
    public path: string,
    readonly group: FileGroup,
    public head: Buffer,
    pos: number,
  ) {
    this.pos = pos;
    this.reader = new LineReader(pos);
  }

  /** Moves the committed and read positions to `pos`, dropping anything buffered. */
  seek(pos: number, line = 0): void {
    this.pos = pos;
    this.line = line;
    this.reader.reset(pos);
  }

  entry(pos = this.pos, line = this.line): PositionEntry {
    const e: PositionEntry = { inode: Number(this.ino), pos, line, file: this.path, ino: this.ino, size: this.size };
    if (this.id !== undefined) e.id = this.id;
    if (this.head.length > 0) {
      e.fp = fingerprint(this.head);
      e.fpLen = this.head.length;
    }
    return e;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    this.reader.reset(this.pos);
    await fh?.close().catch(() => undefined);
  }
}

export function fingerprint(head: Buffer): string {
  return createHash('sha1').update(head).digest('hex').slice(0, 16);
}

/** Reads the first min(HEAD_BYTES, size) bytes. */
export async function readHead(fh: FileHandle, size: number): Promise<Buffer> {
  const n = Math.min(HEAD_BYTES, size);
  if (n <= 0) return Buffer.alloc(0);
  const buf = Buffer.alloc(n);
  const { bytesRead } = await fh.read(buf, 0, n, 0);
  return buf.subarray(0, bytesRead);
}

/** True when both are non-empty and the shorter is a prefix of the longer. */
export function samePrefix(a: Buffer, b: Buffer): boolean {
  const n = Math.min(a.length, b.length);
  return n > 0 && a.subarray(0, n).equals(b.subarray(0, n));
}

/** The offset just after the last newline before `size` (so a partial last line is read whole later). */
export async function lineAlignedEnd(fh: FileHandle, size: number): Promise<number> {
  const n = Math.min(size, 64 * 1024);
  if (n === 0) return 0;
  const buf = Buffer.alloc(n);
  const { bytesRead } = await fh.read(buf, 0, n, size - n);
  const i = buf.subarray(0, bytesRead).lastIndexOf(10);
  return i < 0 ? size : size - n + i + 1;
}

/**
 * What is left of a file whose content went away (truncated, replaced, or not found at start-up):
 * enough to recognise a copy of it and the position up to which it was read. Known either by its
 * leading bytes or, from saved positions, by their fingerprint.
 */
export interface Tombstone {
  /** Directory the file was in: copies are looked for beside their original. */
  dir: string;
  pos: number;
  head?: Buffer;
  fp?: string;
  fpLen?: number;
}

export function isCopyOf(head: Buffer, t: Tombstone): boolean {
  if (t.head) return samePrefix(head, t.head);
  return t.fp !== undefined && t.fpLen !== undefined && t.fpLen > 0 && head.length >= t.fpLen && fingerprint(head.subarray(0, t.fpLen)) === t.fp;
}
