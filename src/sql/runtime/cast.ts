import type { SqlType } from '../ast.js';
import type { T } from '../types.js';
import { DAY_MS, formatDate, formatTime, formatTimestamp, parseTime, parseTimestamp, startOfDay } from './time.js';

/**
 * CAST rules (also behind tostring/toint/… ): a value that cannot be converted becomes NULL rather than
 * failing the event, as in StreamCQL. Numbers → INT/LONG truncate toward zero (INT wraps to 32 bits like
 * Java's narrowing); strings are trimmed and must be a whole number for INT/LONG; BOOLEAN ↔ numbers as
 * 1/0; 'true'/'false' (any case) → BOOLEAN; temporal values print as yyyy-MM-dd[ HH:mm:ss.SSS] / HH:mm:ss.
 */

export type Cast = (v: unknown) => unknown;

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function toNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const s = v.trim();
    return NUM_RE.test(s) ? Number(s) : null;
  }
  return null;
}

export function castFn(from: T, to: SqlType, tz: number): Cast {
  if (from === to) return (v) => v;
  switch (to) {
    case 'STRING':
      if (from === 'TIMESTAMP') return (v) => (v === null ? null : formatTimestamp(v as number, tz));
      if (from === 'DATE') return (v) => (v === null ? null : formatDate(v as number, tz));
      if (from === 'TIME') return (v) => (v === null ? null : formatTime(v as number));
      return (v) => (v === null ? null : String(v));
    case 'INT':
    case 'LONG': {
      const narrow = to === 'INT' ? (n: number) => n | 0 : (n: number) => n;
      return (v) => {
        if (v === null) return null;
        if (typeof v === 'string') {
          const s = v.trim();
          return INT_RE.test(s) ? narrow(Number(s)) : null;
        }
        const n = toNumber(v);
        return n === null ? null : narrow(Math.trunc(n));
      };
    }
    case 'FLOAT':
      return (v) => { const n = v === null ? null : toNumber(v); return n === null ? null : Math.fround(n); };
    case 'DOUBLE':
    case 'DECIMAL':
      return (v) => (v === null ? null : toNumber(v));
    case 'BOOLEAN':
      return (v) => {
        if (v === null) return null;
        if (typeof v === 'number') return v !== 0;
        if (typeof v === 'string') { const s = v.trim().toLowerCase(); return s === 'true' ? true : s === 'false' ? false : null; }
        return null;
      };
    case 'TIMESTAMP':
      return (v) => (v === null ? null : typeof v === 'string' ? parseTimestamp(v, tz) : typeof v === 'number' && from !== 'TIME' ? v : null);
    case 'DATE':
      return (v) => {
        if (v === null) return null;
        const ms = typeof v === 'string' ? parseTimestamp(v, tz) : typeof v === 'number' && from !== 'TIME' ? v : null;
        return ms === null ? null : startOfDay(ms, tz);
      };
    case 'TIME':
      return (v) => {
        if (v === null) return null;
        if (typeof v === 'string') return parseTime(v) ?? ((ms) => (ms === null ? null : ms - startOfDay(ms, tz)))(parseTimestamp(v, tz));
        if (typeof v === 'number' && from !== 'DATE') return from === 'TIMESTAMP' ? v - startOfDay(v, tz) : ((v % DAY_MS) + DAY_MS) % DAY_MS;
        return null;
      };
  }
}

/** Which conversions CAST accepts at analysis time (everything to STRING; no BOOLEAN ↔ temporal). */
export function castAllowed(from: T, to: SqlType): boolean {
  if (from === 'NULL' || from === to || to === 'STRING' || from === 'STRING') return true;
  const temporal = (t: T) => t === 'TIMESTAMP' || t === 'DATE' || t === 'TIME';
  if (from === 'BOOLEAN') return !temporal(to);
  if (to === 'BOOLEAN') return !temporal(from);
  return true;
}
