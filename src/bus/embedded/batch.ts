import { crc32 } from '../../core/crc32.js';
import { Utf8Strings } from '../../core/utf8-write.js';
import type { BusRecord, ConsumedRecord } from '../bus.js';
import { recordError } from '../names.js';

/**
 * Record batches of the embedded log. One produce writes one or more batches per partition; a batch
 * is the unit of checksum, of torn-write detection and of the offset index. Little-endian:
 *
 *   batch  := baseOffset:u64 length:u32 crc:u32 body           (length = 4 + body bytes)
 *   body   := magic:u8(=1) flags:u8 reserved:u8[2] count:u32 maxTimestamp:f64 record{count}
 *   record := timestamp:f64 keyLength:i32(-1 = null) key valueLength:u32 value
 *             headerCount:u16 (nameLength:u16 name valueLength:u32 value){headerCount}
 *
 * flags bit 0 (CONTINUED): the next batch belongs to the same append — a produce's records for one
 * partition may take several batches, and recovery keeps them all or none (a tail ending in a
 * CONTINUED batch is cut back to where that append began). The CRC32 covers the body. baseOffset is left out so offsets can be stamped when the batch is
 * written (after it was encoded); recovery checks it instead by continuity (each batch starts where
 * the previous one ended).
 */
export const BATCH_HEADER = 32;
const MAGIC = 1;
const CONTINUED = 1;
/** Encoded bytes of a record with no key, an empty value and no headers. */
const RECORD_OVERHEAD = 8 + 4 + 4 + 2;

/** Header names and values, measured and written (core/utf8-write.ts). */
const STRS = new Utf8Strings();

/**
 * The encoded size of `r`. Given the produce's topic and the record's index, it also checks the
 * headers, in the same walk, and throws naming what cannot be encoded: a value that is not a string,
 * a name over 65,535 bytes, more than 65,535 headers.
 */
export function recordSize(r: BusRecord, topic?: string, i = 0): number {
  let n = RECORD_OVERHEAD + (r.key ? r.key.length : 0) + r.value.length;
  const h = r.headers;
  if (!h) return n;
  let count = 0;
  for (const k in h) {
    const v = h[k];
    if (topic !== undefined) {
      if (typeof v !== 'string') throw recordError(topic, i, `has header ${JSON.stringify(k)} whose value is not a string`);
      // at most 3 bytes per UTF-16 unit: only a long name can be too long
      if (k.length > 0x5555 && Buffer.byteLength(k) > 0xffff) throw recordError(topic, i, 'has a header name longer than 65535 bytes');
    }
    n += 6 + STRS.length(k) + STRS.length(v!);
    count++;
  }
  if (topic !== undefined && count > 0xffff) throw recordError(topic, i, `has ${count} headers (at most 65535)`);
  return n;
}

/** Encodes records (with their precomputed sizes) as one batch; baseOffset is stamped later. */
export function encodeBatch(records: readonly BusRecord[], sizes: readonly number[], now: number, continued = false): Buffer {
  let total = BATCH_HEADER;
  for (const s of sizes) total += s;
  const buf = Buffer.allocUnsafe(total);
  let maxTs = -Infinity;
  let p = BATCH_HEADER;
  for (const r of records) {
    const ts = r.timestamp ?? now;
    if (ts > maxTs) maxTs = ts;
    p = buf.writeDoubleLE(ts, p);
    if (r.key) {
      p = buf.writeInt32LE(r.key.length, p);
      // TypedArray#set: one memcpy, without Buffer#copy's argument handling
      buf.set(r.key, p);
      p += r.key.length;
    } else {
      p = buf.writeInt32LE(-1, p);
    }
    p = buf.writeUInt32LE(r.value.length, p);
    buf.set(r.value, p);
    p += r.value.length;
    const h = r.headers;
    let count = 0;
    const countAt = p;
    p += 2;
    if (h) {
      for (const k in h) {
        const kend = STRS.write(buf, p + 2, k);
        buf.writeUInt16LE(kend - p - 2, p);
        p = kend;
        const vend = STRS.write(buf, p + 4, h[k]!);
        buf.writeUInt32LE(vend - p - 4, p);
        p = vend;
        count++;
      }
    }
    buf.writeUInt16LE(count, countAt);
  }
  if (p !== total) throw new Error(`encodeBatch: wrote ${p} bytes of a batch sized ${total} (a record's size was wrong)`);
  buf.writeBigUInt64LE(0n, 0);
  buf.writeUInt32LE(total - 12, 8);
  buf.writeUInt8(MAGIC, 16);
  buf[17] = continued ? CONTINUED : 0;
  buf.fill(0, 18, 20);
  buf.writeUInt32LE(records.length, 20);
  buf.writeDoubleLE(maxTs, 24);
  buf.writeUInt32LE(crc32(buf.subarray(16)), 12);
  return buf;
}

export function stampBaseOffset(batch: Buffer, at: number, base: number): void {
  batch.writeBigUInt64LE(BigInt(base), at);
}

export interface BatchHeader {
  baseOffset: number;
  count: number;
  maxTimestamp: number;
  /** Total bytes of the batch, header included. */
  size: number;
  /** The next batch belongs to the same append (see CONTINUED). */
  continued: boolean;
}

export type FrameCheck = { ok: true; header: BatchHeader } | { ok: false; torn: boolean; reason: string };

/**
 * Checks the batch at `pos` of `buf`, whose valid bytes end at `end`. `torn` means the bytes stop
 * inside the batch (a write cut short); otherwise the bytes are there but wrong.
 */
