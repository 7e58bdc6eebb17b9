/**
 * A batch of rows carried as one tuple value — the micro-batch a batch-mode topology moves instead
 * of one tuple per record (Trident's idea: per-tuple costs — routing, acking, the objects a tuple
 * keeps alive until its tree completes — are paid once per batch).
 *
 * Every field of every row is bytes (UTF-8 text), one after the other in `buf`: row r's field f is
 * bytes [ends[r·F + f − 1] (0 for the first), ends[r·F + f]) with F = fields.length. A batch is plain
 * data (an array, a number and two typed arrays), so it survives the structured clone between
 * worker processes; read it with the functions below, which take any object of this shape.
 */
import { ErrorCodes, MonsoonError } from '../core/errors.js';

export interface RowBatch {
  readonly fields: readonly string[];
  readonly count: number;
  readonly buf: Uint8Array;
  readonly ends: Int32Array;
}

/** True for a value shaped like a RowBatch. */
export function isRowBatch(v: unknown): v is RowBatch {
  const b = v as RowBatch | null;
  return typeof b === 'object' && b !== null && Array.isArray(b.fields) && typeof b.count === 'number' && b.buf instanceof Uint8Array && b.ends instanceof Int32Array;
}

/** The index of field `name` in `b`, or an error naming the fields it has. */
export function rowFieldIndex(b: RowBatch, name: string, what = 'a row batch'): number {
  const i = b.fields.indexOf(name);
  if (i < 0) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `${what} has no field ${JSON.stringify(name)}; its fields are ${b.fields.map((f) => JSON.stringify(f)).join(', ')}`);
  return i;
}

/** Where row `r`'s field `f` starts in `b.buf`. */
export function fieldStart(b: RowBatch, r: number, f: number): number {
  const k = r * b.fields.length + f;
  return k === 0 ? 0 : b.ends[k - 1]!;
}

/** Where row `r`'s field `f` ends in `b.buf`. */
export function fieldEnd(b: RowBatch, r: number, f: number): number {
  return b.ends[r * b.fields.length + f]!;
}

/** Row `r`'s field `f` as text. */
export function fieldText(b: RowBatch, r: number, f: number): string {
  return Buffer.from(b.buf.buffer, b.buf.byteOffset, b.buf.byteLength).toString('utf8', fieldStart(b, r, f), fieldEnd(b, r, f));
}

/** Copies bytes [s, e) of `src` to `dst` at `p` (a loop for a few dozen, TypedArray#set beyond); returns the end. */
export function putBytes(dst: Uint8Array, p: number, src: Uint8Array, s: number, e: number): number {
  if (e - s <= 32) {
    for (let i = s; i < e; i++) dst[p++] = src[i]!;
    return p;
  }
  dst.set(src.subarray(s, e), p);
  return p + e - s;
}

/**
 * Writes a RowBatch field by field: a writer puts a field's bytes at `pos` of `buf` (after
 * reserve(n) made room for n of them), then calls endField(); endRow() checks the row is whole, and
 * dropRow() forgets a row half written.
 */
export class RowBatchBuilder {
  buf: Buffer;
  pos = 0;
  private ends: Int32Array;
  private k = 0;
  private rowStartK = 0;
  private rowStartPos = 0;
  private readonly width: number;

  constructor(
    readonly fields: readonly string[],
    rowsHint: number,
    bytesPerRow = 256,
  ) {
    if (fields.length === 0) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, 'a row batch needs at least one field');
    this.width = fields.length;
    this.buf = Buffer.allocUnsafeSlow(Math.max(1024, rowsHint * bytesPerRow));
    this.ends = new Int32Array(Math.max(1, rowsHint) * this.width);
  }

  /** Rows ended so far. */
  get count(): number {
    return this.rowStartK / this.width;
  }

  /** Makes room for `n` more bytes at `pos`; returns `buf`, which may have moved. */
  reserve(n: number): Buffer {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    return this.buf;
  }

  /** Appends text as UTF-8 to the field being written. */
  text(s: string): void {
    this.reserve(s.length * 3);
    this.pos += this.buf.write(s, this.pos);
  }

  /** Appends bytes [s, e) of `src` to the field being written. */
  bytes(src: Uint8Array, s: number, e: number): void {
    this.pos = putBytes(this.reserve(e - s), this.pos, src, s, e);
  }

  endField(): void {
    if (this.k - this.rowStartK === this.width) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `a row batch row has ${this.width} fields; one more was ended`);
    if (this.k === this.ends.length) {
      const next = new Int32Array(this.ends.length * 2);
      next.set(this.ends);
      this.ends = next;
    }
    this.ends[this.k++] = this.pos;
  }

  endRow(): void {
    if (this.k - this.rowStartK !== this.width) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `a row batch row was ended with ${this.k - this.rowStartK} of its ${this.width} fields`);
    this.rowStartK = this.k;
    this.rowStartPos = this.pos;
  }

  /** Forgets the row being written. */
  dropRow(): void {
    this.k = this.rowStartK;
    this.pos = this.rowStartPos;
  }

  /** The rows ended so far (a row half written is left out). */
  finish(): RowBatch {
    return { fields: this.fields, count: this.count, buf: this.buf.subarray(0, this.rowStartPos), ends: this.ends.subarray(0, this.rowStartK) };
  }
}
