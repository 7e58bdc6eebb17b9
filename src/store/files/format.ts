import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { fieldEnd, fieldStart, putBytes, rowFieldIndex, type RowBatch } from '../../compute/row-batch.js';
import type { FieldValue } from '../writer.js';

/**
 * File names and record layout of rolled files, as Storm's storm-hdfs users know them:
 * DefaultFileNameFormat names a file `{prefix}{componentId}-{taskId}-{rotation}-{timestamp}{extension}`
 * (defaults: no prefix, `.txt`); DelimitedRecordFormat writes the chosen fields joined by a field
 * delimiter (`,`), each record ended by a record delimiter (`\n`).
 */
export interface FileNameFormat {
  prefix: string;
  extension: string;
  componentId: string;
  taskId: number;
}

export function fileName(f: FileNameFormat, rotation: number, timestamp: number): string {
  return `${f.prefix}${f.componentId}-${f.taskId}-${rotation}-${timestamp}${f.extension}`;
}

/** The rotation number of a file named by `f`, or undefined when the name is not one of its files. */
export function rotationOf(f: FileNameFormat, name: string): number | undefined {
  const head = `${f.prefix}${f.componentId}-${f.taskId}-`;
  if (!name.startsWith(head) || !name.endsWith(f.extension)) return undefined;
  const m = /^(\d+)-(\d+)$/.exec(name.slice(head.length, name.length - f.extension.length));
  return m ? Number(m[1]) : undefined;
}


/**
 * Serialises rows as delimited records, one buffer per batch, written field by field into it: short
 * ASCII strings (the usual field) by a loop over their characters, anything else by one native UTF-8
 * write, a Buffer field as its bytes. No string is built per record, so a batch leaves no garbage
 * but its buffer.
 */
export class DelimitedRecordFormat {
  private readonly fd: Buffer;
  private readonly rd: Buffer;
  constructor(
    readonly fields: readonly string[],
    fieldDelimiter = ',',
    recordDelimiter = '\n',
  ) {
    if (fields.length === 0) throw new MonsoonError(ErrorCodes.STORE_INVALID_ARGUMENT, 'a delimited record format needs at least one field');
    this.fd = Buffer.from(fieldDelimiter);
    this.rd = Buffer.from(recordDelimiter);
  }

  format(rows: readonly Readonly<Record<string, FieldValue>>[]): Buffer {
    const fields = this.fields;
    const fd = this.fd;
    const rd = this.rd;
    const out = new Output(rows.length * (fields.length * (8 + fd.length) + rd.length));
    for (const row of rows) {
      for (let i = 0; i < fields.length; i++) {
        if (i > 0) out.bytes(fd);
        const v = row[fields[i]!];
        if (v === null || v === undefined) continue;
        if (typeof v === 'string') out.text(v);
        else if (Buffer.isBuffer(v)) out.bytes(v);
        else out.text(String(v));
      }
      out.bytes(rd);
    }
    return out.done();
  }

  /**
   * format() of the rows of RowBatches (their fields are bytes already): the fields named by
   * `fields`, copied. `keep`, when given, has one flag per row over all batches (0: left out).
   */
  formatBatches(batches: readonly RowBatch[], keep?: Uint8Array): Buffer {
    const fd = this.fd;
    const rd = this.rd;
    let bytes = 0;
    for (const b of batches) bytes += b.buf.length + b.count * (this.fields.length * fd.length + rd.length);
    const out = new Output(bytes);
    let k = 0;
    for (const b of batches) {
      const idx = this.fields.map((f) => rowFieldIndex(b, f, 'a row batch to archive'));
      formatRows(out, b, idx, keep, k, fd, rd);
      k += b.count;
    }
    return out.done();
  }
}

/**
 * The rows of `b` (fields `idx`) into `out`, leaving out those whose flag in `keep` (from index `k`
 * on) is 0. A function of its own, apart from the once-a-call code around it: V8 optimizes it once
 * and keeps it, where the loop inside formatBatches was compiled on the stack during a call and
 * thrown away by the code after it, call after call.
 */
