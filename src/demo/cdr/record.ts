import { seededRandom } from '../../core/random.js';

/**
 * The call-detail records of the examples/cdr pipeline: 100 comma-separated fields per line, as a
 * mobile operator's mediation system drops them for collection. Text is ISO-8859-1 (subscriber and
 * cell names carry Latin-1 letters); a few fields (URL, user agent, extension data) run past 1,000
 * bytes on some records. Fields never contain ',' or '\n'.
 *
 * The ETL step keeps what the instant-lookup store needs — account, local and remote IPv4, start
 * time and the record id — and rejects a record whose fields are missing or malformed, naming the
 * field.
 */

/** The field names, in order; index = column number. */
export const CDR_FIELDS: readonly string[] = (() => {
  const named = [
    'record_type', 'record_id', 'account', 'imsi', 'imei', 'start_time', 'end_time', 'duration_s',
    'local_ipv4', 'local_port', 'remote_ipv4', 'remote_port', 'protocol', 'bytes_up', 'bytes_down',
    'cell_id', 'lac', 'cell_name', 'apn', 'charging_id', 'rat_type', 'cause', 'subscriber_name',
    'tariff', 'roaming', 'mcc', 'mnc', 'sgsn_ipv4', 'ggsn_ipv4', 'qos_class',
  ];
  const fields = [...named];
  for (let i = fields.length; i < 97; i++) fields.push(`ext_${String(i).padStart(2, '0')}`);
  fields.push('url', 'user_agent', 'extension_data');
  return fields;
})();

export const CDR_FIELD_COUNT = 100;
const F = Object.fromEntries(CDR_FIELDS.map((n, i) => [n, i])) as Record<string, number>;
export const CDR_INDEX = { recordId: F.record_id!, account: F.account!, startTime: F.start_time!, localIpv4: F.local_ipv4!, remoteIpv4: F.remote_ipv4! };

const TYPES = ['MOC', 'MTC', 'SMS', 'DATA', 'DATA', 'DATA'];
const NAMES = ['José Müller', 'Zoë Ångström', 'François Lefèvre', 'Søren Næss', 'Mårten Öberg', 'Inês Conceição', 'Jürgen Weiß', 'Chloé Dubois'];
const CELLS = ['São Paulo Centro', 'Zürich HB', 'Málaga Puerto', 'Köln Süd', 'Genève Aéroport', 'Århus Ø'];
const APNS = ['internet', 'mms', 'ims', 'corp.example'];
const AGENTS = ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML like Gecko) Chrome/126.0 Mobile Safari/537.36', 'Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A.220624.014)', 'okhttp/4.12.0'];
const PAD = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(64);

/** The generator's seeded random numbers (mulberry32), so a run can be reproduced from its seed. */
export const prng = seededRandom;

const two = (n: number) => (n < 10 ? '0' + n : String(n));

/** `YYYY-MM-DD HH:MM:SS` in UTC, the mediation systems' format. */
export function formatCdrTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

export interface CdrGenOptions {
  /** Distinct subscribers (accounts) the records are spread over (default 10,000). */
  subscribers?: number;
  /** Share of records with one field over 1,000 bytes (default 0.05). */
  longFieldShare?: number;
  /** Share of records made malformed on purpose (default 0), to exercise the dead-letter path. */
  malformedShare?: number;
}

/** The account (MSISDN) of subscriber `i`: 13 digits, country code 86, mobile prefix 13x. */
export function accountOf(i: number): string {
  return `8613${i % 10}${String(i).padStart(8, '0').slice(-8)}`;
}

