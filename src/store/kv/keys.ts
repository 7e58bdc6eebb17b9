/**
 * Cell keys of the embedded key-value store. A cell is addressed by (row, family, qualifier); the key
 * is the concatenation of each part encoded as its bytes with 0x00 escaped to 0x00 0xFF, followed by
 * the terminator 0x00 0x01. The escaping keeps byte order: for rows a < b (bytewise, a shorter prefix
 * first), every cell key of a sorts before every cell key of b, and the cells of one row sit together,
 * ordered by family, then qualifier.
 *
 * Bounds for scans follow from that: every row starting with p has cell keys starting with escape(p),
 * and rows >= s have cell keys >= escape(s) (row s itself continues with 0x00 0x01, a longer row with
 * 0x00 0xFF or a byte above 0x00), so [escape(start), escape(stop)) selects rows in [start, stop).
 */
const ESC = 0x00;
const ESC_ZERO = 0xff;
const TERM = 0x01;

export function escapePart(part: Buffer): Buffer {
  let zeros = 0;
  for (const b of part) if (b === ESC) zeros++;
  if (zeros === 0) return part;
  const out = Buffer.allocUnsafe(part.length + zeros);
  let o = 0;
  for (const b of part) {
    out[o++] = b;
    if (b === ESC) out[o++] = ESC_ZERO;
  }
  return out;
}

/** The encoded tuple of `parts`, each escaped and terminated. */
export function encodeKey(...parts: Buffer[]): Buffer {
  const escaped = parts.map(escapePart);
  let size = 0;
  for (const e of escaped) size += e.length + 2;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const e of escaped) {
    o += e.copy(out, o);
    out[o++] = ESC;
    out[o++] = TERM;
  }
  return out;
}

/**
 * Splits an encoded key back into its parts; throws on bytes encodeKey cannot have produced. The
 * parts do not share memory with `key` (LMDB reuses the memory of the keys it returns): the key is
 * copied once, and a part without escapes is a view of that copy.
 */
export function decodeKey(key: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let own: Buffer | undefined;
  let start = 0; // where the current part begins
  let escaped = false; // it holds an escaped 0x00
  for (let i = 0; i < key.length; i++) {
    if (key[i] !== ESC) continue;
    const next = key[i + 1];
    if (next === ESC_ZERO) escaped = true;
    else if (next === TERM) {
      parts.push(escaped ? unescape(key, start, i) : (own ??= Buffer.from(key)).subarray(start, i));
      start = i + 2;
      escaped = false;
    } else throw new Error(`malformed cell key at byte ${i + 1}`);
    i++;
  }
  if (start < key.length) throw new Error('malformed cell key: unterminated part');
  return parts;
}

/** Bytes [s, e) of an encoded key with each 0x00 0xFF turned back into 0x00. */
function unescape(key: Buffer, s: number, e: number): Buffer {
  const out = Buffer.allocUnsafe(e - s);
  let o = 0;
  for (let i = s; i < e; i++) {
    out[o++] = key[i]!;
    if (key[i] === ESC) i++;
  }
  return out.subarray(0, o);
}

/** The key range of rows starting with `prefix`: [escape(prefix), next) where next is the first key past them. */
export function prefixRange(prefix: Buffer): { start: Buffer; end: Buffer | undefined } {
  const start = escapePart(prefix);
  return { start, end: prefixEnd(start) };
}

/** The smallest key greater than every key starting with `p` (undefined when p is all 0xFF or empty). */
export function prefixEnd(p: Buffer): Buffer | undefined {
  let i = p.length - 1;
  while (i >= 0 && p[i] === 0xff) i--;
  if (i < 0) return undefined;
  const end = Buffer.from(p.subarray(0, i + 1));
  end[i]!++;
  return end;
}

/** `v` as a Buffer when it is bytes; a TypeError when it is neither bytes nor a string. */
function asBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`a cell's row, qualifier and value must be strings or bytes, got ${typeof v}`);
}

/**
 * Cells of one write, encoded into one buffer: cell i's key (encodeKey(row, family, qualifier)) and
 * then its value, so cell i's key is bytes [ends[2i - 1] (0 for i = 0), ends[2i]) and its value
 * [ends[2i], ends[2i + 1]). One allocation per batch instead of a handful per cell; strings are
 * written straight into it (a string holding U+0000 goes through escapePart).
 */
