import { Utf8Cache } from '../../core/utf8-cache.js';
import { InputBufferUnderrunError, type TTransport } from './lib.js';

/**
 * Framed-transport input without joining each frame's packets: a frame of a few megabytes arrives as
 * dozens of socket reads, and copying them into one fresh buffer per frame costs a page fault per
 * 4 KiB plus the copy. A FrameChunks transport reads the frame straight from the packets it spans;
 * the library's protocol classes decode from it as from its own TFramedTransport. Values inside one
 * packet (nearly all of them) are views or reads in place; only values split across two packets are
 * copied.
 */
export class FrameChunks implements TTransport {
  private ci = 0;
  private cur: Buffer;
  private pos: number;
  private left: number;

  constructor(
    private readonly chunks: readonly Buffer[],
    length: number,
  ) {
    this.cur = chunks[0] ?? Buffer.alloc(0);
    this.pos = 0;
    this.left = length;
  }

  /** Bytes of the frame not read yet. */
  get remaining(): number {
    return this.left;
  }

  ensureAvailable(len: number): void {
    if (len > this.left) throw new InputBufferUnderrunError();
  }

  /** Moves to the next packet once the current one is used up. */
  private step(): void {
    while (this.pos >= this.cur.length) {
      this.cur = this.chunks[++this.ci]!;
      this.pos = 0;
    }
  }

  readByte(): number {
    if (this.left < 1) throw new InputBufferUnderrunError();
    if (this.pos >= this.cur.length) this.step();
    const b = this.cur[this.pos++]!;
    this.left--;
    return b > 127 ? b - 256 : b;
  }

  /** `len` bytes: a view when they lie in one packet, else a copy. */
  read(len: number): Buffer {
    this.ensureAvailable(len);
    if (len === 0) return Buffer.alloc(0);
    if (this.pos >= this.cur.length) this.step();
    this.left -= len;
    if (this.pos + len <= this.cur.length) {
      const v = this.cur.subarray(this.pos, this.pos + len);
      this.pos += len;
      return v;
    }
    const out = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      if (this.pos >= this.cur.length) this.step();
      const n = Math.min(len - done, this.cur.length - this.pos);
      this.cur.copy(out, done, this.pos, this.pos + n);
      this.pos += n;
      done += n;
    }
    return out;
  }

  readI16(): number {
    const b = this.read(2);
    return b.readInt16BE(0);
  }

  readI32(): number {
    if (this.left >= 4 && this.pos + 4 <= this.cur.length) {
      const v = this.cur.readInt32BE(this.pos);
      this.pos += 4;
      this.left -= 4;
      return v;
    }
    return this.read(4).readInt32BE(0);
  }

  readDouble(): number {
    return this.read(8).readDoubleBE(0);
  }

  /** `len` bytes as UTF-8; recurring short strings are shared (see Utf8Cache). */
  readString(len = 0): string {
    this.ensureAvailable(len);
    if (len === 0) return '';
    if (this.pos >= this.cur.length) this.step();
    if (this.pos + len <= this.cur.length) {
      const s = STRINGS.decode(this.cur, this.pos, this.pos + len);
      this.pos += len;
      this.left -= len;
      return s;
    }
    return this.read(len).toString('utf8');
  }

  // A read-only transport.
  write(): void {
    throw new Error('FrameChunks is a read-only transport');
  }
  flush(): void {}
  setCurrSeqId(): void {}
  commitPosition(): void {}
  rollbackPosition(): void {}
  isOpen(): boolean {
    return true;
  }
  open(): boolean {
    return true;
  }
  close(): boolean {
    return true;
  }
}

const STRINGS = new Utf8Cache();

/**
 * Splits a byte stream into frames (4-byte big-endian length, then the message) and hands each to
 * `onFrame` as a FrameChunks transport. A frame longer than `maxLength` (or negative) is an error.
 */
export function chunkedFrameReader(maxLength: number, onFrame: (t: FrameChunks) => void): (data: Buffer) => void {
  let chunks: Buffer[] = [];
  let have = 0;
  let need = -1; // the current frame's length once its header is in
  return (data: Buffer) => {
    if (data.length === 0) return;
    chunks.push(data);
    have += data.length;
    for (;;) {
      if (need < 0) {
        if (have < 4) return;
        need = headerOf(chunks);
        if (need < 0 || need > maxLength) throw new Error(`Frame size ${need} larger than the maximum allowed ${maxLength} bytes`);
        dropFront(chunks, 4);
        have -= 4;
      }
      if (have < need) return;
      const frame = takeFront(chunks, need);
      have -= need;
      const len = need;
      need = -1;
      if (chunks.length === 0) chunks = [];
      onFrame(new FrameChunks(frame, len));
    }
  };
}

function headerOf(chunks: readonly Buffer[]): number {
  const c = chunks[0]!;
  if (c.length >= 4) return c.readInt32BE(0);
  const b = Buffer.allocUnsafe(4);
  let n = 0;
  for (const ch of chunks) {
    for (let i = 0; i < ch.length && n < 4; i++) b[n++] = ch[i]!;
    if (n === 4) break;
  }
  return b.readInt32BE(0);
}

/** Removes the first `n` bytes from `chunks` (in place). */
function dropFront(chunks: Buffer[], n: number): void {
  while (n > 0) {
    const c = chunks[0]!;
    if (c.length <= n) {
      chunks.shift();
      n -= c.length;
    } else {
      chunks[0] = c.subarray(n);
      n = 0;
    }
  }
}

/** Removes the first `n` bytes from `chunks` (in place) and returns them as a list of views. */
function takeFront(chunks: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  while (n > 0) {
    const c = chunks[0]!;
    if (c.length <= n) {
      out.push(c);
      chunks.shift();
      n -= c.length;
    } else {
      out.push(c.subarray(0, n));
      chunks[0] = c.subarray(n);
      n = 0;
    }
  }
  return out;
}
