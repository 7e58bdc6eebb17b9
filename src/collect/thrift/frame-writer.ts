import type { TTransport } from './lib.js';
import { Utf8Strings } from '../../core/utf8-write.js';

const MIN_CAPACITY = 256;

/**
 * A write-only framed transport: one message is written into a growable buffer that leaves room for
 * the 4-byte frame length, and `frame()` returns header + message without copying. `reset()` starts
 * the next message in the same buffer, so a caller that reuses a FrameWriter must be done with the
 * previous frame (e.g. a client whose call was answered: the peer has read all of it).
 */
export class FrameWriter implements TTransport {
  buf: Buffer;
  pos = 4;

  constructor(sizeHint = MIN_CAPACITY) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(MIN_CAPACITY, sizeHint));
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafeSlow(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Starts a new message, reusing the buffer. */
  reset(sizeHint = 0): void {
    this.pos = 4;
    if (sizeHint > this.buf.length) this.reserve(sizeHint - 4);
  }

  /** The complete frame (length header + message): a view of this writer's buffer. */
  frame(): Buffer {
    const n = this.pos - 4;
    const b = this.buf;
    b[0] = n >>> 24;
    b[1] = n >>> 16;
    b[2] = n >>> 8;
    b[3] = n;
    return b.subarray(0, this.pos);
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.reserve(1);
    this.buf[this.pos++] = b;
  }

  /** The compact protocol's unsigned varint of a 32-bit value (same loop as the library's). */
  varint32(n: number): void {
    if (this.pos + 5 > this.buf.length) this.reserve(5);
    const b = this.buf;
    let p = this.pos;
    for (;;) {
      if ((n & ~0x7f) === 0) {
        b[p++] = n;
        break;
      }
      b[p++] = (n & 0x7f) | 0x80;
      n = n >>> 7;
    }
    this.pos = p;
  }

  /** Big-endian 16 and 32-bit values, as the library's binary.writeI16/writeI32. */
  i16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.reserve(2);
    this.buf[this.pos + 1] = v & 0xff;
    this.buf[this.pos] = (v >> 8) & 0xff;
    this.pos += 2;
  }

  i32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.reserve(4);
    const b = this.buf;
    const p = this.pos;
    b[p + 3] = v & 0xff;
    b[p + 2] = (v >> 8) & 0xff;
    b[p + 1] = (v >> 16) & 0xff;
    b[p] = (v >> 24) & 0xff;
    this.pos = p + 4;
  }

  /** Header names and values (core/utf8-write.ts): the same origin comes once per event. */
  private readonly strs = new Utf8Strings();

  /** UTF-8 byte length of `s`. */
  utf8Length(s: string): number {
    return this.strs.length(s);
  }

  /** Writes `s` as UTF-8 (`n`: its utf8Length). */
  utf8(s: string, n: number): void {
    if (this.pos + n > this.buf.length) this.reserve(n);
    this.pos = this.strs.write(this.buf, this.pos, s);
  }

  bytes(src: Uint8Array): void {
    const n = src.length;
    if (this.pos + n > this.buf.length) this.reserve(n);
    if (n < 64) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = src[i]!;
      this.pos = p;
    } else {
      this.buf.set(src, this.pos);
      this.pos += n;
    }
  }

  /** Writes `s` encoded as `encoding` (its byte length `n` already known). */
  text(s: string, n: number, encoding: BufferEncoding): void {
    if (encoding === 'utf8') return this.utf8(s, n);
    if (this.pos + n > this.buf.length) this.reserve(n);
    this.pos += this.buf.write(s, this.pos, n, encoding);
  }

  // TTransport
  write(buf: Buffer | string, encoding?: BufferEncoding): void {
    if (typeof buf === 'string') {
      const enc = encoding ?? 'utf8';
      this.text(buf, enc === 'utf8' ? this.utf8Length(buf) : Buffer.byteLength(buf, enc), enc);
    } else this.bytes(buf);
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
  ensureAvailable(): void {
    throw writeOnly();
  }
  read(): Buffer {
    throw writeOnly();
  }
  readByte(): number {
    throw writeOnly();
  }
  readI16(): number {
    throw writeOnly();
  }
  readI32(): number {
    throw writeOnly();
  }
  readDouble(): number {
    throw writeOnly();
  }
  readString(): string {
    throw writeOnly();
  }
}

function writeOnly(): Error {
  return new Error('FrameWriter is a write-only transport');
}
