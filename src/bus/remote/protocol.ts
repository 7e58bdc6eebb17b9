import { ErrorCodes, MonsoonError, type ErrorCode } from '../../core/errors.js';
import type { BusRecord, ConsumedRecord } from '../bus.js';

/**
 * The loopback protocol (`monsoon://host:port`): how a process reaches a bus served by another
 * Monsoon process. Documented in src/bus/README.md, "Loopback protocol (monsoon://)".
 *
 * Frame (integers big-endian):
 *
 *   u32 length      bytes that follow this field (9 + headerLength + payload)
 *   u32 id          request id chosen by the client (1..2^32-1); a reply carries its request's id
 *   u8  op          request op (Op), or 0x80|op for its reply, or 0xFF for an error reply
 *   u32 headerLength
 *   header          JSON object, UTF-8 (arguments / results)
 *   payload         raw bytes, the rest of the frame: records of PRODUCE and POLL, offsets of a PRODUCE reply
 *
 * Produced record (PRODUCE payload, `count` of them):
 *   i32 keyLength (-1: null) · key · u32 valueLength · value · f64 timestamp · u16 headerCount ·
 *   headerCount × (u16 nameLength · name · u32 valueLength · value)   (header names/values UTF-8)
 * Consumed record (POLL reply payload): f64 offset, then the same fields as a produced record.
 * A PRODUCE header's optional `partitions` lists, per record, the partition it names or null.
 * PRODUCE reply payload: per record, in request order, u32 partition · f64 offset.
 */
export const PROTOCOL_VERSION = 1;
/** The default port of `monsoon bus serve`. */
export const DEFAULT_PORT = 9392;
/** Largest frame either side accepts (a longer length field is a protocol violation). */
export const MAX_FRAME_BYTES = 512 * 1024 * 1024;

export const Op = {
  HELLO: 0x01,
  CREATE_TOPIC: 0x02,
  DESCRIBE_TOPIC: 0x03,
  LIST_TOPICS: 0x04,
  DELETE_TOPIC: 0x05,
  PRODUCE: 0x06,
  LAG: 0x07,
  CONSUMER_OPEN: 0x10,
  POLL: 0x11,
  COMMIT: 0x12,
  SEEK: 0x13,
  ASSIGNMENT: 0x14,
  CONSUMER_CLOSE: 0x15,
} as const;
export const REPLY = 0x80;
export const ERROR_REPLY = 0xff;

export interface Frame {
  id: number;
  op: number;
  header: Record<string, unknown>;
  payload: Buffer;
}

const FIXED = 9; // id + op + headerLength

export function encodeFrame(id: number, op: number, header: unknown, payload?: Buffer | Buffer[]): Buffer[] {
  const json = Buffer.from(JSON.stringify(header ?? {}));
  const parts = payload === undefined ? [] : Array.isArray(payload) ? payload : [payload];
  let payloadBytes = 0;
  for (const p of parts) payloadBytes += p.length;
  const length = FIXED + json.length + payloadBytes;
  if (length > MAX_FRAME_BYTES) throw new MonsoonError(ErrorCodes.BUS_RECORD_TOO_LARGE, `a monsoon:// frame of ${length} bytes exceeds the protocol's ${MAX_FRAME_BYTES}; send fewer records at once`);
  const head = Buffer.allocUnsafe(4 + FIXED);
  head.writeUInt32BE(length, 0);
  head.writeUInt32BE(id, 4);
  head.writeUInt8(op, 8);
  head.writeUInt32BE(json.length, 9);
  return [head, json, ...parts];
}

/** Cuts a byte stream into frames. A malformed frame throws; the connection must then be dropped. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private bytes = 0;

  push(chunk: Buffer, onFrame: (f: Frame, size: number) => void): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    for (;;) {
      if (this.bytes < 4) return;
      const length = this.peekLength();
      if (length < FIXED || length > MAX_FRAME_BYTES) throw new Error(`frame length ${length} is outside ${FIXED}..${MAX_FRAME_BYTES}`);
      if (this.bytes < 4 + length) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
      const frame = all.subarray(4, 4 + length);
      const rest = all.subarray(4 + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.bytes = rest.length;
      const headerLength = frame.readUInt32BE(5);
      if (FIXED + headerLength > length) throw new Error(`header length ${headerLength} exceeds its frame (${length} bytes)`);
      const header = JSON.parse(frame.toString('utf8', FIXED, FIXED + headerLength)) as unknown;
      if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error('a frame header is not a JSON object');
      onFrame({ id: frame.readUInt32BE(0), op: frame.readUInt8(4), header: header as Record<string, unknown>, payload: frame.subarray(FIXED + headerLength) }, 4 + length);
    }
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    return Buffer.concat(this.chunks, this.bytes).readUInt32BE(0);
  }
}

/** An error as it travels: code, message and retriable flag (any other error becomes MON_ERR_IO). */
export function errorHeader(e: unknown): { code: string; message: string; retriable: boolean } {
  if (e instanceof MonsoonError) return { code: e.code, message: e.message, retriable: e.retriable };
  return { code: ErrorCodes.IO, message: e instanceof Error ? e.message : String(e), retriable: false };
}

export function errorFromHeader(h: Record<string, unknown>): MonsoonError {
  return new MonsoonError((typeof h.code === 'string' ? h.code : ErrorCodes.IO) as ErrorCode, typeof h.message === 'string' ? h.message : 'the bus server failed without a message', { retriable: h.retriable === true });
}