function formatRows(out: Output, b: RowBatch, idx: readonly number[], keep: Uint8Array | undefined, k: number, fd: Buffer, rd: Buffer): void {
  for (let r = 0; r < b.count; r++, k++) {
    if (keep !== undefined && keep[k] === 0) continue;
    for (let i = 0; i < idx.length; i++) {
      if (i > 0) out.bytes(fd);
      out.range(b.buf, fieldStart(b, r, idx[i]!), fieldEnd(b, r, idx[i]!));
    }
    out.bytes(rd);
  }
}

/** Strings up to this long are tried as ASCII by a JavaScript loop (cheaper than a native call). */
const SHORT_TEXT = 64;

/** A growing output buffer. */
class Output {
  private buf: Buffer;
  private p = 0;
  constructor(estimate: number) {
    this.buf = Buffer.allocUnsafe(Math.max(256, estimate));
  }
  private room(n: number): void {
    if (this.p + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.p + n));
    next.set(this.buf.subarray(0, this.p));
    this.buf = next;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    if (b.length <= 8) for (let i = 0; i < b.length; i++) this.buf[this.p++] = b[i]!;
    else {
      this.buf.set(b, this.p);
      this.p += b.length;
    }
  }
  /** Bytes [s, e) of `src`. */
  range(src: Uint8Array, s: number, e: number): void {
    this.room(e - s);
    this.p = putBytes(this.buf, this.p, src, s, e);
  }
  text(s: string): void {
    const n = s.length;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; a long string is measured instead
    this.room(n <= SHORT_TEXT ? 3 * n : Buffer.byteLength(s));
    const buf = this.buf;
    let p = this.p;
    if (n <= SHORT_TEXT) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        this.p = p;
        return;
      }
      p = this.p; // not ASCII: written again below as UTF-8
    }
    this.p = p + buf.write(s, p);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.p);
  }
}

/** `\t`, `\n`, `\r`, `\0` and `\\` written literally in a config value, as the characters they name. */
export function unescapeDelimiter(s: string): string {
  return s.replace(/\\([tnr0\\])/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0', '\\': '\\' })[c]!);
}

const SIZE_UNITS = { KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 } as const;
const TIME_UNITS = { SECONDS: 1000, MINUTES: 60_000, HOURS: 3_600_000, DAYS: 86_400_000 } as const;
export type SizeUnit = keyof typeof SIZE_UNITS;
export type TimeUnit = keyof typeof TIME_UNITS;
export const sizeUnits = Object.keys(SIZE_UNITS) as SizeUnit[];
export const timeUnits = Object.keys(TIME_UNITS) as TimeUnit[];

/** FileSizeRotationPolicy(count, units) in bytes. */
export const rotationBytes = (count: number, unit: SizeUnit) => Math.floor(count * SIZE_UNITS[unit]);
/** TimedRotationPolicy(count, units) in milliseconds. */
export const rotationMs = (count: number, unit: TimeUnit) => Math.floor(count * TIME_UNITS[unit]);

/** hdfs:// and webhdfs:// need a Hadoop cluster, which nothing here can talk to: a clear error. */
export function checkLocalUrl(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'hdfs' || scheme === 'webhdfs' || scheme === 'swebhdfs') {
    throw new MonsoonError(ErrorCodes.STORE_UNSUPPORTED, `${url}: ${scheme}:// is not available — Monsoon has no HDFS/WebHDFS client and no Hadoop to test one against; write to a local (or mounted) directory with a file:// URL or a path`);
  }
  if (scheme !== undefined && scheme !== 'file') throw new MonsoonError(ErrorCodes.STORE_UNSUPPORTED, `${url}: ${scheme}:// is not a supported file system; use a local path or file://`);
  return scheme === 'file' ? url.replace(/^file:(\/\/[^/]*)?/i, '') : url;
}
