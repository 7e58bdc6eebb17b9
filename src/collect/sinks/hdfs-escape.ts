import { hostname } from 'node:os';
import { resolve, sep } from 'node:path';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { localAddress } from '../interceptors/host.js';

/**
 * Flume's escape sequences in hdfs.path and hdfs.filePrefix: %{header}, %[localhost], %[IPAddress],
 * %[FQDN] and the strftime-like time escapes. Header values are sanitized so they cannot add path
 * separators, and every resolved path is checked to stay inside the root — the literal directory part
 * of hdfs.path before its first escape.
 */
const TIME_ESCAPES = 'aAbBcdDeHIjklmMnpsStyYz';
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

type Segment = { lit: string } | { header: string } | { time: string };

export interface TimeParts {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number; // 0 = Sunday
  offsetMinutes: number;
}

/** Calendar fields of `ts` in a time zone (the local zone when undefined). */
export class Calendar {
  private readonly fmt: Intl.DateTimeFormat;
  private lastSecond = NaN;
  private last: TimeParts | undefined;
  constructor(timeZone?: string) {
    this.fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }
  parts(ts: number): TimeParts {
    const s = Math.floor(ts / 1000);
    if (s === this.lastSecond && this.last) return this.last;
    const p: Record<string, number> = {};
    for (const x of this.fmt.formatToParts(new Date(s * 1000))) if (x.type !== 'literal') p[x.type] = Number(x.value);
    const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    const parts: TimeParts = {
      year: p.year!,
      month: p.month!,
      day: p.day!,
      hour: p.hour!,
      minute: p.minute!,
      second: p.second!,
      weekday: new Date(asUtc).getUTCDay(),
      offsetMinutes: Math.round((asUtc - s * 1000) / 60_000),
    };
    this.lastSecond = s;
    this.last = parts;
    return parts;
  }
  /** Flume's hdfs.round: floors the second, minute or hour field to a multiple of `value`. */
  roundDown(ts: number, value: number, unit: 'second' | 'minute' | 'hour'): number {
    const p = this.parts(ts);
    const ms = ts - Math.floor(ts / 1000) * 1000;
    if (unit === 'second') return ts - ms - (p.second % value) * 1000;
    if (unit === 'minute') return ts - ms - p.second * 1000 - (p.minute % value) * 60_000;
    return ts - ms - p.second * 1000 - p.minute * 60_000 - (p.hour % value) * 3_600_000;
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function dayOfYear(p: TimeParts): number {
  return Math.round((Date.UTC(p.year, p.month - 1, p.day) - Date.UTC(p.year, 0, 1)) / 86_400_000) + 1;
}

export function formatTime(c: string, ts: number, p: TimeParts): string {
  switch (c) {
    case 'a': return DAYS[p.weekday]!.slice(0, 3);
    case 'A': return DAYS[p.weekday]!;
    case 'b': return MONTHS[p.month - 1]!.slice(0, 3);
    case 'B': return MONTHS[p.month - 1]!;
    case 'c': return `${DAYS[p.weekday]!.slice(0, 3)} ${MONTHS[p.month - 1]!.slice(0, 3)} ${p.day} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)} ${p.year}`;
    case 'd': return pad(p.day);
    case 'e': return String(p.day);
    case 'D': return `${pad(p.month)}/${pad(p.day)}/${pad(p.year % 100)}`;
    case 'H': return pad(p.hour);
    case 'I': return pad(p.hour % 12 || 12);
    case 'j': return pad(dayOfYear(p), 3);
    case 'k': return String(p.hour);
    case 'l': return String(p.hour % 12 || 12);
    case 'm': return pad(p.month);
    case 'M': return pad(p.minute);
    case 'n': return String(p.month);
    case 'p': return p.hour < 12 ? 'AM' : 'PM';
    case 's': return String(Math.floor(ts / 1000));
    case 'S': return pad(p.second);
    case 't': return String(ts);
    case 'y': return pad(p.year % 100);
    case 'Y': return String(p.year);
    case 'z': {
      const o = Math.abs(p.offsetMinutes);
      return `${p.offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(o / 60))}${pad(o % 60)}`;
    }
    default: throw new Error(`unknown time escape %${c}`);
  }
}

/** Replaces characters that could change the path's structure: separators, NUL and all-dot names. */
export function sanitize(v: string): string {
  const s = v.replace(/[/\\\0]/g, '_');
  return /^\.+$/.test(s) ? s.replace(/\./g, '_') : s;
}

const HOST_VARS: Readonly<Record<string, () => string>> = {
  localhost: () => hostname(),
  IPAddress: () => localAddress(),
  FQDN: () => hostname(),
};

/** A compiled hdfs.path or hdfs.filePrefix. Throws at compile time on an unknown escape. */
export class EscapedString {
  readonly segments: Segment[] = [];
  readonly needsTime: boolean;
  /** The literal text before the first escape. */
  readonly literalPrefix: string;

  constructor(readonly template: string) {
    let lit = '';
    let first: number | undefined;
    const flush = () => {
      if (lit) this.segments.push({ lit });
      lit = '';
    };
    for (let i = 0; i < template.length; i++) {
      const ch = template[i]!;
      if (ch !== '%' || i + 1 >= template.length) {
        lit += ch;
        continue;
      }
      first ??= i;
      const next = template[i + 1]!;
      if (next === '{' || next === '[') {
        const end = template.indexOf(next === '{' ? '}' : ']', i);
        if (end < 0) throw new Error(`unterminated escape at position ${i} of "${template}"`);
        const name = template.slice(i + 2, end);
        if (next === '[') {
          const f = HOST_VARS[name];
          if (!f) throw new Error(`unknown escape %[${name}]; use %[localhost], %[IPAddress] or %[FQDN]`);
          lit += sanitize(f());
        } else {
          flush();
          this.segments.push({ header: name });
        }
        i = end;
      } else if (TIME_ESCAPES.includes(next)) {
        flush();
        this.segments.push({ time: next });
        i++;
      } else {
        throw new Error(`unknown escape %${next} in "${template}"`);
      }
    }
    flush();
    this.needsTime = this.segments.some((s) => 'time' in s);
    this.literalPrefix = template.slice(0, first ?? template.length);
  }

  render(e: Event, ts: number, cal: Calendar): string {
    let out = '';
    let parts: TimeParts | undefined;
    for (const s of this.segments) {
      if ('lit' in s) out += s.lit;
      else if ('header' in s) out += sanitize(e.headers[s.header] ?? '');
      else out += formatTime(s.time, ts, (parts ??= cal.parts(ts)));
    }
    return out;
  }
}

/** The directory no escape can leave: hdfs.path up to the last separator before its first escape. */
export function pathRoot(path: EscapedString): string {
  const lit = path.literalPrefix;
  if (lit === path.template) return resolve(lit);
  const cut = lit.lastIndexOf('/');
  return resolve(cut < 0 ? '.' : cut === 0 ? '/' : lit.slice(0, cut));
}

/** Resolves `p` and checks it lies strictly inside `root` (PATH_ESCAPE otherwise). */
export function insideRoot(root: string, p: string): string {
  const full = resolve(p);
  const base = root.endsWith(sep) ? root : root + sep;
  if (!full.startsWith(base)) {
    throw new MonsoonError(ErrorCodes.PATH_ESCAPE, `resolved path ${full} is outside the sink's root directory ${root}; check the escapes in hdfs.path and hdfs.filePrefix`);
  }
  return full;
}
