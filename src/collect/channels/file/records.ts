import { crc32, crc32At } from '../../../core/crc32.js';
import type { Event } from '../../../core/event.js';
import { Utf8Cache } from '../../../core/utf8-cache.js';
import { Utf8Strings } from '../../../core/utf8-write.js';

/**
 * Wire grammar of the file channel's write-ahead log (all integers unsigned 32-bit little-endian):
 *
 *   data file   = MAGIC(8) record*
 *   record      = length(4) crc32(4) payload(length)        crc32 covers the payload only
 *   payload     = EVENT | COMMIT
 *   EVENT       = 0x01 nHeaders(4) (str str)^nHeaders bodyLength(4) body
 *   COMMIT      = 0x02 putCount(4) takeCount(4) pointer^takeCount nMarkers(4) (str str)^nMarkers
 *   pointer     = fileId(4) offset(4) recordLength(4)
 *   str         = byteLength(4) utf8
 *
 * A committed transaction is one append: its EVENT records followed by its COMMIT record, whose
 * putCount equals the number of EVENT records right before it. EVENT records not followed by their
 * COMMIT belong to a transaction that never committed and are ignored by recovery.
 */
export const MAGIC = Buffer.from('MSNFCH01');
export const FRAME = 8;
export const REC_EVENT = 1;
export const REC_COMMIT = 2;
/** Upper bound of one record; a larger length field can only be corruption. */
export const MAX_RECORD = 0x7fff_ffff;

/** Where one event's record lives in the log. */
export interface Pointer {
  f: number;
  o: number;
  l: number;
  /** @internal The event itself while the channel keeps it in memory for its take (see RecentEvents). */
  e?: Event | undefined;
}

export const pointerKey = (f: number, o: number): number => f * 0x1_0000_0000 + o;

/** Little-endian u32 store without Buffer#writeUInt32LE's argument checks (`off` is always in range). */
function u32(buf: Buffer, off: number, v: number): void {
  buf[off] = v;
  buf[off + 1] = v >>> 8;
  buf[off + 2] = v >>> 16;
  buf[off + 3] = v >>> 24;
}

/** Header names and values, measured and written (core/utf8-write.ts). */
const STRS = new Utf8Strings();

/** Writes `s` as UTF-8 at `off` after its 4-byte length; returns the offset after it. */
function writeStr(buf: Buffer, off: number, s: string): number {
  const end = STRS.write(buf, off + 4, s);
  u32(buf, off, end - off - 4);
  return end;
}

function strsBytes(kv: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const k in kv) n += 8 + STRS.length(k) + STRS.length(kv[k]!);
  return n;
}

/** Writes the pairs of `kv` after their 4-byte count at `off` (one walk over the keys); returns the offset after them. */
function writeStrs(buf: Buffer, off: number, kv: Readonly<Record<string, string>>): number {
  const at = off;
  let n = 0;
  off += 4;
  for (const k in kv) {
    off = writeStr(buf, off, k);
    off = writeStr(buf, off, kv[k]!);
    n++;
  }
  u32(buf, at, n);
  return off;
}

function seal(buf: Buffer, start: number, end: number): void {
  const len = end - start - FRAME;
  u32(buf, start, len);
  u32(buf, start + 4, crc32At(buf, start + FRAME, len));
}

export interface EncodedTx {
  /** The transaction's bytes: a view of `backing`. */
  buf: Buffer;
  /** The buffer `alloc` returned. */
  backing: Buffer;
  /** Offsets of each EVENT record inside `buf`, and their lengths. */
  offsets: number[];
  lengths: number[];
}

