import { TBinaryProtocol, TCompactProtocol, TFramedTransport, Thrift, type TTransport } from './lib.js';
import { Utf8Cache } from '../../core/utf8-cache.js';
import { FrameChunks } from './frames.js';

/**
 * Allocation-free hot paths for the Apache Thrift library's own protocol classes.
 *
 * The library's TCompactProtocol/TBinaryProtocol write every byte, varint and string through a fresh
 * Buffer handed to the transport, and the compact reader builds a node-int64 (an 8-byte Buffer) for
 * every varint it reads. The subclasses here keep the library's message, struct, field and container
 * encoding and override only the primitive writers (into one growable frame buffer, `FrameWriter`)
 * and the compact varint reader. The bytes are the library's bytes: wire.test.ts compares every frame
 * with the unmodified library encoder.
 */

/** Strings read from frames: header names and origins recur in every event. */
const STRINGS = new Utf8Cache();

/** Reads `size` bytes of the transport as a UTF-8 string, as the library's transports do. */
function readText(trans: TTransport, size: number): string {
  if (size === 0) return '';
  if (size < 0) throw new Thrift.TProtocolException(Thrift.TProtocolExceptionType.NEGATIVE_SIZE, 'Negative string size');
  if (trans instanceof FrameChunks) return trans.readString(size);
  if (!(trans instanceof TFramedTransport)) return (trans as unknown as { readString(n: number): string }).readString(size);
  trans.ensureAvailable(size);
  const t = trans as unknown as { inBuf: Buffer; readPos: number };
  const s = STRINGS.decode(t.inBuf, t.readPos, t.readPos + size);
  t.readPos += size;
  return s;
}

