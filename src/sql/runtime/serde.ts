import { MonsoonError, ErrorCodes } from '../../core/errors.js';
import type { Column } from '../rexpr.js';
import { castFn } from './cast.js';
import type { Row } from './batch.js';

/**
 * Row formats of StreamCQL's SERDE clause, one record per row:
 * - SimpleSerDe: values joined by `separator` (default ","), no quoting.
 * - CsvSerDe: RFC 4180 — a value with a comma, quote or line break is quoted, quotes doubled.
 * - KeyValueSerDe: `col=value` pairs joined by `separator` (default ","), `kvseparator` (default "=").
 * - JSON: one object by column name.
 * Reading converts each text to the column's type as CAST does; a value that does not convert is NULL,
 * an empty or missing field is NULL. Writing prints NULL as an empty field (JSON: null).
 */
export interface SerDe {
  read(text: string): Row;
  write(row: Row): string;
}

export function createSerDe(name: string, props: Record<string, string>, columns: Column[], tz: number): SerDe {
  const fromText = columns.map((c) => castFn('STRING', c.type, tz));
  const toText = columns.map((c) => castFn(c.type, 'STRING', tz));
  const conv = (i: number, s: string | undefined): unknown => (s === undefined || s === '' ? null : fromText[i]!(s));
  const str = (i: number, v: unknown): string => (v === null || v === undefined ? '' : String(toText[i]!(v) ?? ''));
  const p = lower(props);
  switch (name.toLowerCase()) {
    case 'simpleserde': {
      const sep = p.separator ?? ',';
      return {
        read: (t) => {
          const parts = t.split(sep);
          const row = new Array<unknown>(columns.length);
          for (let i = 0; i < columns.length; i++) row[i] = conv(i, parts[i]);
          return row;
        },
        write: (r) => r.map((v, i) => str(i, v)).join(sep),
      };
    }
    case 'csvserde':
      return {
        read: (t) => {
          const parts = splitCsv(t);
          return columns.map((_, i) => conv(i, parts[i]));
        },
        write: (r) => r.map((v, i) => quoteCsv(str(i, v))).join(','),
      };
    case 'keyvalueserde': {
      const sep = p.separator ?? ',';
      const kv = p.kvseparator ?? '=';
      const index = new Map(columns.map((c, i) => [c.name.toLowerCase(), i]));
      return {
        read: (t) => {
          const row = new Array<unknown>(columns.length).fill(null);
          for (const pair of t.split(sep)) {
            const at = pair.indexOf(kv);
            if (at < 0) continue;
            const i = index.get(pair.slice(0, at).trim().toLowerCase());
            if (i !== undefined) row[i] = conv(i, pair.slice(at + kv.length));
          }
          return row;
        },
        write: (r) => r.map((v, i) => `${columns[i]!.name}${kv}${str(i, v)}`).join(sep),
      };
    }
    case 'json':
    case 'jsonserde':
      return {
        read: (t) => {
          let o: unknown;
          try { o = JSON.parse(t); } catch { o = null; }
          const obj = (o && typeof o === 'object' ? o : {}) as Record<string, unknown>;
          return columns.map((c, i) => {
            const v = obj[c.name] ?? null;
            return v === null ? null : typeof v === 'string' ? conv(i, v) : fromJson(c.type, v);
          });
        },
        write: (r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c.name, r[i] ?? null]))),
      };
    default:
      throw new MonsoonError(ErrorCodes.SQL_UNSUPPORTED, `SERDE ${name} has no runtime implementation`);
  }
}

function fromJson(type: string, v: unknown): unknown {
  if (type === 'BOOLEAN') return typeof v === 'boolean' ? v : null;
  if (type === 'STRING') return typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (typeof v !== 'number') return null;
  return type === 'INT' ? v | 0 : v;
}

function lower(p: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k.toLowerCase().replace(/^operator\.[a-z0-9_]+\./, ''), v]));
}

/** One CSV record (RFC 4180) into fields. */
export function splitCsv(t: string): string[] {
  if (!t.includes('"')) return t.split(',');
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (q) {
      if (c === '"') {
        if (t[i + 1] === '"') { cur += '"'; i++; } else q = false;
      } else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

function quoteCsv(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
