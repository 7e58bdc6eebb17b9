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

function ipv4(r: () => number, first: number): string {
  return `${first}.${(r() * 256) | 0}.${(r() * 256) | 0}.${1 + ((r() * 254) | 0)}`;
}

/**
 * Builds record `seq` of run `runId` at time `nowMs`: one line of ISO-8859-1 text without '\n'.
 * The record id is `<runId>-<seq>`, unique across runs of the same landing directory.
 */
export function makeCdr(runId: string, seq: number, nowMs: number, r: () => number, opts: CdrGenOptions = {}): string {
  const subs = opts.subscribers ?? 10_000;
  const sub = (r() * subs) | 0;
  const start = nowMs - ((r() * 600_000) | 0);
  const dur = (r() * 1800) | 0;
  const f: string[] = new Array(CDR_FIELD_COUNT);
  f[0] = TYPES[(r() * TYPES.length) | 0]!;
  f[1] = `${runId}-${seq}`;
  f[2] = accountOf(sub);
  f[3] = `46000${String(sub).padStart(10, '0')}`;
  f[4] = `35${String((r() * 1e13) | 0).padStart(13, '0')}`;
  f[5] = formatCdrTime(start);
  f[6] = formatCdrTime(start + dur * 1000);
  f[7] = String(dur);
  f[8] = ipv4(r, 10);
  f[9] = String(1024 + ((r() * 64000) | 0));
  f[10] = ipv4(r, 100 + ((r() * 100) | 0));
  f[11] = r() < 0.7 ? '443' : '80';
  f[12] = r() < 0.8 ? 'TCP' : 'UDP';
  f[13] = String((r() * 5e6) | 0);
  f[14] = String((r() * 5e7) | 0);
  f[15] = String(10000 + ((r() * 50000) | 0));
  f[16] = String(1000 + ((r() * 9000) | 0));
  f[17] = CELLS[(r() * CELLS.length) | 0]!;
  f[18] = APNS[(r() * APNS.length) | 0]!;
  f[19] = String((r() * 4e9) >>> 0);
  f[20] = r() < 0.6 ? 'LTE' : 'NR';
  f[21] = '0';
  f[22] = NAMES[sub % NAMES.length]!;
  f[23] = `T${(sub % 7) + 1}`;
  f[24] = r() < 0.05 ? '1' : '0';
  f[25] = '460';
  f[26] = '00';
  f[27] = ipv4(r, 172);
  f[28] = ipv4(r, 172);
  f[29] = String(1 + ((r() * 9) | 0));
  for (let i = 30; i < 97; i++) f[i] = (i & 3) === 0 ? String((r() * 1e6) | 0) : (i & 3) === 1 ? '' : PAD.slice(0, 4 + ((r() * 12) | 0));
  const long = r() < (opts.longFieldShare ?? 0.05);
  f[97] = `https://cdn.example.net/v/${PAD.slice(0, long ? 1000 + ((r() * 600) | 0) : 20 + ((r() * 40) | 0))}`;
  f[98] = AGENTS[(r() * AGENTS.length) | 0]!;
  f[99] = long && r() < 0.5 ? PAD.slice(0, 1100 + ((r() * 400) | 0)) : PAD.slice(0, (r() * 30) | 0);
  if (opts.malformedShare && r() < opts.malformedShare) {
    // One of the defects mediation feeds really have: a cut record, a bad address, a bad time.
    const kind = (r() * 3) | 0;
    if (kind === 0) return f.slice(0, 40 + ((r() * 40) | 0)).join(',');
    if (kind === 1) f[10] = '300.1.2';
    else f[5] = 'not-a-time';
  }
  return f.join(',');
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
const TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const ACCOUNT = /^\d{6,20}$/;

/** Parses a `YYYY-MM-DD HH:MM:SS` UTC time; NaN when it is not one. */
export function parseCdrTime(s: string): number {
  const m = TIME.exec(s);
  if (!m) return NaN;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return formatCdrTime(ms) === s ? ms : NaN;
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

/**
 * parseCdr on the record's bytes (UTF-8 or any ASCII-compatible charset), with the same results: only
 * the kept fields (all within the first dozen) become strings; the other commas are only counted, so
 * a 1–4 KB record costs a few small strings instead of a hundred.
 */
export function parseCdrBytes(buf: Buffer): CdrParse {
  const starts: number[] = [0];
  let pos = 0;
  let fields = 1;
  for (;;) {
    const i = buf.indexOf(44, pos);
    if (i < 0) break;
    fields++;
    pos = i + 1;
    if (starts.length <= LAST_KEPT + 1) starts.push(pos);
  }
  if (fields !== CDR_FIELD_COUNT) return { ok: false, field: 'record', reason: `${fields} fields, expected ${CDR_FIELD_COUNT}` };
  const field = (k: number) => buf.toString('utf8', starts[k]!, starts[k + 1]! - 1);
  return checkFields(field(CDR_INDEX.recordId), field(CDR_INDEX.account), field(CDR_INDEX.localIpv4), field(CDR_INDEX.remoteIpv4), field(CDR_INDEX.startTime));
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

/** The store's row key for an account: its digits reversed, so consecutive numbers spread out (HBase practice). */
export function cdrRowKey(account: string): string {
  return account.split('').reverse().join('');
}
