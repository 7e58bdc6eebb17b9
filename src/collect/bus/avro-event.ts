import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Event } from '../../core/event.js';

/**
 * Flume's event as an Avro datum, the record value Flume's Kafka sink writes and its Kafka source
 * reads with `useFlumeEventFormat = true`:
 *
 *   record AvroFlumeEvent { map<string> headers; bytes body; }
 *
 * in Avro's binary encoding (no container, no schema fingerprint): the map as blocks of
 * `count` then `count` × (key string, value string), ended by a block of count 0; a string or bytes
 * as a length then the bytes; counts and lengths as zig-zag varint longs. A negative block count
 * (−count, followed by the block's byte size) is valid Avro and is accepted when decoding.
 */

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes the zig-zag form of a non-negative long (2n), which is what lengths and counts use. */
function writeLength(buf: Buffer, pos: number, n: number): number {
  let v = n * 2;
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

export function encodeAvroEvent(e: Event): Buffer {
  const keys = Object.keys(e.headers);
  let size = 1 + varintSize(e.body.length * 2) + e.body.length;
  if (keys.length > 0) size += varintSize(keys.length * 2);
  const lens: number[] = new Array(keys.length * 2);
  for (let i = 0; i < keys.length; i++) {
    const k = Buffer.byteLength(keys[i]!);
    const v = Buffer.byteLength(e.headers[keys[i]!]!);
    lens[2 * i] = k;
    lens[2 * i + 1] = v;
    size += varintSize(k * 2) + k + varintSize(v * 2) + v;
  }
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (keys.length > 0) {
    pos = writeLength(buf, pos, keys.length);
    for (let i = 0; i < keys.length; i++) {
      pos = writeLength(buf, pos, lens[2 * i]!);
      pos += buf.write(keys[i]!, pos, 'utf8');
      pos = writeLength(buf, pos, lens[2 * i + 1]!);
      pos += buf.write(e.headers[keys[i]!]!, pos, 'utf8');
    }
  }
  buf[pos++] = 0;
  pos = writeLength(buf, pos, e.body.length);
  e.body.copy(buf, pos);
  return buf;
}

class Reader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  fail(why: string): never {
    throw new MonsoonError(ErrorCodes.SOURCE_DECODE, `${this.what} is not a Flume Avro event (useFlumeEventFormat): ${why} at byte ${this.pos}`);
  }

  long(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
      mul *= 128;
      if (mul > 2 ** 56) this.fail('varint out of range');
    }
    return this.fail('varint longer than 10 bytes');
  }

  bytes(): Buffer {
    const n = this.long();
    if (n < 0 || this.pos + n > this.buf.length) this.fail(`length ${n} beyond the value`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Decodes one AvroFlumeEvent; `what` names the record in error messages (topic/partition/offset). */
export function decodeAvroEvent(value: Buffer, what: string): Event {
  const r = new Reader(value, what);
  const headers: Record<string, string> = {};
  for (;;) {
    let count = r.long();
    if (count === 0) break;
    if (count < 0) {
      count = -count;
      r.long(); // the block's size in bytes, only useful for skipping
    }
    for (let i = 0; i < count; i++) {
      const k = r.bytes().toString('utf8');
      headers[k] = r.bytes().toString('utf8');
    }
  }
  const body = Buffer.from(r.bytes());
  if (r.pos !== value.length) r.fail(`${value.length - r.pos} byte(s) after the event`);
  return { headers, body };
}