/** Encodes records for PRODUCE; a missing timestamp is this (the producer's) clock. */
export function encodeRecords(topic: string, records: BusRecord[], now: number): Buffer {
  const bad = (i: number, what: string) => new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `produce to ${topic}: record ${i} ${what}; nothing of the batch was written`);
  let size = 0;
  const heads: Array<Array<[Buffer, Buffer]>> = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (!r || !Buffer.isBuffer(r.value)) throw bad(i, 'has no Buffer value');
    if (r.key != null && !Buffer.isBuffer(r.key)) throw bad(i, 'has a key that is not a Buffer');
    const hs: Array<[Buffer, Buffer]> = [];
    if (r.headers) {
      for (const n of Object.keys(r.headers)) {
        const v = r.headers[n];
        if (typeof v !== 'string') throw bad(i, `has header ${JSON.stringify(n)} whose value is not a string`);
        const name = Buffer.from(n);
        if (name.length > 0xffff) throw bad(i, 'has a header name longer than 65535 bytes');
        hs.push([name, Buffer.from(v)]);
      }
      if (hs.length > 0xffff) throw bad(i, `has ${hs.length} headers (at most 65535)`);
    }
    heads[i] = hs;
    size += 4 + (r.key?.length ?? 0) + 4 + r.value.length + 8 + 2;
    for (const [n, v] of hs) size += 2 + n.length + 4 + v.length;
  }
  if (size > MAX_FRAME_BYTES) throw new MonsoonError(ErrorCodes.BUS_RECORD_TOO_LARGE, `produce to ${topic}: ${records.length} records take ${size} bytes, more than one monsoon:// frame carries (${MAX_FRAME_BYTES}); nothing of the batch was written`);
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < records.length; i++) at = writeRecord(buf, at, records[i]!, heads[i]!, now);
  return buf;
}

function writeRecord(buf: Buffer, at: number, r: BusRecord, hs: Array<[Buffer, Buffer]>, now: number): number {
  if (r.key == null) at = buf.writeInt32BE(-1, at);
  else {
    at = buf.writeInt32BE(r.key.length, at);
    at += r.key.copy(buf, at);
  }
  at = buf.writeUInt32BE(r.value.length, at);
  at += r.value.copy(buf, at);
  at = buf.writeDoubleBE(r.timestamp === undefined ? now : Number(r.timestamp), at);
  at = buf.writeUInt16BE(hs.length, at);
  for (const [n, v] of hs) {
    at = buf.writeUInt16BE(n.length, at);
    at += n.copy(buf, at);
    at = buf.writeUInt32BE(v.length, at);
    at += v.copy(buf, at);
  }
  return at;
}

export class Cursor {
  at = 0;
  constructor(readonly buf: Buffer) {}
  need(n: number): void {
    if (this.at + n > this.buf.length) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `a monsoon:// record list ends mid-record (byte ${this.at} of ${this.buf.length})`);
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.at);
    this.at += 8;
    return v;
  }
}

function readFields(c: Cursor): { key: Buffer | null; value: Buffer; timestamp: number; headers: Record<string, string> } {
  const keyLength = c.i32();
  const key = keyLength < 0 ? null : c.bytes(keyLength);
  const value = c.bytes(c.u32());
  const timestamp = c.f64();
  const headers: Record<string, string> = {};
  for (let n = c.u16(); n > 0; n--) {
    const name = c.bytes(c.u16()).toString('utf8');
    const value = c.bytes(c.u32()).toString('utf8');
    if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
    else headers[name] = value;
  }
  return { key, value, timestamp, headers };
}

/** Decodes a PRODUCE payload. Keys and values are views on the frame (no copy). */
export function decodeRecords(payload: Buffer, count: number): BusRecord[] {
  // 18 bytes is the smallest record (null key, empty value, no headers).
  if (!Number.isInteger(count) || count < 0 || count * 18 > payload.length) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `a PRODUCE frame claims ${String(count)} records in ${payload.length} bytes`);
  const c = new Cursor(payload);
  const out: BusRecord[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = readFields(c);
  if (c.at !== payload.length) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `a PRODUCE frame carries ${payload.length - c.at} bytes after its ${count} records`);
  return out;
}

/** Encodes a POLL reply's records into one buffer (one copy; small records dominate). */
export function encodeConsumed(records: ConsumedRecord[]): Buffer {
  const heads: Array<Array<[Buffer, Buffer]>> = new Array(records.length);
  let size = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const hs: Array<[Buffer, Buffer]> = [];
    for (const n of Object.keys(r.headers)) hs.push([Buffer.from(n), Buffer.from(r.headers[n]!)]);
    heads[i] = hs;
    size += 8 + 4 + (r.key?.length ?? 0) + 4 + r.value.length + 8 + 2;
    for (const [n, v] of hs) size += 2 + n.length + 4 + v.length;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    at = buf.writeDoubleBE(r.offset, at);
    at = writeRecord(buf, at, r, heads[i]!, r.timestamp);
  }
  return buf;
}

/** Decodes `count` records of one partition from a POLL reply payload, moving the cursor past them. */
export function decodeConsumed(c: Cursor, topic: string, partition: number, count: number): ConsumedRecord[] {
  const out: ConsumedRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const offset = c.f64();
    out[i] = { topic, partition, offset, ...readFields(c) };
  }
  return out;
}

export function cursor(buf: Buffer): Cursor {
  return new Cursor(buf);
}