// Records are written as bytes straight into the file's buffer: every constant piece is encoded
// once here, numbers are written digit by digit, and a time costs one Date only when its day
// changes. A hundred strings and a join per record had cost about 11.5 µs of CPU; this about 2.5.
const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const TYPE_B = TYPES.map(latin1);
const NAME_B = NAMES.map(latin1);
const CELL_B = CELLS.map(latin1);
const APN_B = APNS.map(latin1);
const AGENT_B = AGENTS.map(latin1);
const PAD_B = latin1(PAD);
const URL_B = latin1('https://cdn.example.net/v/');
const BAD_IPV4_B = latin1('300.1.2');
const BAD_TIME_B = latin1('not-a-time');
/** Fields 30–31 (`<pad>,<pad>,`) and the end of a numeric ext field with the run after it (`,,<pad>,<pad>,`: fields 33–35, 37–39 … 93–95, the first one empty): the ext text fields are 4–15 letters. */
const PAD_PAIRS: Uint8Array[] = [];
const EMPTY_PAD_PAIRS: Uint8Array[] = [];
for (let a = 4; a < 16; a++) {
  for (let b = 4; b < 16; b++) {
    const pair = `${PAD.slice(0, a)},${PAD.slice(0, b)},`;
    PAD_PAIRS.push(latin1(pair));
    EMPTY_PAD_PAIRS.push(latin1(',,' + pair));
  }
}
/** More than any record takes: the fields besides the record id stay under 5,000 bytes. */
const RECORD_MAX = 6_000;

// TypedArray#set beats a byte loop from about ten bytes on.
function put(b: Uint8Array, p: number, s: Uint8Array): number {
  const n = s.length;
  if (n > 8) {
    b.set(s, p);
  } else {
    for (let i = 0; i < n; i++) b[p + i] = s[i];
  }
  return p + n;
}

/** The first `n` bytes of `s`. */
function putPrefix(b: Uint8Array, p: number, s: Uint8Array, n: number): number {
  if (n > 8) {
    b.set(s.subarray(0, n), p);
  } else {
    for (let i = 0; i < n; i++) b[p + i] = s[i];
  }
  return p + n;
}

/** Decimal digits of a whole number ≥ 0. */
function digits(n: number): number {
  if (n < 100_000) return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : 5;
  if (n < 10_000_000_000) return n < 1_000_000 ? 6 : n < 10_000_000 ? 7 : n < 100_000_000 ? 8 : n < 1_000_000_000 ? 9 : 10;
  let len = 10;
  for (let x = n; x >= 10_000_000_000; x = Math.floor(x / 10)) len++;
  return len;
}

/** '00' … '99' as 200 bytes. */
const PAIRS = latin1(Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i).join(''));

/** A whole number ≥ 0 (below 2^53) in decimal, at least `width` digits (zeros in front). */
function putUint(b: Uint8Array, p: number, n: number, width: number): number {
  let len = digits(n);
  if (len < width) len = width;
  const end = p + len;
  let q = end;
  // Floating point until the rest fits 31 bits, then integers two digits at a time.
  for (; n > 0x7fffffff; q--) {
    const d = n % 10;
    b[q - 1] = 48 + d;
    n = (n - d) / 10;
  }
  let m = n | 0;
  while (m >= 100) {
    const next = (m / 100) | 0;
    const two = (m - next * 100) << 1;
    b[q - 1] = PAIRS[two + 1];
    b[q - 2] = PAIRS[two];
    q -= 2;
    m = next;
  }
  if (m >= 10) {
    b[q - 1] = PAIRS[(m << 1) + 1];
    b[q - 2] = PAIRS[m << 1];
    q -= 2;
  } else {
    b[--q] = 48 + m;
  }
  while (q > p) b[--q] = 48;
  return end;
}

const putComma = (b: Uint8Array, p: number): number => {
  b[p] = 44;
  return p + 1;
};

/** An address `<first>.x.y.z` from one 32-bit draw, last octet 1–254. */
function putIpv4(b: Uint8Array, p: number, first: number, x: number): number {
  p = putUint(b, p, first, 1);
  b[p++] = 46;
  p = putUint(b, p, x >>> 24, 1);
  b[p++] = 46;
  p = putUint(b, p, (x >>> 16) & 255, 1);
  b[p++] = 46;
  return putUint(b, p, 1 + ((x & 0xffff) % 254), 1);
}

