import { TBinaryProtocol, TCompactProtocol, TFramedTransport, Thrift, type TTransport } from './lib.js';
import { Utf8Cache } from '../../core/utf8-cache.js';
import { FrameChunks } from './frames.js';
import { FrameWriter } from './frame-writer.js';

/**
 * Allocation-free hot paths for the Apache Thrift library's own protocol classes.
 *
 * The library's TCompactProtocol/TBinaryProtocol write every byte, varint and string through a fresh
 * Buffer handed to the transport, and the compact reader builds a node-int64 (an 8-byte Buffer) for
 * every varint it reads. The subclasses here keep the library's message, struct, field and container
 * encoding and override only the primitive writers (into one growable frame buffer, FrameWriter in
 * frame-writer.ts), the compact varint reader and the string reader (recurring strings shared, see
 * Utf8Cache). The bytes are the library's bytes: wire.test.ts compares every frame with the
 * unmodified library encoder, and decodes as the library's own transport does.
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

type Text = string | Buffer | Uint8Array;

/**
 * Writes a string or binary argument into `w` after its byte length (a varint in the compact
 * protocol, an i32 in the binary one); false, writing nothing, for an argument the library itself
 * must handle (and reject). UTF-8 strings — every string of a Flume event — are measured and written
 * by FrameWriter.utf8, without native calls for the short and the recurring ones.
 */
function putSized(w: FrameWriter, arg: Text, encoding: BufferEncoding, varintLength: boolean): boolean {
  let n: number;
  if (typeof arg === 'string') n = encoding === 'utf8' ? w.utf8Length(arg) : Buffer.byteLength(arg, encoding);
  else if (arg instanceof Uint8Array) n = arg.length;
  else return false;
  if (varintLength) w.varint32(n);
  else w.i32(n);
  if (typeof arg !== 'string') w.bytes(arg);
  else w.text(arg, n, encoding);
  return true;
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
    if (this.w && putSized(this.w, arg, encoding, true)) return;
    (TCompactProtocol.prototype as unknown as { writeStringOrBinary(n: string, e: string, a: unknown): void }).writeStringOrBinary.call(this, name, encoding, arg);
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
    if (this.w && putSized(this.w, arg, encoding, false)) return;
    (TBinaryProtocol.prototype as unknown as { writeStringOrBinary(n: string, e: string, a: unknown): void }).writeStringOrBinary.call(this, name, encoding, arg);
  }

  override readString(): string {
    return readText(this.getTransport(), this.readI32());
  }
}
