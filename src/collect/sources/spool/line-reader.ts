import { isAscii } from 'node:buffer';
import type { FileHandle } from 'node:fs/promises';
import { ByteSlab } from '../../../core/slab.js';
import type { DecodePolicy, InputCharset } from './charset.js';

/**
 * Reads a spool file as lines, each with the byte offset where it starts. Lines end at '\n' and lose
 * a trailing '\r'; a last line without '\n' is a line too (a spool file is complete by contract).
 * A line longer than `maxChars` characters is split on character boundaries into pieces of at most
 * `maxChars` characters, so nothing is cut off; memory stays bounded by the read window.
 */

/** Where reading resumes: the next byte, and the place inside a split line when between pieces. */
export interface ReadPos {
  offset: number;
  split?: { index: number; total: number; end: number; after: number };
}

export interface Line {
  /** Byte offset of the line (or of the piece of a split line). */
  readonly start: number;
  readonly text: string;
  /**
   * The line's bytes when they are all ASCII: every supported input and output charset is
   * ASCII-compatible, so these bytes are the line in any of them and can be used as they are
   * (no decoding into a string and encoding back).
   */
  readonly ascii?: Buffer;
  /** The line as UTF-8 bytes, made straight from the input (LineReader's `utf8Body`). */
  readonly utf8?: Buffer;
  /** Zero-based piece index and piece count, for a split line. */
  readonly split?: { index: number; total: number };
}

/** A whole line of ASCII bytes; its text is only made when asked for. */
class AsciiLine implements Line {
  constructor(
    readonly start: number,
    readonly ascii: Buffer,
  ) {}
  get text(): string {
    return this.ascii.toString('latin1');
  }
}

/** A whole line already encoded as UTF-8; its text is only made when asked for. */
class Utf8Line implements Line {
  constructor(
    readonly start: number,
    readonly utf8: Buffer,
  ) {}
  get text(): string {
    return this.utf8.toString('utf8');
  }
}

export type ReadResult = { line: Line; next: ReadPos } | { badAt: number } | null;

/** What a long line is scanned in. */
const CHUNK = 64 * 1024;
/**
 * The read window: a file is read this much at a time (never past its end). Every read is a round
 * trip through libuv's thread pool, which on this project's virtual machines costs ~80–100 µs of
 * CPU besides the copy: reading a file from the page cache in 64 KiB reads into fresh buffers cost
 * ~1.5–2 ms of CPU per MB, in 1 MiB reads ~0.4–0.5, and ~0.25 into one reused buffer (the rest was
 * the kernel faulting in and zeroing each fresh buffer's pages); measured side by side.
 */
const WINDOW = 1024 * 1024;
const MAX_CHAR_BYTES = 4;
const EMPTY = Buffer.alloc(0);

