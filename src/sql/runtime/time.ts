import { MonsoonError, ErrorCodes } from '../../core/errors.js';

/**
 * Calendar arithmetic for StreamCQL's date functions. The session time zone is a fixed offset from UTC
 * (UTC unless `SET 'monsoon.sql.timezone' = '+08:00'`); fixed offsets keep every function a pure
 * computation on epoch milliseconds, with no daylight-saving tables.
 */

export const DAY_MS = 86_400_000;

/** 'UTC', 'Z', 'GMT', '+08:00', '-0530', 'UTC+8', 'GMT-03:30' → offset in milliseconds. */
export function parseTimeZone(text: string): number {
  const t = text.trim().toUpperCase();
  if (t === 'UTC' || t === 'Z' || t === 'GMT') return 0;
  const m = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(t);
  if (!m) throw new MonsoonError(ErrorCodes.SQL_BAD_PROPERTY, `time zone '${text}' is not a fixed offset (use UTC, +08:00, -0530 or UTC+8)`);
  const h = Number(m[2]);
  const min = Number(m[3] ?? 0);
  if (h > 18 || min > 59) throw new MonsoonError(ErrorCodes.SQL_BAD_PROPERTY, `time zone '${text}' is out of range (±18:00)`);
  return (m[1] === '-' ? -1 : 1) * (h * 3_600_000 + min * 60_000);
}

/** Calendar fields of an instant in the zone. */
export function fields(ms: number, tz: number): Date {
  return new Date(ms + tz);
}

const p2 = (n: number) => String(n).padStart(2, '0');
const p3 = (n: number) => String(n).padStart(3, '0');
const p4 = (n: number) => (n < 0 ? '-' + String(-n).padStart(4, '0') : String(n).padStart(4, '0'));

/**
 * A subset of Java's SimpleDateFormat letters: yyyy yy MM dd HH mm ss SSS; quoted text in '…'.
 * NULL for an instant outside JavaScript's date range (±8.64e15 ms).
 */
export function format(ms: number, tz: number, pattern: string): string | null {
  const d = fields(ms, tz);
  if (Number.isNaN(d.getTime())) return null;
  return pattern.replace(/'([^']*)'|yyyy|yy|MM|dd|HH|mm|ss|SSS/g, (tok, lit: string | undefined) => {
    if (lit !== undefined) return lit;
    switch (tok) {
      case 'yyyy': return p4(d.getUTCFullYear());
      case 'yy': return p2(d.getUTCFullYear() % 100);
      case 'MM': return p2(d.getUTCMonth() + 1);
      case 'dd': return p2(d.getUTCDate());
      case 'HH': return p2(d.getUTCHours());
      case 'mm': return p2(d.getUTCMinutes());
      case 'ss': return p2(d.getUTCSeconds());
      default: return p3(d.getUTCMilliseconds());
    }
  });
}

export const formatTimestamp = (ms: number, tz: number) => format(ms, tz, 'yyyy-MM-dd HH:mm:ss.SSS');
export const formatDate = (ms: number, tz: number) => format(ms, tz, 'yyyy-MM-dd');
export const formatTime = (ms: number) => format(ms, 0, 'HH:mm:ss');

const DATE_RE = /^(-?\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;
const TIME_RE = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?$/;

/** 'yyyy-MM-dd[ HH:mm[:ss[.SSS]]][zone]' in the session zone (or the text's own zone) → epoch ms; null when it does not parse. */
export function parseTimestamp(text: string, tz: number): number | null {
  const m = DATE_RE.exec(text.trim());
  if (!m) return null;
  const num = (x: string | undefined) => (x === undefined ? 0 : Number(x));
  const y = num(m[1]), mo = num(m[2]), d = num(m[3]), h = num(m[4]), mi = num(m[5]), s = num(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0'));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const local = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (new Date(local).getUTCDate() !== d) return null;
  const zone = m[8] === undefined ? tz : m[8] === 'Z' ? 0 : parseTimeZone(m[8]);
  return local - zone;
}

/** 'HH:mm[:ss[.SSS]]' → milliseconds since midnight; null when it does not parse. */
export function parseTime(text: string): number | null {
  const m = TIME_RE.exec(text.trim());
  if (!m) return null;
  const h = Number(m[1]), mi = Number(m[2]), s = Number(m[3] ?? 0), ms = Number((m[4] ?? '0').padEnd(3, '0'));
  if (h > 23 || mi > 59 || s > 59) return null;
  return ((h * 60 + mi) * 60 + s) * 1000 + ms;
}

/** The midnight (in the zone) that starts the day holding `ms`. */
export function startOfDay(ms: number, tz: number): number {
  return Math.floor((ms + tz) / DAY_MS) * DAY_MS - tz;
}

/** ISO-8601 week number (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(ms: number, tz: number): number {
  const d = fields(ms, tz);
  const day = (d.getUTCDay() + 6) % 7;
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) + (3 - day) * DAY_MS;
  const yearStart = Date.UTC(new Date(thursday).getUTCFullYear(), 0, 1);
  return 1 + Math.floor((thursday - yearStart) / (7 * DAY_MS));
}
