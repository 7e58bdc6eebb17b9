import type { Event } from '../../../core/event.js';

/**
 * Syslog message parsing into Flume's headers. RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID
 * SD MSG`) and RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST MSG`, or an ISO timestamp in its place) give:
 *   Facility, Severity      from PRI
 *   timestamp               epoch milliseconds (3164 has no year or zone: local time, this year,
 *                           or last year when that would put it more than a month ahead)
 *   host                    HOSTNAME
 *   syslog.appName, syslog.procId, syslog.msgId   the RFC 5424 fields, when not nil ("-")
 * The body is what follows HOSTNAME, as in Flume (for 5424 it still starts with APP-NAME), unless
 * keepFields keeps some header fields in it. A message without a valid PRI is delivered whole with
 * flume.syslog.status = Invalid; the first piece of a message longer than eventSize gets
 * flume.syslog.status = Incomplete and the rest follows as further events.
 */
export const STATUS_HEADER = 'flume.syslog.status';
export const APP_NAME_HEADER = 'syslog.appName';
export const PROC_ID_HEADER = 'syslog.procId';
export const MSG_ID_HEADER = 'syslog.msgId';

export type KeepField = 'priority' | 'version' | 'timestamp' | 'hostname';
export const KEEP_FIELDS: readonly KeepField[] = ['priority', 'version', 'timestamp', 'hostname'];

/** Parses Flume's keepFields: none/false, all/true, or a space-separated list of field names. */
export function parseKeepFields(s: string): { keep: Set<KeepField> } | { error: string } {
  const v = s.trim().toLowerCase();
  if (v === '' || v === 'none' || v === 'false') return { keep: new Set() };
  if (v === 'all' || v === 'true') return { keep: new Set(KEEP_FIELDS) };
  const keep = new Set<KeepField>();
  for (const f of v.split(/[\s,]+/)) {
    if (!KEEP_FIELDS.includes(f as KeepField)) return { error: `unknown field "${f}"; use none, all, or some of ${KEEP_FIELDS.join(' ')}` };
    keep.add(f as KeepField);
  }
  return { keep };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const RFC3164_TS = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) /;
const ISO_TS = /^(\d{4}-\d{2}-\d{2}T\S+) /;
const MONTH_MS = 31 * 24 * 3600 * 1000;

function rfc3164Time(m: RegExpExecArray, now: Date): number | undefined {
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return undefined;
  const at = (y: number) => new Date(y, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
  const t = at(now.getFullYear());
  return t > now.getTime() + MONTH_MS ? at(now.getFullYear() - 1) : t;
}

interface Field {
  name: KeepField;
  text: string;
}

export function parseSyslog(raw: Buffer, keep: ReadonlySet<KeepField>, now = new Date()): Event {
  const head = raw.toString('latin1', 0, Math.min(raw.length, 1024));
  const pri = /^<(\d{1,3})>/.exec(head);
  if (!pri || Number(pri[1]) > 191) return { headers: { [STATUS_HEADER]: 'Invalid' }, body: Buffer.from(raw) };
  const headers: Record<string, string> = { Facility: String(Number(pri[1]) >> 3), Severity: String(Number(pri[1]) & 7) };
  const fields: Field[] = [{ name: 'priority', text: pri[0] }];
  let p = pri[0].length;
  const token = (): string | undefined => {
    const sp = head.indexOf(' ', p);
    if (sp < 0) return undefined;
    const t = head.slice(p, sp);
    p = sp + 1;
    return t;
  };
  const version = /^(\d{1,2}) /.exec(head.slice(p));
  if (version) {
    fields.push({ name: 'version', text: version[0] });
    p += version[0].length;
    const ts = token();
    if (ts !== undefined) {
      fields.push({ name: 'timestamp', text: `${ts} ` });
      const t = ts === '-' ? NaN : Date.parse(ts);
      if (!Number.isNaN(t)) headers.timestamp = String(t);
    }
    const host = token();
    if (host !== undefined) {
      fields.push({ name: 'hostname', text: `${host} ` });
      if (host !== '-') headers.host = host;
    }
    const rest = head.slice(p).split(' ', 3);
    const ids: Array<[string, string | undefined]> = [[APP_NAME_HEADER, rest[0]], [PROC_ID_HEADER, rest[1]], [MSG_ID_HEADER, rest[2]]];
    for (const [k, v] of ids) if (v !== undefined && v !== '' && v !== '-') headers[k] = v;
  } else {
    const tail = head.slice(p);
    const legacy = RFC3164_TS.exec(tail);
    const iso = legacy ? undefined : ISO_TS.exec(tail);
    const ts = legacy ?? iso;
    if (ts) {
      fields.push({ name: 'timestamp', text: ts[0] });
      p += ts[0].length;
      const t = legacy ? rfc3164Time(legacy, now) : Date.parse(iso![1]!);
      if (t !== undefined && !Number.isNaN(t)) headers.timestamp = String(t);
      const host = token();
      if (host !== undefined) {
        fields.push({ name: 'hostname', text: `${host} ` });
        headers.host = host;
      }
    }
  }
  if (keep.size === KEEP_FIELDS.length) return { headers, body: Buffer.from(raw) };
  const kept = fields.filter((f) => keep.has(f.name)).map((f) => f.text).join('');
  const rest = raw.subarray(p);
  return { headers, body: kept ? Buffer.concat([Buffer.from(kept, 'latin1'), rest]) : Buffer.from(rest) };
}