export class CellBatch {
  buf: Buffer;
  readonly ends: Int32Array;
  private o = 0;

  constructor(cells: number, bytesPerCell = 256) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(1024, cells * bytesPerCell));
    this.ends = new Int32Array(cells * 2);
  }

  get length(): number {
    return this.o;
  }

  /** Appends `part` escaped and terminated, as one part of a key. */
  keyPart(part: Buffer | string): void {
    if (typeof part !== 'string') part = asBuffer(part);
    else {
      if (part.indexOf('\0') >= 0) part = Buffer.from(part);
      else {
        this.room(part.length * 3 + 2);
        this.o += this.buf.write(part, this.o);
        this.buf[this.o++] = ESC;
        this.buf[this.o++] = TERM;
        return;
      }
    }
    this.keyPartBytes(part, 0, part.length);
  }

  /** keyPart of bytes [s, e) of `src`. */
  keyPartBytes(src: Uint8Array, s: number, e: number): void {
    this.room((e - s) * 2 + 2);
    const buf = this.buf;
    let o = this.o;
    for (let i = s; i < e; i++) {
      const b = src[i]!;
      buf[o++] = b;
      if (b === ESC) buf[o++] = ESC_ZERO;
    }
    buf[o++] = ESC;
    buf[o++] = TERM;
    this.o = o;
  }

  /** raw() of bytes [s, e) of `src`; a short run by a loop (no view object per cell), a long one by one copy. */
  rawBytes(src: Uint8Array, s: number, e: number): void {
    this.room(e - s);
    if (e - s >= 128) this.buf.set(src.subarray(s, e), this.o);
    else {
      const buf = this.buf;
      for (let i = s, o = this.o; i < e; i++, o++) buf[o] = src[i]!;
    }
    this.o += e - s;
  }

  /** Appends `part` as it is (a value). */
  raw(part: Buffer | string): void {
    if (typeof part === 'string') {
      this.room(part.length * 3);
      this.o += this.buf.write(part, this.o);
    } else {
      const b = asBuffer(part);
      this.room(b.length);
      this.o += b.copy(this.buf, this.o);
    }
  }

  /** Marks the end of cell i's key (`value` false) or value. */
  end(i: number, value: boolean): void {
    this.ends[2 * i + (value ? 1 : 0)] = this.o;
  }

  private room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.o + n));
    this.buf.copy(next, 0, 0, this.o);
    this.buf = next;
  }
}

/** Cells one putOrder sorts at most (indexes take 21 bits beside a 32-bit prefix in a double). */
const ORDER_MAX = 1 << 21;

/**
 * The order to put the cells of an encoded batch in (see CellBatch; `ends` as there): by the 4 bytes
 * of each key that follow the prefix all keys share, ties (and equal keys: the later one must win) in
 * batch order; more than ORDER_MAX cells keep batch order. Puts in key order walk the B-tree from
 * one leaf to its neighbours instead of all over it: keys such as reversed account numbers spread
 * every batch across the whole tree, and sorted puts took 10–20% less CPU in a writer's commits.
 */
export function putOrder(buf: Buffer, ends: ArrayLike<number>): Uint32Array {
  const n = ends.length >> 1;
  const order = new Uint32Array(n);
  if (n > ORDER_MAX || n < 2) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order;
  }
  // the length of the prefix every key shares (that of the first key and each other)
  const first = ends[0]!;
  let common = first;
  for (let i = 1; i < n && common > 0; i++) {
    const at = ends[2 * i - 1]!;
    const len = Math.min(common, ends[2 * i]! - at);
    let k = 0;
    while (k < len && buf[at + k] === buf[k]) k++;
    common = k;
  }
  const sortKeys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const at = (i === 0 ? 0 : ends[2 * i - 1]!) + common;
    const end = ends[2 * i]!;
    let p = 0;
    for (let k = 0; k < 4; k++) p = p * 256 + (at + k < end ? buf[at + k]! : 0);
    sortKeys[i] = p * ORDER_MAX + i;
  }
  sortKeys.sort();
  for (let i = 0; i < n; i++) order[i] = sortKeys[i]! % ORDER_MAX;
  return order;
}
