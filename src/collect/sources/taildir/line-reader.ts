import type { FileHandle } from 'node:fs/promises';

const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 1024 * 1024;
/** A line longer than this is cut (and the cut reported) so that one file cannot exhaust memory. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

export interface Line {
  /** File offset of the line's first byte: stable across restarts, used as the event's sequence. */
  offset: number;
  body: Buffer;
  /** True when the line was cut at MAX_LINE_BYTES rather than ended by a newline. */
  cut?: boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads complete lines from a file in chunks. `start` is the offset of the next line start (the
 * position to commit once every line before it is delivered); `end` is where the next read begins.
 * Bytes of a line whose newline has not arrived yet are held until it does; a trailing \r is removed.
 */
export class LineReader {
  start: number;
  end: number;
  private chunk: Buffer = EMPTY;
  private off = 0;
  private partial: Buffer[] = [];
  private partialLen = 0;

  constructor(pos: number) {
    this.start = pos;
    this.end = pos;
  }

  /** Forgets everything buffered and continues from `pos`. */
  reset(pos: number): void {
    this.start = pos;
    this.end = pos;
    this.chunk = EMPTY;
    this.off = 0;
    this.partial = [];
    this.partialLen = 0;
  }

  /** The next complete line among the bytes already read, or undefined when more must be read. */
  next(): Line | undefined {
    const idx = this.chunk.indexOf(10, this.off);
    if (idx < 0) {
      if (this.off < this.chunk.length) {
        // Copied so that a held partial line does not pin a whole read buffer.
        this.partial.push(Buffer.from(this.chunk.subarray(this.off)));
        this.partialLen += this.chunk.length - this.off;
      }
      this.chunk = EMPTY;
      this.off = 0;
      return this.partialLen >= MAX_LINE_BYTES ? this.takePartial(true) : undefined;
    }
    const piece = this.chunk.subarray(this.off, idx);
    let body: Buffer;
    if (this.partialLen > 0) {
      this.partial.push(piece);
      body = Buffer.concat(this.partial, this.partialLen + piece.length);
      this.partial = [];
      this.partialLen = 0;
    } else {
      // A view: every read goes into a fresh buffer that is never written again (see fill).
      body = piece;
    }
    const offset = this.start;
    this.start += body.length + 1;
    this.off = idx + 1;
    if (body.length > 0 && body[body.length - 1] === 13) body = body.subarray(0, body.length - 1);
    return { offset, body };
  }

  /**
   * Reads the next chunk at `end`; `size` (the file size last seen) sizes the buffer. Returns 0 at end
   * of file. Call only after next() returned undefined: the previous chunk is then fully consumed.
   */
  async fill(fh: FileHandle, size: number): Promise<number> {
    const want = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, size - this.end));
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await fh.read(buf, 0, want, this.end);
    if (bytesRead === 0) return 0;
    // Lines are views of the chunk, so a chunk lives as long as any of its lines does. A read that
    // filled less than half of the buffer (a slowly growing file) is copied out to its exact size,
    // so that a few short lines never hold a mostly empty buffer.
    this.chunk = bytesRead < want >>> 1 ? Buffer.from(buf.subarray(0, bytesRead)) : bytesRead < want ? buf.subarray(0, bytesRead) : buf;
    this.off = 0;
    this.end += bytesRead;
    return bytesRead;
  }

  /** Bytes read but not yet returned as lines. */
  held(): number {
    return this.end - this.start;
  }

  /**
   * Takes the incomplete last line out, for a file that will never complete it (rotated away and
   * idle). Returns undefined while complete lines are still buffered: those must be read first.
   */
  takePartial(cut = false): Line | undefined {
    if (this.chunk.indexOf(10, this.off) >= 0) return undefined; // complete lines come first
    if (this.off < this.chunk.length) this.next(); // moves the unterminated rest into `partial`
    if (this.partialLen === 0) return undefined;
    let body = Buffer.concat(this.partial, this.partialLen);
    const offset = this.start;
    this.start += body.length;
    this.partial = [];
    this.partialLen = 0;
    if (!cut && body.length > 0 && body[body.length - 1] === 13) body = body.subarray(0, body.length - 1);
    return cut ? { offset, body, cut } : { offset, body };
  }
}