export class LineReader {
  private cache: Buffer = EMPTY;
  private cacheStart = 0;
  private readonly window: number;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly cs: InputCharset,
    private readonly policy: DecodePolicy,
    private readonly maxChars: number,
    /** Where whole lines' bodies are written (a source passes its own, shared by the files it reads). */
    private readonly slab: ByteSlab = new ByteSlab(),
    /**
     * Event bodies are UTF-8: a whole line the input charset can turn into UTF-8 bytes without a
     * string (InputCharset.utf8Bytes) comes as those bytes (Line.utf8), written into `slab`.
     */
    private readonly utf8Body = false,
    /**
     * The read window's memory. A source reading its files one after another passes one holder to
     * each reader, so the window is allocated once, not once per file (1 MiB of external memory per
     * file, which brings V8's full collections sooner; reading 30 call-record files took 1.30–1.37
     * µs of CPU a line with one window, 1.37–1.41 with one per file).
     */
    private readonly windowMem: { buf?: Buffer } = {},
  ) {
    this.window = Math.max(WINDOW, MAX_CHAR_BYTES * maxChars + 2);
  }

  /**
   * What `next(pos)` would return when the read window already holds the whole line (the common
   * case), without a promise; undefined when reading or a split is needed — then call `next`.
   */
  nextCached(pos: ReadPos): ReadResult | undefined {
    if (pos.split) return undefined;
    if (pos.offset >= this.size) return null;
    const rel = pos.offset - this.cacheStart;
    if (rel < 0 || rel > this.cache.length) return undefined;
    const found = this.lineInCache(rel);
    return found ? this.whole(pos.offset, found) : undefined;
  }

  /** The line at `pos`, `null` at end of file, or the absolute offset of a malformed byte under FAIL. */
  async next(pos: ReadPos): Promise<ReadResult> {
    if (pos.split) return this.piece(pos.offset, pos.split);
    if (pos.offset >= this.size) return null;
    const found = await this.shortLine(pos.offset);
    const line = found && this.whole(pos.offset, found);
    if (line) return line;
    const span = await this.scanLongLine(pos.offset);
    const total = Math.max(1, Math.ceil(span.chars / this.maxChars));
    return this.piece(pos.offset, { index: 0, total, end: span.end, after: span.after });
  }

  /** `len` bytes at `pos` (fewer at the end of the file) in a buffer of their own. */
  private async readAt(pos: number, len: number): Promise<Buffer> {
    return this.readInto(Buffer.allocUnsafe(Math.max(0, Math.min(len, this.size - pos))), pos);
  }

  /** Reads `buf.length` bytes at `pos` into `buf` (fewer at the end of the file); returns those read. */
  private async readInto(buf: Buffer, pos: number): Promise<Buffer> {
    const n = buf.length;
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(buf, got, n - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  /**
   * Moves the read window to `pos`. Its memory (windowMem) is allocated once and reused, by the
   * next refill and by the next file's reader: every line taken from it is copied out (into the
   * event's body or a decoded string), so nothing refers to what a refill overwrites; the window is
   * empty while the read is under way.
   */
  private async refill(pos: number): Promise<void> {
    this.cache = EMPTY;
    this.cacheStart = pos;
    const n = Math.max(0, Math.min(this.window, this.size - pos));
    const mem = this.windowMem;
    if (!mem.buf || mem.buf.length < n) mem.buf = Buffer.allocUnsafe(Math.min(this.window, Math.max(n, this.size)));
    this.cache = await this.readInto(mem.buf.subarray(0, n), pos);
  }

  /** A line that fits in the read window, or undefined when the line is longer than the window. */
  private async shortLine(offset: number): Promise<{ bytes: Buffer; after: number } | undefined> {
    let rel = offset - this.cacheStart;
    if (rel < 0 || rel > this.cache.length) {
      await this.refill(offset);
      rel = 0;
    }
    for (let refilled = false; ; refilled = true) {
      const found = this.lineInCache(rel);
      if (found) return found;
      if (refilled || this.cache.length - rel >= this.window) return undefined;
      await this.refill(offset);
      rel = 0;
    }
  }

  /** The line starting at `rel` in the read window when its end ('\n' or end of file) is there too. */
  private lineInCache(rel: number): { bytes: Buffer; after: number } | undefined {
    const nl = this.cache.indexOf(0x0a, rel);
    if (nl < 0 && this.cacheStart + this.cache.length < this.size) return undefined;
    const stop = nl >= 0 ? nl : this.cache.length;
    let end = stop;
    if (end > rel && this.cache[end - 1] === 0x0d) end--;
    return { bytes: this.cache.subarray(rel, end), after: this.cacheStart + (nl >= 0 ? nl + 1 : stop) };
  }

  /** The decoded line when it is not longer than maxChars; undefined when it must be split. */
  private whole(start: number, found: { bytes: Buffer; after: number }): ReadResult | undefined {
    if (found.bytes.length > this.maxChars && this.countChars(found.bytes) > this.maxChars) return undefined;
    // a copy: the read window is reused by the next refill
    if (isAscii(found.bytes)) return { line: new AsciiLine(start, this.slab.copy(found.bytes)), next: { offset: found.after } };
    const utf8 = this.utf8Body ? this.cs.utf8Bytes?.(found.bytes, this.slab) : undefined;
    if (utf8) return { line: new Utf8Line(start, utf8), next: { offset: found.after } };
    const d = this.cs.decode(found.bytes, this.policy);
    if ('badAt' in d) return { badAt: start + d.badAt };
    return { line: { start, text: d.text }, next: { offset: found.after } };
  }

  /** `len` bytes at `pos` through the read window, so small pieces do not cost a read each. */
  private async cached(pos: number, len: number): Promise<Buffer> {
    const rel = pos - this.cacheStart;
    if (rel < 0 || rel + len > this.cache.length) {
      await this.refill(pos);
      return this.cache.subarray(0, len);
    }
    return this.cache.subarray(rel, rel + len);
  }

  private countChars(b: Buffer): number {
    let chars = 0;
    for (let i = 0; i < b.length; chars++) i += Math.min(this.cs.charLen(b, i), b.length - i);
    return chars;
  }

  /** Finds the end of a long line and counts its characters, reading it in bounded chunks. */
  private async scanLongLine(offset: number): Promise<{ end: number; after: number; chars: number }> {
    let pos = offset;
    let chars = 0;
    for (;;) {
      const chunk = await this.readAt(pos, CHUNK);
      const nl = chunk.indexOf(0x0a);
      // A short read means the file shrank under us; the caller's change check reports that.
      const final = nl >= 0 || pos + chunk.length >= this.size || chunk.length < CHUNK;
      let limit = nl >= 0 ? nl : chunk.length;
      if (final && limit > 0 && chunk[limit - 1] === 0x0d) limit--;
      let i = 0;
      // Away from the end, stop a few bytes short so no character straddles two chunks.
      while (final ? i < limit : i + MAX_CHAR_BYTES < limit) {
        i += Math.min(this.cs.charLen(chunk, i), limit - i);
        chars++;
      }
      if (final) return { end: pos + limit, after: nl >= 0 ? pos + nl + 1 : pos + chunk.length, chars };
      pos += i;
    }
  }

  private async piece(start: number, split: NonNullable<ReadPos['split']>): Promise<ReadResult> {
    const b = await this.cached(start, Math.min(MAX_CHAR_BYTES * this.maxChars, split.end - start));
    let i = 0;
    for (let c = 0; c < this.maxChars && i < b.length; c++) i += Math.min(this.cs.charLen(b, i), b.length - i);
    const d = this.cs.decode(b.subarray(0, i), this.policy);
    if ('badAt' in d) return { badAt: start + d.badAt };
    const line: Line = { start, text: d.text, split: { index: split.index, total: split.total } };
    const end = start + i;
    if (end >= split.end || i === 0) return { line, next: { offset: split.after } };
    return { line, next: { offset: end, split: { ...split, index: split.index + 1, total: Math.max(split.total, split.index + 2) } } };
  }
}
