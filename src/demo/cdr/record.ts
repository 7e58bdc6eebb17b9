import { seededRandom } from '../../core/random.js';

/**
 * The call-detail records of the examples/cdr pipeline: 100 comma-separated fields per line, as a
 * mobile operator's mediation system drops them for collection. Text is ISO-8859-1 (subscriber and
 * cell names carry Latin-1 letters); a few fields (URL, user agent, extension data) run past 1,000
 * bytes on some records. Fields never contain ',' or '\n'.
 *
 * This file lays records out and generates them; etl.ts parses and checks them.
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
const BAD_IPV4_B = latin1('300.1.2');
const BAD_TIME_B = latin1('not-a-time');
const LTE_B = latin1('LTE,');
const NR_B = latin1('NR,');
const CAUSE_B = latin1('0,');
const MCC_MNC_B = latin1(',460,00,');
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

/** Views of the first 0 … PAD.length bytes of PAD_B, so a padded field costs one copy and no view. */
const PAD_PREFIXES: Uint8Array[] = Array.from({ length: PAD_B.length + 1 }, (_, n) => PAD_B.subarray(0, n));
/** The URL field's fixed start followed by PAD, and views of its first bytes likewise. */
const URL_PAD_B = latin1('https://cdn.example.net/v/' + PAD);
const URL_START = 'https://cdn.example.net/v/'.length;
const URL_PREFIXES: Uint8Array[] = Array.from({ length: URL_PAD_B.length + 1 }, (_, n) => URL_PAD_B.subarray(0, n));

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
/** @internal (also etl.ts) */
export function putUint(b: Uint8Array, p: number, n: number, width: number): number {
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
 * Runs of fields drawn once, from a fixed seed, that records take whole: a record takes one of
 * RUN_COUNT runs of each kind instead of drawing those fields one by one. The fields a record is
 * looked up and checked by (ids, account, times, addresses, ports) are still drawn per record.
 * Drawing and writing the ext fields one by one was about two thirds of building a record: ~7.4 µs
 * of CPU per record before, ~2.7 with their runs, measured side by side; the two runs of network
 * fields took ~4.3 → ~2.6 (bench/e2e.ts's generator competes with the pipeline for the machine's
 * two cores, in the bench and in the demo).
 */
const RUN_COUNT = 2048;
function prebuiltRuns(seed: number, write: (b: Uint8Array, p: number, r: () => number, k: number) => number): Uint8Array[] {
  const r = seededRandom(seed);
  const tmp = new Uint8Array(RECORD_MAX);
  const runs: Uint8Array[] = [];
  for (let k = 0; k < RUN_COUNT; k++) runs.push(tmp.slice(0, write(tmp, 0, r, k)));
  return runs;
}

/**
 * Fields ext_30 … ext_96, each with its comma: a number where the index is divisible by 4, else
 * text of 4–15 letters, every fourth one empty.
 */
const EXT_RUNS = prebuiltRuns(0x0c0ffee, (b, p, r) => {
  p = put(b, p, PAD_PAIRS[(r() * PAD_PAIRS.length) | 0]);
  for (let i = 32; i < 96; i += 4) {
    p = putUint(b, p, (r() * 1e6) | 0, 1);
    p = put(b, p, EMPTY_PAD_PAIRS[(r() * EMPTY_PAD_PAIRS.length) | 0]);
  }
  return putComma(b, putUint(b, p, (r() * 1e6) | 0, 1));
});

/** Fields protocol … cause (12–21), each with its comma. */
const BEARER_RUNS = prebuiltRuns(0xbea7e7, (b, p, r) => {
  if (r() < 0.8) {
    b[p] = 84;
    b[p + 1] = 67;
  } else {
    b[p] = 85;
    b[p + 1] = 68;
  }
  b[p + 2] = 80;
  p = putComma(b, p + 3);
  p = putComma(b, putUint(b, p, (r() * 5e6) | 0, 1));
  p = putComma(b, putUint(b, p, (r() * 5e7) | 0, 1));
  p = putComma(b, putUint(b, p, 10000 + ((r() * 50000) | 0), 1));
  p = putComma(b, putUint(b, p, 1000 + ((r() * 9000) | 0), 1));
  p = putComma(b, put(b, p, CELL_B[(r() * CELL_B.length) | 0]));
  p = putComma(b, put(b, p, APN_B[(r() * APN_B.length) | 0]));
  p = putComma(b, putUint(b, p, (r() * 4e9) >>> 0, 1));
  // rat type, cause
  p = put(b, p, r() < 0.6 ? LTE_B : NR_B);
  return put(b, p, CAUSE_B);
});

/** Fields roaming … qos_class (24–29) and ext_30 … ext_96 (see EXT_RUNS), each with its comma. */
const CORE_EXT_RUNS = prebuiltRuns(0xc07e, (b, p, r, k) => {
  // roaming, mcc, mnc
  b[p] = r() < 0.05 ? 49 : 48;
  p = put(b, p + 1, MCC_MNC_B);
  p = putComma(b, putIpv4(b, p, 172, (r() * 4294967296) >>> 0));
  p = putComma(b, putIpv4(b, p, 172, (r() * 4294967296) >>> 0));
  b[p] = 49 + ((r() * 9) | 0);
  b[p + 1] = 44;
  return put(b, p + 2, EXT_RUNS[k]!);
});

/**
 * The account and the start time (ms since the epoch, in whole seconds as the record shows it) of
 * the first record a file built from `r` at `nowMs` holds: writeCdr's first two draws, the
 * subscriber and the start (no defect is drawn in between when no records are made malformed on
 * purpose). For probes that look that record up without reading the file (bench/e2e.ts).
 */
export function firstRecordOf(r: () => number, nowMs: number, subscribers = 10_000): { account: string; startMs: number } {
  const sub = (r() * subscribers) | 0;
  const start = nowMs - ((r() * 600_000) | 0);
  return { account: accountOf(sub), startMs: Math.floor(Math.trunc(start) / 1000) * 1000 };
}

/**
 * Writes one record (without '\n') at `p` of `b`, which has RECORD_MAX + the run id's length bytes
 * free there; returns the end. The first draw of `r` is always the subscriber and the second the
 * start time (without malformed records), so a reader knowing the seed of a file and when it was
 * built can predict its first record's account and start (firstRecordOf; bench/e2e.ts and the demo
 * probe that way).
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
  p = put(b, p, BEARER_RUNS[(r() * RUN_COUNT) | 0]);
  p = put(b, p, NAME_B[sub % NAME_B.length]);
  p = putComma(b, p);
  b[p] = 84;
  b[p + 1] = 49 + (sub % 7);
  p = putComma(b, p + 2);
  p = put(b, p, CORE_EXT_RUNS[(r() * RUN_COUNT) | 0]);
  const long = r() < longShare;
  p = put(b, p, URL_PREFIXES[URL_START + (long ? 1000 + ((r() * 600) | 0) : 20 + ((r() * 40) | 0))]);
  p = putComma(b, p);
  p = put(b, p, AGENT_B[(r() * AGENT_B.length) | 0]);
  p = putComma(b, p);
  p = put(b, p, PAD_PREFIXES[long && r() < 0.5 ? 1100 + ((r() * 400) | 0) : (r() * 30) | 0]);
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