export function checkBatch(buf: Buffer, pos: number, end: number, maxSize: number): FrameCheck {
  if (end - pos < BATCH_HEADER) return { ok: false, torn: true, reason: 'a batch header is cut short' };
  const size = buf.readUInt32LE(pos + 8) + 12;
  if (size < BATCH_HEADER || size > maxSize) return { ok: false, torn: false, reason: `impossible batch length ${size}` };
  if (end - pos < size) return { ok: false, torn: true, reason: `a batch of ${size} bytes runs past the end of the data` };
  if (buf[pos + 16] !== MAGIC) return { ok: false, torn: false, reason: `unknown batch format ${buf[pos + 16]}` };
  if (crc32(buf.subarray(pos + 16, pos + size)) !== buf.readUInt32LE(pos + 12)) return { ok: false, torn: false, reason: 'checksum mismatch' };
  return { ok: true, header: readHeader(buf, pos) };
}

/** The header fields of a batch already known to be complete. */
export function readHeader(buf: Buffer, pos: number): BatchHeader {
  return {
    baseOffset: Number(buf.readBigUInt64LE(pos)),
    size: buf.readUInt32LE(pos + 8) + 12,
    count: buf.readUInt32LE(pos + 20),
    maxTimestamp: buf.readDoubleLE(pos + 24),
    continued: (buf[pos + 17]! & CONTINUED) !== 0,
  };
}

export class MalformedBatch extends Error {}

/**
 * A record read from a batch. Its headers are decoded when first asked for: most readers (the
 * compute tier's bus spouts) only want the value, and decoding every header name and value into
 * strings was a noticeable share of a read.
 */
class LogRecord implements ConsumedRecord {
  // Private (#) so that a spread, Object.keys or a logger sees only the record's own fields.
  readonly #buf: Buffer;
  /** Position of the header count (already bounds-checked). */
  readonly #at: number;
  #decoded: Record<string, string> | undefined;
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly key: Buffer | null,
    readonly value: Buffer,
    readonly timestamp: number,
    buf: Buffer,
    at: number,
  ) {
    this.#buf = buf;
    this.#at = at;
  }

  get headers(): Record<string, string> {
    if (this.#decoded) return this.#decoded;
    const b = this.#buf;
    const headers: Record<string, string> = {};
    let p = this.#at + 2;
    for (let j = u16(b, this.#at); j > 0; j--) {
      const nl = u16(b, p);
      const name = b.toString('utf8', p + 2, p + 2 + nl);
      p += 2 + nl;
      const vl = u32(b, p);
      if (name === '__proto__') Object.defineProperty(headers, name, { value: b.toString('utf8', p + 4, p + 4 + vl), enumerable: true, writable: true, configurable: true });
      else headers[name] = b.toString('utf8', p + 4, p + 4 + vl);
      p += 4 + vl;
    }
    return (this.#decoded = headers);
  }

  toJSON(): ConsumedRecord {
    const { topic, partition, offset, key, value, headers, timestamp } = this;
    return { topic, partition, offset, key, value, headers, timestamp };
  }
}

/**
 * Decodes the records of a checked batch with offsets ≥ `from`, at most `max` of them. Keys and
 * values are views of `buf`, not copies: a read allocates a fresh buffer for every chunk (at most
 * 256 KiB, or one large batch) and never reuses it, so a view stays valid; a consumer that keeps a
 * record keeps that chunk alive, which costs less than copying every record. Every length is
 * checked here; header strings are made only when a record's headers are read.
 */
export function decodeRecords(buf: Buffer, pos: number, h: BatchHeader, topic: string, partition: number, from: number, max: number, out: ConsumedRecord[]): void {
  const end = pos + h.size;
  let p = pos + BATCH_HEADER;
  for (let i = 0; i < h.count && max > 0; i++) {
    if (p + 12 > end) overrun(h);
    const timestamp = buf.readDoubleLE(p);
    const klen = u32(buf, p + 8) | 0;
    p += 12;
    let key: Buffer | null = null;
    if (klen >= 0) {
      if (p + klen > end) overrun(h);
      key = buf.subarray(p, p + klen);
      p += klen;
    }
    if (p + 4 > end) overrun(h);
    const vlen = u32(buf, p);
    p += 4;
    if (p + vlen + 2 > end) overrun(h);
    const offset = h.baseOffset + i;
    const take = offset >= from;
    const value = take ? buf.subarray(p, p + vlen) : undefined;
    p += vlen;
    const at = p;
    const hc = u16(buf, p);
    p += 2;
    for (let j = 0; j < hc; j++) {
      if (p + 2 > end) overrun(h);
      const nl = u16(buf, p);
      if (p + 2 + nl + 4 > end) overrun(h);
      p += 2 + nl;
      const vl = u32(buf, p);
      if (p + 4 + vl > end) overrun(h);
      p += 4 + vl;
    }
    if (value) {
      out.push(new LogRecord(topic, partition, offset, key, value, timestamp, buf, at));
      max--;
    }
  }
}

// Little-endian reads by bytes: Buffer#readUInt16LE/readUInt32LE are not inlined into
// decodeRecords (a whole-run profile showed readUInt16LE alone at ~3% of the server's main thread).
const u16 = (b: Buffer, p: number): number => b[p]! | (b[p + 1]! << 8);
const u32 = (b: Buffer, p: number): number => (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;

function overrun(h: BatchHeader): never {
  throw new MalformedBatch(`a record runs past the end of batch ${h.baseOffset}`);
}

/** The first record timestamp ≥ `ts` in a checked batch, as an offset, or -1. */
export function firstOffsetAtOrAfter(buf: Buffer, pos: number, h: BatchHeader, ts: number): number {
  const recs: ConsumedRecord[] = [];
  decodeRecords(buf, pos, h, '', 0, h.baseOffset, h.count, recs);
  const hit = recs.find((r) => r.timestamp >= ts);
  return hit ? hit.offset : -1;
}