let timeDay = NaN;
let timeDayBytes: Uint8Array = new Uint8Array(0);

/** formatCdrTime(ms) as bytes; the `YYYY-MM-DD ` part comes from a one-day cache. */
function putTime(b: Uint8Array, p: number, ms: number): number {
  const sec = Math.floor(Math.trunc(ms) / 1000);
  const day = Math.floor(sec / 86_400);
  if (day !== timeDay) {
    const s = formatCdrTime(day * 86_400_000);
    timeDay = day;
    timeDayBytes = latin1(s.slice(0, s.indexOf(' ') + 1));
  }
  p = put(b, p, timeDayBytes);
  let s = sec - day * 86_400;
  const h = (s / 3600) | 0;
  s -= h * 3600;
  const m = (s / 60) | 0;
  s -= m * 60;
  b[p] = 48 + ((h / 10) | 0);
  b[p + 1] = 48 + (h % 10);
  b[p + 2] = 58;
  b[p + 3] = 48 + ((m / 10) | 0);
  b[p + 4] = 48 + (m % 10);
  b[p + 5] = 58;
  b[p + 6] = 48 + ((s / 10) | 0);
  b[p + 7] = 48 + (s % 10);
  return p + 8;
}

/**
 * Writes one record (without '\n') at `p` of `b`, which has RECORD_MAX + the run id's length bytes
 * free there; returns the end. The first draw of `r` is always the subscriber, so a reader knowing
 * the seed of a file can predict its first record's account (bench/e2e.ts and the demo probe that
 * way).
 */