/** One transaction's append: EVENT records for `puts`, then the COMMIT record, in a buffer from `alloc`. */
export function encodeTx(
  puts: readonly Event[],
  takes: readonly Pointer[],
  markers: Readonly<Record<string, string>>,
  alloc: (size: number) => Buffer = (n) => Buffer.allocUnsafe(n),
): EncodedTx {
  const n = puts.length;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const e = puts[i]!;
    size += FRAME + 9 + strsBytes(e.headers) + e.body.length;
  }
  size += FRAME + 13 + takes.length * 12 + strsBytes(markers);
  const buf = alloc(size);
  const offsets: number[] = new Array<number>(n);
  const lengths: number[] = new Array<number>(n);
  let off = 0;
  for (let i = 0; i < n; i++) {
    const e = puts[i]!;
    const start = off;
    buf[off + FRAME] = REC_EVENT;
    off += FRAME + 1;
    off = writeStrs(buf, off, e.headers);
    const body = e.body;
    u32(buf, off, body.length);
    // TypedArray#set: one memcpy, without Buffer#copy's argument handling
    buf.set(body, off + 4);
    off += 4 + body.length;
    seal(buf, start, off);
    offsets[i] = start;
    lengths[i] = off - start;
  }
  const start = off;
  buf[off + FRAME] = REC_COMMIT;
  off += FRAME + 1;
  u32(buf, off, n);
  u32(buf, off + 4, takes.length);
  off += 8;
  for (const p of takes) {
    u32(buf, off, p.f);
    u32(buf, off + 4, p.o);
    u32(buf, off + 8, p.l);
    off += 12;
  }
  off = writeStrs(buf, off, markers);
  seal(buf, start, off);
  return { buf: buf.subarray(0, off), backing: buf, offsets, lengths };
}

export type Framed = { ok: true; type: number; start: number; end: number } | { ok: false; reason: 'torn' | 'checksum' };

/** Checks the record starting at `off` of `buf`; `torn` when the buffer ends inside it. */
export function frameAt(buf: Buffer, off: number): Framed {
  if (off + FRAME > buf.length) return { ok: false, reason: 'torn' };
  const len = buf.readUInt32LE(off);
  if (len === 0 || len > MAX_RECORD) return { ok: false, reason: 'checksum' };
  if (off + FRAME + len > buf.length) return { ok: false, reason: 'torn' };
  const payload = buf.subarray(off + FRAME, off + FRAME + len);
  if (crc32(payload) !== buf.readUInt32LE(off + 4)) return { ok: false, reason: 'checksum' };
  return { ok: true, type: payload[0]!, start: off + FRAME, end: off + FRAME + len };
}

/** Header names and values recur in every record (names, origins): decode them to shared strings. */
const STRINGS = new Utf8Cache();

/** Thrown by the decoders when a checksummed record is still malformed (a bug or a foreign file). */
export class MalformedRecord extends Error {}

class Reader {
  constructor(
    private readonly buf: Buffer,
    public off: number,
    private readonly end: number,
  ) {}
  u32(): number {
    if (this.off + 4 > this.end) throw new MalformedRecord('record ends early');
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.off + n > this.end) throw new MalformedRecord('record ends early');
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  str(): string {
    const n = this.u32();
    if (this.off + n > this.end) throw new MalformedRecord('record ends early');
    const s = STRINGS.decode(this.buf, this.off, this.off + n);
    this.off += n;
    return s;
  }
  strs(n: number, into: Record<string, string>): Record<string, string> {
    for (let i = 0; i < n; i++) {
      const k = this.str();
      const v = this.str();
      if (k === '__proto__') Object.defineProperty(into, k, { value: v, enumerable: true, writable: true, configurable: true });
      else into[k] = v;
    }
    return into;
  }
}

/** Decodes an EVENT payload; the body is a view into `buf`. */
export function decodeEvent(buf: Buffer, start: number, end: number): Event {
  const r = new Reader(buf, start + 1, end);
  const headers = r.strs(r.u32(), {});
  const body = r.bytes(r.u32());
  return { headers, body };
}

export interface CommitRecord {
  putCount: number;
  takes: Pointer[];
  markers: Record<string, string>;
}

export function decodeCommit(buf: Buffer, start: number, end: number): CommitRecord {
  const r = new Reader(buf, start + 1, end);
  const putCount = r.u32();
  const n = r.u32();
  const takes: Pointer[] = [];
  for (let i = 0; i < n; i++) takes.push({ f: r.u32(), o: r.u32(), l: r.u32() });
  const markers = r.strs(r.u32(), {});
  return { putCount, takes, markers };
}
