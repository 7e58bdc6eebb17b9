/**
 * The ETL step of examples/cdr: keeps what the instant-lookup store needs — account, local and
 * remote IPv4, start time and the record id — and rejects a record whose fields are missing or
 * malformed, naming the field (record.ts describes the records).
 */
import type { RowBatchBuilder } from '../../compute/row-batch.js';
import { CDR_FIELD_COUNT, CDR_INDEX, putUint } from './record.js';

/** What the ETL keeps of a record. */
export interface CdrSummary {
  recordId: string;
  account: string;
  localIpv4: string;
  remoteIpv4: string;
  /** Start time in ms since the epoch (UTC). */
  time: number;
}

export type CdrParse = { ok: true; value: CdrSummary } | { ok: false; field: string; reason: string };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ACCOUNT = /^\d{6,20}$/;
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Date.UTC of a `YYYY-MM-DD HH:MM:SS` time's parts when they name a real time that formatCdrTime
 * writes the same way (year 1000–9999), else NaN. Days since the epoch by the civil-calendar
 * arithmetic (proleptic Gregorian, as Date), so no Date or string is made.
 */
function cdrTimeMs(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  if (!(y >= 1000 && mo >= 1 && mo <= 12 && d >= 1 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59)) return NaN;
  if (d > DAYS_IN_MONTH[mo] && !(mo === 2 && d === 29 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return NaN;
  const yy = mo <= 2 ? y - 1 : y;
  const era = (yy / 400) | 0;
  const yoe = yy - era * 400;
  const doy = (((153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5) | 0) + d - 1;
  const days = era * 146_097 + yoe * 365 + ((yoe / 4) | 0) - ((yoe / 100) | 0) + doy - 719_468;
  return days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000;
}

/** Two ASCII digits as a number; a large negative one when either is not a digit. */
const digits2 = (a: number, b: number): number => ((a - 48) >>> 0 <= 9 && (b - 48) >>> 0 <= 9 ? (a - 48) * 10 + b - 48 : -1e6);

/** Parses a `YYYY-MM-DD HH:MM:SS` UTC time; NaN when it is not one. */
export function parseCdrTime(s: string): number {
  if (s.length !== 19 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return NaN;
  const c = (i: number) => digits2(s.charCodeAt(i), s.charCodeAt(i + 1));
  return cdrTimeMs(c(0) * 100 + c(2), c(5), c(8), c(11), c(14), c(17));
}

/** parseCdrTime on bytes [s, s + 19) of `b`. */
function parseCdrTimeAt(b: Uint8Array, s: number, e: number): number {
  if (e - s !== 19 || b[s + 4] !== 45 || b[s + 7] !== 45 || b[s + 10] !== 32 || b[s + 13] !== 58 || b[s + 16] !== 58) return NaN;
  return cdrTimeMs(
    digits2(b[s], b[s + 1]) * 100 + digits2(b[s + 2], b[s + 3]),
    digits2(b[s + 5], b[s + 6]),
    digits2(b[s + 8], b[s + 9]),
    digits2(b[s + 11], b[s + 12]),
    digits2(b[s + 14], b[s + 15]),
    digits2(b[s + 17], b[s + 18]),
  );
}

/** ACCOUNT on bytes [s, e). */
function isAccountAt(b: Uint8Array, s: number, e: number): boolean {
  if (e - s < 6 || e - s > 20) return false;
  for (let i = s; i < e; i++) if ((b[i] - 48) >>> 0 > 9) return false;
  return true;
}

/** IPV4 on bytes [s, e): four dot-separated numbers 0–255 without leading zeros. */
function isIpv4At(b: Uint8Array, s: number, e: number): boolean {
  let i = s;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= e || b[i] !== 46) return false;
      i++;
    }
    const from = i;
    let v = 0;
    while (i < e && i - from < 3 && (b[i] - 48) >>> 0 <= 9) v = v * 10 + b[i++] - 48;
    if (i === from || (i - from > 1 && b[from] === 48) || v > 255) return false;
  }
  return i === e;
}

/**
 * The ETL step: keeps account, local IPv4, remote IPv4, start time and record id; anything missing or
 * malformed is rejected with the field's name (the dead-letter reason).
 */
export function parseCdr(line: string): CdrParse {
  const f = line.split(',');
  if (f.length !== CDR_FIELD_COUNT) return { ok: false, field: 'record', reason: `${f.length} fields, expected ${CDR_FIELD_COUNT}` };
  return checkFields(f[CDR_INDEX.recordId]!, f[CDR_INDEX.account]!, f[CDR_INDEX.localIpv4]!, f[CDR_INDEX.remoteIpv4]!, f[CDR_INDEX.startTime]!);
}

/** The last field index the ETL keeps; fields after it are only counted. */
const LAST_KEPT = Math.max(...Object.values(CDR_INDEX));
/** Start offsets of fields 0 … LAST_KEPT + 1 of the record scanCdr last looked at. */
const starts = new Int32Array(LAST_KEPT + 2);

/**
 * Counts the fields of a record and notes where the kept ones start: a byte loop up to the last
 * kept field (they are all within the first dozen), then countCommas over the rest.
 */
function scanCdr(buf: Buffer): number {
  const n = buf.length;
  let k = 1;
  let i = 0;
  starts[0] = 0;
  for (; i < n && k <= LAST_KEPT + 1; i++) if (buf[i] === 44) starts[k++] = i + 1;
  if (k <= LAST_KEPT + 1) return k;
  return k + countCommas(buf, i);
}

/**
 * A kept Int32Array over the last buffer asked about: the records of a batch share one buffer (a log
 * read chunk or a cached batch, at most a few MiB, kept alive until a record of another comes).
 */
let wordBuf: ArrayBufferLike | undefined;
let words32: Int32Array<ArrayBufferLike> = new Int32Array(0);
function wordsOf(b: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  if (wordBuf !== b || words32.length !== b.byteLength >>> 2) {
    wordBuf = b;
    words32 = new Int32Array(b, 0, b.byteLength >>> 2);
  }
  return words32;
}

/**
 * The commas in bytes [from, end) of `buf`, four bytes at a time through an Int32Array view (a byte
 * loop costs about 1.5 ns a byte, this a third of that): in `x = word ^ 0x2c2c2c2c` a byte is 0
 * exactly where a comma was, and `~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080` has the top
 * bit of exactly those bytes set.
 */
function countCommas(buf: Buffer, from: number): number {
  const n = buf.length;
  let count = 0;
  let i = from;
  const head = Math.min(n, i + ((4 - ((buf.byteOffset + i) & 3)) & 3));
  for (; i < head; i++) if (buf[i] === 44) count++;
  const words = (n - i) >>> 2;
  if (words > 0) {
    const w = wordsOf(buf.buffer);
    const w0 = (buf.byteOffset + i) >>> 2;
    for (let j = w0; j < w0 + words; j++) {
      const x = w[j] ^ 0x2c2c2c2c;
      const t = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080;
      count += Math.imul(t >>> 7, 0x01010101) >>> 24;
    }
    i += words << 2;
  }
  for (; i < n; i++) if (buf[i] === 44) count++;
  return count;
}

/**
 * parseCdr on the record's bytes (UTF-8 or any ASCII-compatible charset), with the same results: only
 * the kept fields become strings; the other commas are only counted, so a 1–4 KB record costs a few
 * small strings instead of a hundred.
 */
export function parseCdrBytes(buf: Buffer): CdrParse {
  const fields = scanCdr(buf);
  if (fields !== CDR_FIELD_COUNT) return { ok: false, field: 'record', reason: `${fields} fields, expected ${CDR_FIELD_COUNT}` };
  const field = (k: number) => buf.toString('utf8', starts[k], starts[k + 1] - 1);
  return checkFields(field(CDR_INDEX.recordId), field(CDR_INDEX.account), field(CDR_INDEX.localIpv4), field(CDR_INDEX.remoteIpv4), field(CDR_INDEX.startTime));
}

const putAscii = (b: Uint8Array, p: number, s: string): number => {
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  return p;
};
const J_LOCAL = '{"local_ipv4":"';
const J_REMOTE = '","remote_ipv4":"';
/** The most bytes the fast way writes besides the record id (row, qualifier, value and the rest are all short). */
const FAST_FIXED = 400;

/** Why the ETL rejected a record. */
export interface CdrReject {
  field: string;
  reason: string;
}

/** The ETL's output fields, in order (etlRowsOf's row layout). */
export const ETL_FIELDS = ['row', 'qualifier', 'value', 'record_id', 'account', 'local_ipv4', 'remote_ipv4', 'time'] as const;

/**
 * The ETL step on one record's bytes (UTF-8 or any ASCII-compatible charset): parseCdrBytes, then
 * one row of ETL_FIELDS appended to `out` — row key (cdrRowKey), qualifier (`<time, 13 digits>#<record
 * id>`), the stored value (cdrValue), record id, account, local and remote IPv4, and the start time
 * in ms as decimal text. Returns why the record was rejected instead (nothing appended).
 *
 * Only the kept fields are looked at; the other commas are only counted. Validation and output work
 * on the bytes, so an accepted record costs no string at all. A record id with bytes outside ASCII
 * takes the string way (cdrEtlOf), so bytes that are not UTF-8 end the same either way.
 */
export function cdrEtlInto(buf: Buffer, out: RowBatchBuilder): CdrReject | null {
  const fields = scanCdr(buf);
  if (fields !== CDR_FIELD_COUNT) return { field: 'record', reason: `${fields} fields, expected ${CDR_FIELD_COUNT}` };
  const idS = starts[CDR_INDEX.recordId];
  const idE = starts[CDR_INDEX.recordId + 1] - 1;
  const accS = starts[CDR_INDEX.account];
  const accE = starts[CDR_INDEX.account + 1] - 1;
  const locS = starts[CDR_INDEX.localIpv4];
  const locE = starts[CDR_INDEX.localIpv4 + 1] - 1;
  const remS = starts[CDR_INDEX.remoteIpv4];
  const remE = starts[CDR_INDEX.remoteIpv4 + 1] - 1;
  const tS = starts[CDR_INDEX.startTime];
  const tE = starts[CDR_INDEX.startTime + 1] - 1;
  const time = idS < idE && isAccountAt(buf, accS, accE) && isIpv4At(buf, locS, locE) && isIpv4At(buf, remS, remE) ? parseCdrTimeAt(buf, tS, tE) : NaN;
  let plain = true;
  for (let i = idS; plain && i < idE; i++) plain = buf[i] < 0x80;
  if (Number.isNaN(time) || !plain) {
    const field = (s: number, e: number) => buf.toString('utf8', s, e);
    const p = checkFields(field(idS, idE), field(accS, accE), field(locS, locE), field(remS, remE), field(tS, tE));
    if (!p.ok) return { field: p.field, reason: p.reason };
    for (const v of cdrEtlOf(p.value)) {
      out.text(String(v));
      out.endField();
    }
    out.endRow();
    return null;
  }
  const b = out.reserve(FAST_FIXED + 2 * (idE - idS));
  let p = out.pos;
  // row: the account's digits reversed
  for (let i = accE - 1; i >= accS; i--) b[p++] = buf[i];
  p = endAt(out, p);
  // qualifier
  if (time >= 0) {
    p = putUint(b, p, time, 13);
  } else {
    const q = String(time); // before 1970: padStart pads in front of the sign
    for (let i = q.length; i < 13; i++) b[p++] = 48;
    p = putAscii(b, p, q);
  }
  b[p++] = 35;
  p = putFrom(b, p, buf, idS, idE);
  p = endAt(out, p);
  // value
  p = putAscii(b, p, J_LOCAL);
  p = putFrom(b, p, buf, locS, locE);
  p = putAscii(b, p, J_REMOTE);
  p = putFrom(b, p, buf, remS, remE);
  b[p] = 34;
  b[p + 1] = 125;
  p = endAt(out, p + 2);
  p = endAt(out, putFrom(b, p, buf, idS, idE));
  p = endAt(out, putFrom(b, p, buf, accS, accE));
  p = endAt(out, putFrom(b, p, buf, locS, locE));
  p = endAt(out, putFrom(b, p, buf, remS, remE));
  if (time >= 0) p = putUint(b, p, time, 1);
  else p = putAscii(b, p, String(time));
  endAt(out, p);
  out.endRow();
  return null;
}

/** Ends the field being written at `p`; returns `p`. */
function endAt(out: RowBatchBuilder, p: number): number {
  out.pos = p;
  out.endField();
  return p;
}

/** Bytes [s, e) of `src` (a few dozen at most: a loop beats Buffer#copy's views). */
const putFrom = (b: Uint8Array, p: number, src: Uint8Array, s: number, e: number): number => {
  for (let i = s; i < e; i++) b[p++] = src[i];
  return p;
};

/** The ETL_FIELDS values of a parsed record, built from strings (cdrEtlInto's slow way, and its reference). */
export function cdrEtlOf(v: CdrSummary): [string, string, string, string, string, string, string, number] {
  return [cdrRowKey(v.account), cdrQualifier(v.time, v.recordId), cdrValue(v), v.recordId, v.account, v.localIpv4, v.remoteIpv4, v.time];
}

/**
 * The stored value of a record: the JSON of {local_ipv4, remote_ipv4}. The account is the cell's row
 * (reversed) and the start time and record id its qualifier, so the value does not repeat them
 * (HBase practice): a cell of ~110 bytes instead of ~210 keeps the store's B-tree half the size, and
 * LMDB copies each page a commit touches.
 */
export const cdrValue = (v: Pick<CdrSummary, 'localIpv4' | 'remoteIpv4'>): string => JSON.stringify({ local_ipv4: v.localIpv4, remote_ipv4: v.remoteIpv4 });

function checkFields(recordId: string, account: string, localIpv4: string, remoteIpv4: string, startTime: string): CdrParse {
  if (!recordId) return { ok: false, field: 'record_id', reason: 'empty' };
  if (!ACCOUNT.test(account)) return { ok: false, field: 'account', reason: `not an account number: ${JSON.stringify(account.slice(0, 40))}` };
  if (!IPV4.test(localIpv4)) return { ok: false, field: 'local_ipv4', reason: `not an IPv4 address: ${JSON.stringify(localIpv4.slice(0, 40))}` };
  if (!IPV4.test(remoteIpv4)) return { ok: false, field: 'remote_ipv4', reason: `not an IPv4 address: ${JSON.stringify(remoteIpv4.slice(0, 40))}` };
  const time = parseCdrTime(startTime);
  if (Number.isNaN(time)) return { ok: false, field: 'start_time', reason: `not a YYYY-MM-DD HH:MM:SS time: ${JSON.stringify(startTime.slice(0, 40))}` };
  return { ok: true, value: { recordId, account, localIpv4, remoteIpv4, time } };
}

/** The KV column of a record: start time (ms, 13 digits, so a row's columns sort by time) and record id. */
export const cdrQualifier = (time: number, recordId: string) => `${String(time).padStart(13, '0')}#${recordId}`;

/** The store's row key for an account: its digits reversed, so consecutive numbers spread out (HBase practice). */
export function cdrRowKey(account: string): string {
  return account.split('').reverse().join('');
}