function writeCdr(b: Uint8Array, p: number, runId: Uint8Array, seq: number, nowMs: number, r: () => number, subs: number, longShare: number, malformedShare: number): number {
  const sub = (r() * subs) | 0;
  // 0: good; 1: cut short; 2: bad remote address; 3: bad start time.
  const defect = malformedShare && r() < malformedShare ? 1 + ((r() * 3) | 0) : 0;
  const begin = p;
  const start = nowMs - ((r() * 600_000) | 0);
  const dur = (r() * 1800) | 0;
  p = put(b, p, TYPE_B[(r() * TYPE_B.length) | 0]);
  p = putComma(b, p);
  p = put(b, p, runId);
  b[p++] = 45;
  if (Number.isSafeInteger(seq) && seq >= 0) p = putUint(b, p, seq, 1);
  else p = put(b, p, latin1(String(seq)));
  p = putComma(b, p);
  // account: accountOf(sub)
  b[p] = 56;
  b[p + 1] = 54;
  b[p + 2] = 49;
  b[p + 3] = 51;
  b[p + 4] = 48 + (sub % 10);
  p = putUint(b, p + 5, sub % 100_000_000, 8);
  p = putComma(b, p);
  // imsi, imei
  b[p] = 52;
  b[p + 1] = 54;
  b[p + 2] = 48;
  b[p + 3] = 48;
  b[p + 4] = 48;
  p = putUint(b, p + 5, sub, 10);
  p = putComma(b, p);
  b[p] = 51;
  b[p + 1] = 53;
  const imei = Math.floor(r() * 1e13);
  const imeiHi = Math.floor(imei / 1e7);
  p = putUint(b, p + 2, imeiHi, 6);
  p = putUint(b, p, imei - imeiHi * 1e7, 7);
  p = putComma(b, p);
  if (defect === 3) p = put(b, p, BAD_TIME_B);
  else p = putTime(b, p, start);
  p = putComma(b, p);
  p = putTime(b, p, start + dur * 1000);
  p = putComma(b, p);
  p = putUint(b, p, dur, 1);
  p = putComma(b, p);
  p = putIpv4(b, p, 10, (r() * 4294967296) >>> 0);
  p = putComma(b, p);
  p = putUint(b, p, 1024 + ((r() * 64000) | 0), 1);
  p = putComma(b, p);
  const remoteFirst = 100 + ((r() * 100) | 0);
  const remote = (r() * 4294967296) >>> 0;
  if (defect === 2) p = put(b, p, BAD_IPV4_B);
  else p = putIpv4(b, p, remoteFirst, remote);
  p = putComma(b, p);
  // remote port, protocol
  if (r() < 0.7) {
    b[p] = 52;
    b[p + 1] = 52;
    b[p + 2] = 51;
    p += 3;
  } else {
    b[p] = 56;
    b[p + 1] = 48;
    p += 2;
  }
  p = putComma(b, p);
  if (r() < 0.8) {
    b[p] = 84;
    b[p + 1] = 67;
  } else {
    b[p] = 85;
    b[p + 1] = 68;
  }
  b[p + 2] = 80;
  p = putComma(b, p + 3);
  p = putUint(b, p, (r() * 5e6) | 0, 1);
  p = putComma(b, p);
  p = putUint(b, p, (r() * 5e7) | 0, 1);
  p = putComma(b, p);
  p = putUint(b, p, 10000 + ((r() * 50000) | 0), 1);
  p = putComma(b, p);
  p = putUint(b, p, 1000 + ((r() * 9000) | 0), 1);
  p = putComma(b, p);
  p = put(b, p, CELL_B[(r() * CELL_B.length) | 0]);
  p = putComma(b, p);
  p = put(b, p, APN_B[(r() * APN_B.length) | 0]);
  p = putComma(b, p);
  p = putUint(b, p, (r() * 4e9) >>> 0, 1);
  p = putComma(b, p);
  // rat type, cause
  if (r() < 0.6) {
    b[p] = 76;
    b[p + 1] = 84;
    b[p + 2] = 69;
    p += 3;
  } else {
    b[p] = 78;
    b[p + 1] = 82;
    p += 2;
  }
  b[p] = 44;
  b[p + 1] = 48;
  p = putComma(b, p + 2);
  p = put(b, p, NAME_B[sub % NAME_B.length]);
  p = putComma(b, p);
  b[p] = 84;
  b[p + 1] = 49 + (sub % 7);
  p = putComma(b, p + 2);
  // roaming, mcc, mnc
  b[p] = r() < 0.05 ? 49 : 48;
  b[p + 1] = 44;
  b[p + 2] = 52;
  b[p + 3] = 54;
  b[p + 4] = 48;
  b[p + 5] = 44;
  b[p + 6] = 48;
  b[p + 7] = 48;
  p = putComma(b, p + 8);
  p = putIpv4(b, p, 172, (r() * 4294967296) >>> 0);
  p = putComma(b, p);
  p = putIpv4(b, p, 172, (r() * 4294967296) >>> 0);
  p = putComma(b, p);
  b[p] = 49 + ((r() * 9) | 0);
  p = putComma(b, p + 1);
  // ext_30 … ext_96: a number where the index is divisible by 4, else text, every fourth one empty.
  p = put(b, p, PAD_PAIRS[(r() * PAD_PAIRS.length) | 0]);
  for (let i = 32; i < 96; i += 4) {
    p = putUint(b, p, (r() * 1e6) | 0, 1);
    p = put(b, p, EMPTY_PAD_PAIRS[(r() * EMPTY_PAD_PAIRS.length) | 0]);
  }
  p = putUint(b, p, (r() * 1e6) | 0, 1);
  p = putComma(b, p);
  const long = r() < longShare;
  p = put(b, p, URL_B);
  p = putPrefix(b, p, PAD_B, long ? 1000 + ((r() * 600) | 0) : 20 + ((r() * 40) | 0));
  p = putComma(b, p);
  p = put(b, p, AGENT_B[(r() * AGENT_B.length) | 0]);
  p = putComma(b, p);
  p = putPrefix(b, p, PAD_B, long && r() < 0.5 ? 1100 + ((r() * 400) | 0) : (r() * 30) | 0);
  if (defect === 1) {
    // A cut record: only its first 40–79 fields.
    const keep = 40 + ((r() * 40) | 0);
    let commas = 0;
    for (let i = begin; i < p; i++) if (b[i] === 44 && ++commas === keep) return i;
  }
  return p;
}

