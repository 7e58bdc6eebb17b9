import type { SqlType } from './ast.js';
import { castAllowed, castFn } from './runtime/cast.js';
import { DAY_MS, fields, format, isoWeek, parseTimestamp, startOfDay } from './runtime/time.js';
import { isIntegral, isNumeric, type T } from './types.js';

/**
 * The built-in function table: each entry's signature check (argument types → result type, or the
 * reason it does not apply) and, for scalar functions, its implementation. Implementations receive
 * non-null arguments only when `strict` (the compiled code returns NULL for a NULL argument first).
 */

export interface FnContext {
  /** Session time-zone offset in milliseconds. */
  tz: number;
}

export type Impl = (...args: never[]) => unknown;

export interface ScalarFn {
  kind: 'scalar';
  sig: (args: T[]) => SqlType | string;
  make: (ctx: FnContext, args: T[]) => Impl;
  strict: boolean;
}

export interface AggregateFn {
  kind: 'aggregate';
  /** `STAR` stands for `count(*)`. */
  sig: (args: (T | 'STAR')[]) => SqlType | string;
}

export type FnDef = ScalarFn | AggregateFn;

const dateLike = (t: T) => t === 'DATE' || t === 'TIMESTAMP' || t === 'STRING' || t === 'NULL';
const stringy = (t: T) => t === 'STRING' || t === 'NULL';
const integral = (t: T) => isIntegral(t) || t === 'NULL';
const numeric = (t: T) => isNumeric(t) || t === 'NULL';

function arity(args: unknown[], min: number, max: number): string | undefined {
  if (args.length < min || args.length > max) return `takes ${min === max ? min : max === Infinity ? `at least ${min}` : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${args.length}`;
  return undefined;
}

/** Epoch ms of a DATE/TIMESTAMP/STRING argument (strings parse in the session zone). */
function instant(t: T, tz: number): (v: unknown) => number | null {
  return t === 'STRING' ? (v) => parseTimestamp(v as string, tz) : (v) => v as number;
}

function conversion(to: SqlType): ScalarFn {
  return {
    kind: 'scalar', strict: true,
    sig: (a) => arity(a, 1, 1) ?? (castAllowed(a[0]!, to) ? to : `cannot convert ${a[0]} to ${to}`),
    make: (ctx, a) => castFn(a[0]!, to, ctx.tz) as Impl,
  };
}

function stringFn(f: (s: string) => unknown, ret: SqlType = 'STRING'): ScalarFn {
  return { kind: 'scalar', strict: true, sig: (a) => arity(a, 1, 1) ?? (stringy(a[0]!) ? ret : `expects STRING, got ${a[0]}`), make: () => f as Impl };
}

/** year(), hour(), …: a calendar field of a DATE/TIMESTAMP/STRING (and TIME for the clock fields). */
function field(get: (d: Date, ms: number, tz: number) => number, timeOk: boolean): ScalarFn {
  return {
    kind: 'scalar', strict: true,
    sig: (a) => arity(a, 1, 1) ?? (dateLike(a[0]!) || (timeOk && a[0] === 'TIME') ? 'INT' : `expects DATE, TIMESTAMP${timeOk ? ', TIME' : ''} or STRING, got ${a[0]}`),
    make: (ctx, a) => {
      if (a[0] === 'TIME') return ((v: number) => get(new Date(v), v, 0)) as Impl;
      const at = instant(a[0]!, ctx.tz);
      return ((v: unknown) => { const ms = at(v); return ms === null ? null : get(fields(ms, ctx.tz), ms, ctx.tz); }) as Impl;
    },
  };
}

function dateShift(sign: 1 | -1): ScalarFn {
  return {
    kind: 'scalar', strict: true,
    sig: (a) => arity(a, 2, 2) ?? (dateLike(a[0]!) && integral(a[1]!) ? 'STRING' : `expects (DATE|TIMESTAMP|STRING, INT), got (${a.join(', ')})`),
    make: (ctx, a) => {
      const at = instant(a[0]!, ctx.tz);
      return ((v: unknown, days: number) => { const ms = at(v); return ms === null ? null : format(ms + sign * days * DAY_MS, ctx.tz, 'yyyy-MM-dd'); }) as Impl;
    },
  };
}

function aggregate(ret: (t: T) => SqlType | string, star = false): AggregateFn {
  return {
    kind: 'aggregate',
    sig: (a) => {
      const bad = arity(a, 1, 2);
      if (bad) return bad;
      if (a.length === 2 && a[1] !== 'BOOLEAN' && a[1] !== 'NULL') return `takes a BOOLEAN filter as its second argument, got ${a[1]}`;
      const t = a[0]!;
      if (t === 'STAR') return star ? ret('NULL') : 'takes * only in count(*)';
      return ret(t);
    },
  };
}

