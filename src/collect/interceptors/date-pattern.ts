/**
 * Parses dates written in a Joda-Time / SimpleDateFormat pattern (yyyy-MM-dd HH:mm:ss.SSS, with MMM,
 * EEE, a, Z and 'quoted literals') into epoch millis. Local time unless the pattern has a zone (Z).
 */
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

type Field = 'year' | 'year2' | 'month' | 'monthName' | 'day' | 'hour' | 'hour12' | 'minute' | 'second' | 'millis' | 'ampm' | 'zone' | 'skip';

const TOKENS: Array<[RegExp, (n: number) => [string, Field]]> = [
  [/^y+/, (n) => (n === 2 ? ['(\\d{2})', 'year2'] : ['(\\d{1,4})', 'year'])],
  [/^M+/, (n) => (n >= 3 ? ['([A-Za-z]+)', 'monthName'] : ['(\\d{1,2})', 'month'])],
  [/^d+/, () => ['(\\d{1,2})', 'day']],
  [/^H+/, () => ['(\\d{1,2})', 'hour']],
  [/^h+/, () => ['(\\d{1,2})', 'hour12']],
  [/^m+/, () => ['(\\d{1,2})', 'minute']],
  [/^s+/, () => ['(\\d{1,2})', 'second']],
  [/^S+/, () => ['(\\d{1,3})', 'millis']],
  [/^a+/, () => ['([AaPp][Mm])', 'ampm']],
  [/^E+/, () => ['([A-Za-z]+)', 'skip']],
  [/^Z+/, () => ['(Z|[+-]\\d{2}:?\\d{2})', 'zone']],
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class DatePattern {
  private readonly re: RegExp;
  private readonly fields: Field[] = [];

  constructor(readonly pattern: string) {
    let src = '';
    let i = 0;
    while (i < pattern.length) {
      const rest = pattern.slice(i);
      if (rest[0] === "'") {
        const end = pattern.indexOf("'", i + 1);
        if (end < 0) throw new Error(`unterminated quote in date pattern "${pattern}"`);
        src += end === i + 1 ? "'" : escape(pattern.slice(i + 1, end));
        i = end + 1;
        continue;
      }
      const tok = TOKENS.find(([re]) => re.test(rest));
      if (tok) {
        const len = rest.match(tok[0])![0].length;
        const [g, f] = tok[1](len);
        src += g;
        this.fields.push(f);
        i += len;
      } else if (/[A-Za-z]/.test(rest[0]!)) {
        throw new Error(`unsupported letter "${rest[0]}" in date pattern "${pattern}"`);
      } else {
        src += escape(rest[0]!);
        i++;
      }
    }
    this.re = new RegExp(`^${src}$`);
  }

  /** Epoch millis, or undefined when `s` does not match the pattern. */
  parse(s: string): number | undefined {
    const m = this.re.exec(s.trim());
    if (!m) return undefined;
    const v = { year: 1970, month: 0, day: 1, hour: 0, minute: 0, second: 0, millis: 0, pm: false };
    let zone: number | undefined;
    for (let k = 0; k < this.fields.length; k++) {
      const raw = m[k + 1]!;
      const n = Number(raw);
      switch (this.fields[k]) {
        case 'year': v.year = n; break;
        case 'year2': v.year = 2000 + n; break;
        case 'month': v.month = n - 1; break;
        case 'monthName': {
          const i = MONTHS.indexOf(raw.slice(0, 3).toLowerCase());
          if (i < 0) return undefined;
          v.month = i;
          break;
        }
        case 'day': v.day = n; break;
        case 'hour': v.hour = n; break;
        case 'hour12': v.hour = n % 12; break;
        case 'minute': v.minute = n; break;
        case 'second': v.second = n; break;
        case 'millis': v.millis = Number(raw.padEnd(3, '0')); break;
        case 'ampm': v.pm = raw.toLowerCase() === 'pm'; break;
        case 'zone': {
          if (raw === 'Z') zone = 0;
          else {
            const d = raw.replace(':', '');
            zone = (d[0] === '-' ? -1 : 1) * (Number(d.slice(1, 3)) * 60 + Number(d.slice(3, 5)));
          }
          break;
        }
        default: break;
      }
    }
    if (v.pm) v.hour += 12;
    if (zone !== undefined) return Date.UTC(v.year, v.month, v.day, v.hour, v.minute, v.second, v.millis) - zone * 60_000;
    return new Date(v.year, v.month, v.day, v.hour, v.minute, v.second, v.millis).getTime();
  }
}