/**
 * Builds record `seq` of run `runId` at time `nowMs`: one line of ISO-8859-1 text without '\n'.
 * The record id is `<runId>-<seq>`, unique across runs of the same landing directory.
 */
export function makeCdr(runId: string, seq: number, nowMs: number, r: () => number, opts: CdrGenOptions = {}): string {
  const id = Buffer.from(runId, 'latin1');
  const b = Buffer.allocUnsafe(RECORD_MAX + id.length);
  const end = writeCdr(b, 0, id, seq, nowMs, r, opts.subscribers ?? 10_000, opts.longFieldShare ?? 0.05, opts.malformedShare ?? 0);
  return b.toString('latin1', 0, end);
}

/**
 * Builds the records of one file: `n` records from `first`, each makeCdr(runId, seq, nowMs, r, opts)
 * followed by '\n', written into one buffer that is kept for the next file (it grows to the largest
 * file built).
 */
export class CdrFileBuilder {
  private buf = Buffer.allocUnsafe(0);

  /** The file's bytes; valid until the next build. */
  build(runId: string, first: number, n: number, nowMs: number, r: () => number, opts: CdrGenOptions = {}): Buffer {
    const id = Buffer.from(runId, 'latin1');
    const room = RECORD_MAX + id.length + 1;
    const subs = opts.subscribers ?? 10_000;
    const longShare = opts.longFieldShare ?? 0.05;
    const malformedShare = opts.malformedShare ?? 0;
    let b = this.buf;
    if (b.length < room) b = this.buf = Buffer.allocUnsafe(Math.max(room, Math.min(n, 2000) * 1100));
    let p = 0;
    for (let i = 0; i < n; i++) {
      if (b.length - p < room) {
        const bigger = Buffer.allocUnsafe(Math.max(b.length * 2, p + room));
        b.copy(bigger, 0, 0, p);
        b = this.buf = bigger;
      }
      p = writeCdr(b, p, id, first + i, nowMs, r, subs, longShare, malformedShare);
      b[p++] = 10;
    }
    return b.subarray(0, p);
  }
}

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
    const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    for (let j = 0; j < words; j++) {
      const x = w[j] ^ 0x2c2c2c2c;
      const t = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080;
      count += Math.imul(t >>> 7, 0x01010101) >>> 24;
    }
    i += words << 2;
  }
  for (; i < n; i++) if (buf[i] === 44) count++;
  return count;
}

/** The tuple values of an accepted record, or why it was rejected. */
export type CdrEtl = { ok: true; values: [row: string, qualifier: string, value: string, recordId: string, account: string, localIpv4: string, remoteIpv4: string, time: number] } | { ok: false; field: string; reason: string };

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

/** Room for the value, row and qualifier of a record with the longest record id taken the fast way. */
const ETL_SCRATCH = Buffer.allocUnsafe(2048);
/** Bytes [s, e) of `src` (a few dozen at most: a loop beats Buffer#copy's views). */
const putFrom = (b: Uint8Array, p: number, src: Uint8Array, s: number, e: number): number => {
  for (let i = s; i < e; i++) b[p++] = src[i];
  return p;
};
const putAscii = (b: Uint8Array, p: number, s: string): number => {
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  return p;
};
const J_ACCOUNT = '{"account":"';
const J_LOCAL = '","local_ipv4":"';
const J_REMOTE = '","remote_ipv4":"';
const J_TIME = '","time":"';
const J_ID = '","record_id":"';