export const FUNCTIONS: Record<string, FnDef> = {
  tostring: conversion('STRING'), toint: conversion('INT'), tolong: conversion('LONG'), tofloat: conversion('FLOAT'),
  todouble: conversion('DOUBLE'), toboolean: conversion('BOOLEAN'), todate: conversion('DATE'), totime: conversion('TIME'),
  totimestamp: conversion('TIMESTAMP'), todecimal: conversion('DECIMAL'),

  substr: {
    kind: 'scalar', strict: true,
    sig: (a) => arity(a, 2, 3) ?? (stringy(a[0]!) && a.slice(1).every(integral) ? 'STRING' : `expects (STRING, INT[, INT]), got (${a.join(', ')})`),
    // 1-based; 0 counts as 1; a negative start counts from the end; a negative length gives ''.
    make: () => ((s: string, start: number, len?: number) => {
      const from = start > 0 ? start - 1 : start === 0 ? 0 : Math.max(0, s.length + start);
      if (len === undefined) return s.slice(from);
      return len <= 0 ? '' : s.slice(from, from + len);
    }) as Impl,
  },
  strlength: stringFn((s) => s.length, 'INT'),
  trim: stringFn((s) => s.trim()),
  upper: stringFn((s) => s.toUpperCase()),
  lower: stringFn((s) => s.toLowerCase()),
  concat: {
    kind: 'scalar', strict: true,
    sig: (a) => arity(a, 1, Infinity) ?? 'STRING',
    make: (ctx, a) => {
      const conv = a.map((t) => castFn(t, 'STRING', ctx.tz));
      return ((...v: unknown[]) => { let s = ''; for (let i = 0; i < v.length; i++) s += conv[i]!(v[i]) as string; return s; }) as Impl;
    },
  },
  abs: {
    kind: 'scalar', strict: true,
    sig: (a) => arity(a, 1, 1) ?? (numeric(a[0]!) ? (a[0] === 'NULL' ? 'INT' : (a[0] as SqlType)) : `expects a number, got ${a[0]}`),
    make: (_c, a) => (a[0] === 'INT' ? (n: number) => Math.abs(n) | 0 : Math.abs) as Impl,
  },
  day: field((d) => d.getUTCDate(), false),
  dayofmonth: field((d) => d.getUTCDate(), false),
  month: field((d) => d.getUTCMonth() + 1, false),
  year: field((d) => d.getUTCFullYear(), false),
  hour: field((d) => d.getUTCHours(), true),
  minute: field((d) => d.getUTCMinutes(), true),
  second: field((d) => d.getUTCSeconds(), true),
  weekofyear: field((_d, ms, tz) => isoWeek(ms, tz), false),
  from_unixtime: {
    kind: 'scalar', strict: true,
    sig: (a) => arity(a, 1, 2) ?? (numeric(a[0]!) && (a.length === 1 || stringy(a[1]!)) ? 'STRING' : `expects (seconds[, STRING format]), got (${a.join(', ')})`),
    make: (ctx) => ((sec: number, fmt?: string) => format(Math.trunc(sec) * 1000, ctx.tz, fmt ?? 'yyyy-MM-dd HH:mm:ss')) as Impl,
  },
  dateadd: dateShift(1),
  datesub: dateShift(-1),
  datediff: {
    kind: 'scalar', strict: true,
    sig: (a) => arity(a, 2, 2) ?? (dateLike(a[0]!) && dateLike(a[1]!) ? 'INT' : `expects two DATE, TIMESTAMP or STRING values, got (${a.join(', ')})`),
    make: (ctx, a) => {
      const x = instant(a[0]!, ctx.tz), y = instant(a[1]!, ctx.tz);
      return ((u: unknown, v: unknown) => {
        const p = x(u), q = y(v);
        return p === null || q === null ? null : Math.round((startOfDay(p, ctx.tz) - startOfDay(q, ctx.tz)) / DAY_MS);
      }) as Impl;
    },
  },
  currenttimemillis: { kind: 'scalar', strict: false, sig: (a) => arity(a, 0, 0) ?? 'LONG', make: () => Date.now as Impl },

  count: aggregate(() => 'LONG', true),
  sum: aggregate((t) => (t === 'INT' || t === 'LONG' || t === 'NULL' ? 'LONG' : isNumeric(t) ? (t === 'FLOAT' ? 'DOUBLE' : (t as SqlType)) : `expects a number, got ${t}`)),
  avg: aggregate((t) => (numeric(t) ? (t === 'DECIMAL' ? 'DECIMAL' : 'DOUBLE') : `expects a number, got ${t}`)),
  max: aggregate((t) => (t === 'NULL' ? 'INT' : (t as SqlType))),
  min: aggregate((t) => (t === 'NULL' ? 'INT' : (t as SqlType))),
};

export function isAggregateName(name: string): boolean {
  return FUNCTIONS[name]?.kind === 'aggregate';
}