const MIN_CAPACITY = 256;
/** Strings at least this long go through FrameWriter.encoded. */
const LONG_TEXT = 64;

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

  /**
   * The bytes of a long string, remembered for the next call: the same long header value (an origin)
   * comes once per event, and encoding it once per batch instead saves two native calls per event.
   */
  encoded(s: string, encoding: BufferEncoding): Buffer {
    if (s !== this.lastText || encoding !== this.lastEncoding) {
      this.lastBytes = Buffer.from(s, encoding);
      this.lastText = s;
      this.lastEncoding = encoding;
    }
    return this.lastBytes;
  }
  private lastText: string | undefined;
  private lastEncoding: BufferEncoding | undefined;
  private lastBytes: Buffer = Buffer.alloc(0);

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
    if (this.pos + n > this.buf.length) this.reserve(n);
    if (encoding === 'utf8' && n === s.length && n < 64) {
      // ASCII: one byte per UTF-16 unit
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
      this.pos = p;
    } else {
      this.pos += this.buf.write(s, this.pos, n, encoding);
    }
  }

  // TTransport
  write(buf: Buffer | string, encoding?: BufferEncoding): void {
    if (typeof buf === 'string') {
      const enc = encoding ?? 'utf8';
      this.text(buf, Buffer.byteLength(buf, enc), enc);
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

type Text = string | Buffer | Uint8Array;

/** Length in bytes of a string/binary argument, or undefined when the library would reject it. */
function sizeOf(arg: Text, encoding: BufferEncoding): number | undefined {
  if (typeof arg === 'string') return Buffer.byteLength(arg, encoding);
  if (arg instanceof Uint8Array) return arg.length;
  return undefined;
}

function putText(w: FrameWriter, arg: Text, n: number, encoding: BufferEncoding): void {
  if (typeof arg === 'string') w.text(arg, n, encoding);
  else w.bytes(arg);
}

/**
 * Reads a compact-protocol varint as the library does (readVarint64().toNumber()) without building
 * a node-int64 for the common case of a value that fits in 32 bits.
 */
function readVarint(trans: TTransport): number {
  let lo = 0;
  let hi = 0;
  let shift = 0;
  for (let rsize = 1; ; rsize++) {
    const b = trans.readByte();
    if (shift <= 25) lo = lo | ((b & 0x7f) << shift);
    else if (shift < 32) {
      lo = lo | ((b & 0x7f) << shift);
      hi = hi | ((b & 0x7f) >>> (32 - shift));
    } else hi = hi | ((b & 0x7f) << (shift - 32));
    shift += 7;
    if (!(b & 0x80)) break;
    if (rsize >= 10) {
      throw new Thrift.TProtocolException(Thrift.TProtocolExceptionType.INVALID_DATA, 'Variable-length int over 10 bytes.');
    }
  }
  if (hi === 0) return lo >>> 0;
  // node-int64's toNumber(): the signed 64-bit value, or ±Infinity once it is not exact
  const x = BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
  const limit = 2n ** 53n;
  if (x >= limit) return Infinity;
  if (-x >= limit) return -Infinity;
  return Number(x);
}

/** TCompactProtocol writing primitives straight into a FrameWriter (reading works over any transport). */
export class FastCompactProtocol extends TCompactProtocol {
  private readonly w: FrameWriter | undefined;

  constructor(trans: TTransport) {
    super(trans);
    this.w = trans instanceof FrameWriter ? trans : undefined;
  }

  override writeByte(b: number): void {
    if (this.w) this.w.byte(b);
    else super.writeByte(b);
  }

  writeVarint32(n: number): void {
    if (this.w) this.w.varint32(n);
    else (TCompactProtocol.prototype as unknown as { writeVarint32(n: number): void }).writeVarint32.call(this, n);
  }

  writeStringOrBinary(name: string, encoding: BufferEncoding, arg: Text): void {
    const w = this.w;
    const long = w && typeof arg === 'string' && arg.length >= LONG_TEXT ? w.encoded(arg, encoding) : undefined;
    if (long) {
      w!.varint32(long.length);
      w!.bytes(long);
      return;
    }
    const n = w ? sizeOf(arg, encoding) : undefined;
    if (!w || n === undefined) {
      (TCompactProtocol.prototype as unknown as { writeStringOrBinary(n: string, e: string, a: unknown): void }).writeStringOrBinary.call(this, name, encoding, arg);
      return;
    }
    w.varint32(n);
    putText(w, arg, n, encoding);
  }

  readVarint32(): number {
    return readVarint(this.getTransport());
  }

  override readString(): string {
    return readText(this.getTransport(), this.readVarint32());
  }
}

/** TBinaryProtocol writing primitives straight into a FrameWriter. */
export class FastBinaryProtocol extends TBinaryProtocol {
  private readonly w: FrameWriter | undefined;

  constructor(trans: TTransport, strictRead?: boolean, strictWrite?: boolean) {
    super(trans, strictRead, strictWrite);
    this.w = trans instanceof FrameWriter ? trans : undefined;
  }

  override writeByte(b: number): void {
    if (this.w) this.w.byte(b);
    else super.writeByte(b);
  }

  override writeI16(v: number): void {
    if (this.w) this.w.i16(v);
    else super.writeI16(v);
  }

  override writeI32(v: number): void {
    if (this.w) this.w.i32(v);
    else super.writeI32(v);
  }

  writeStringOrBinary(name: string, encoding: BufferEncoding, arg: Text): void {
    const w = this.w;
    const long = w && typeof arg === 'string' && arg.length >= LONG_TEXT ? w.encoded(arg, encoding) : undefined;
    if (long) {
      w!.i32(long.length);
      w!.bytes(long);
      return;
    }
    const n = w ? sizeOf(arg, encoding) : undefined;
    if (!w || n === undefined) {
      (TBinaryProtocol.prototype as unknown as { writeStringOrBinary(n: string, e: string, a: unknown): void }).writeStringOrBinary.call(this, name, encoding, arg);
      return;
    }
    w.i32(n);
    putText(w, arg, n, encoding);
  }

  override readString(): string {
    return readText(this.getTransport(), this.readI32());
  }
}