/**
 * The ETL bolt's work on a record's bytes: parseCdrBytes, then the tuple values — row key
 * (cdrRowKey), qualifier (`<time, 13 digits>#<record id>`), and the stored value, the JSON of
 * {account, local_ipv4, remote_ipv4, time (ISO-8601), record_id} as JSON.stringify writes it.
 * Validation reads the bytes; the value, row and qualifier are written as bytes into one string and
 * the other strings are slices of it, so an accepted record costs one string from C++ instead of a
 * dozen plus a Date and a JSON.stringify. Record ids JSON would escape (quotes, backslashes,
 * control or non-ASCII characters) or over 512 bytes take the string way (cdrEtlOf).
 */
export function cdrEtlBytes(buf: Buffer): CdrEtl {
  const fields = scanCdr(buf);
  if (fields !== CDR_FIELD_COUNT) return { ok: false, field: 'record', reason: `${fields} fields, expected ${CDR_FIELD_COUNT}` };
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
  let plain = idE - idS <= 512;
  for (let i = idS; plain && i < idE; i++) {
    const c = buf[i];
    plain = c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;
  }
  if (Number.isNaN(time) || !plain) {
    const field = (s: number, e: number) => buf.toString('utf8', s, e);
    const p = checkFields(field(idS, idE), field(accS, accE), field(locS, locE), field(remS, remE), field(tS, tE));
    return p.ok ? { ok: true, values: cdrEtlOf(p.value) } : p;
  }
  const b = ETL_SCRATCH;
  let p = putAscii(b, 0, J_ACCOUNT);
  const account = p;
  p = putFrom(b, p, buf, accS, accE);
  p = putAscii(b, p, J_LOCAL);
  const local = p;
  p = putFrom(b, p, buf, locS, locE);
  p = putAscii(b, p, J_REMOTE);
  const remote = p;
  p = putFrom(b, p, buf, remS, remE);
  p = putAscii(b, p, J_TIME);
  // toISOString of a whole second in years 1000–9999: the CDR time with 'T' and '.000Z'.
  p = putFrom(b, p, buf, tS, tE);
  b[p - 9] = 84;
  b[p] = 46;
  b[p + 1] = 48;
  b[p + 2] = 48;
  b[p + 3] = 48;
  b[p + 4] = 90;
  p = putAscii(b, p + 5, J_ID);
  const id = p;
  p = putFrom(b, p, buf, idS, idE);
  b[p] = 34;
  b[p + 1] = 125;
  const valueEnd = p + 2;
  p = valueEnd;
  for (let i = accE - 1; i >= accS; i--) b[p++] = buf[i];
  if (time >= 0) {
    p = putUint(b, p, time, 13);
  } else {
    const q = String(time); // before 1970: padStart pads in front of the sign
    for (let i = q.length; i < 13; i++) b[p++] = 48;
    p = putAscii(b, p, q);
  }
  b[p++] = 35;
  p = putFrom(b, p, buf, idS, idE);
  const all = b.toString('latin1', 0, p);
  const accLen = accE - accS;
  return {
    ok: true,
    values: [
      all.slice(valueEnd, valueEnd + accLen),
      all.slice(valueEnd + accLen),
      all.slice(0, valueEnd),
      all.slice(id, id + idE - idS),
      all.slice(account, account + accLen),
      all.slice(local, local + locE - locS),
      all.slice(remote, remote + remE - remS),
      time,
    ],
  };
}

/** The ETL tuple values of a parsed record (cdrEtlBytes' result, built from strings). */
export function cdrEtlOf(v: CdrSummary): [string, string, string, string, string, string, string, number] {
  const value = JSON.stringify({ account: v.account, local_ipv4: v.localIpv4, remote_ipv4: v.remoteIpv4, time: new Date(v.time).toISOString(), record_id: v.recordId });
  return [cdrRowKey(v.account), cdrQualifier(v.time, v.recordId), value, v.recordId, v.account, v.localIpv4, v.remoteIpv4, v.time];
}

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
