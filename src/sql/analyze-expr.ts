import { ErrorCodes, type ErrorCode } from '../core/errors.js';
import { posOf, SQL_TYPES, type Expr, type SqlType } from './ast.js';
import { SqlError } from './errors.js';
import { FUNCTIONS } from './functions.js';
import { printExpr } from './printer.js';
import type { OpName, RExpr } from './rexpr.js';
import { castAllowed } from './runtime/cast.js';
import { common, isIntegral, isNumeric, widen, type T } from './types.js';

/**
 * Resolves and type-checks one expression against a scope (the columns of the operator's input row).
 * Errors are collected, and the failing node becomes a NULL literal so one mistake reports once.
 */

export interface ScopePart {
  /** Names a qualified column may use: the stream's name and its alias, lower-cased. */
  names: string[];
  label: string;
  columns: { name: string; type: SqlType }[];
  offset: number;
}

export interface Udf {
  name: string;
  ref: string;
  returns: SqlType;
}

export interface ExprCtx {
  scope: ScopePart[];
  errors: SqlError[];
  udfs: Map<string, Udf>;
  /** Where the expression sits, for messages ("WHERE", "GROUP BY", "window of s", …). */
  where: string;
  /** Called first on every node; a result replaces normal resolution (used for post-aggregation rows). */
  intercept?: (e: Expr, ctx: ExprCtx) => RExpr | undefined;
}

const NULL_LIT: RExpr = { k: 'lit', t: 'NULL', v: null };

export function fail(ctx: { errors: SqlError[] }, code: ErrorCode, node: object | undefined, message: string): RExpr {
  ctx.errors.push(new SqlError(code, message, posOf(node)));
  return NULL_LIT;
}

export function keyOf(e: Expr): string {
  return JSON.stringify(e, (k, v: unknown) => ((k === 'name' || k === 'stream') && typeof v === 'string' ? v.toLowerCase() : v));
}

export function resolveColumn(ctx: ExprCtx, e: Expr & { kind: 'column' }): RExpr {
  const name = e.name.toLowerCase();
  const parts = e.stream !== undefined ? ctx.scope.filter((p) => p.names.includes(e.stream!.toLowerCase())) : ctx.scope;
  if (e.stream !== undefined && parts.length === 0) {
    return fail(ctx, ErrorCodes.SQL_UNKNOWN_STREAM, e, `${ctx.where}: '${e.stream}' in '${printExpr(e)}' is not a stream or alias of this query (have ${ctx.scope.map((p) => p.label).join(', ') || 'none'})`);
  }
  const hits: RExpr[] = [];
  for (const p of parts) {
    const i = p.columns.findIndex((c) => c.name.toLowerCase() === name);
    if (i >= 0) hits.push({ k: 'col', t: p.columns[i]!.type, i: p.offset + i, name: p.columns[i]!.name });
  }
  if (hits.length === 0) {
    const have = parts.flatMap((p) => p.columns.map((c) => c.name));
    return fail(ctx, ErrorCodes.SQL_UNKNOWN_COLUMN, e, `${ctx.where}: unknown column '${printExpr(e)}' (columns: ${have.join(', ') || 'none'})`);
  }
  if (hits.length > 1) return fail(ctx, ErrorCodes.SQL_AMBIGUOUS_COLUMN, e, `${ctx.where}: column '${e.name}' is in more than one stream (${parts.filter((p) => p.columns.some((c) => c.name.toLowerCase() === name)).map((p) => p.label).join(', ')}); qualify it`);
  return hits[0]!;
}

function mismatch(ctx: ExprCtx, e: Expr, what: string): RExpr {
  return fail(ctx, ErrorCodes.SQL_TYPE_MISMATCH, e, `${ctx.where}: ${what} in '${printExpr(e)}'`);
}

function boolArg(ctx: ExprCtx, e: Expr, r: RExpr, what: string): boolean {
  if (r.t === 'BOOLEAN' || r.t === 'NULL') return true;
  mismatch(ctx, e, `${what} must be BOOLEAN, got ${r.t}`);
  return false;
}

const CMP: Record<string, OpName> = { '=': '=', '<=>': '<=>', '<>': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

export function typeExpr(e: Expr, ctx: ExprCtx): RExpr {
  const hooked = ctx.intercept?.(e, ctx);
  if (hooked) return hooked;
  const sub = (x: Expr) => typeExpr(x, ctx);
  switch (e.kind) {
    case 'literal':
      return { k: 'lit', t: e.type, v: e.value };
    case 'column':
      return resolveColumn(ctx, e);
    case 'star':
      return fail(ctx, ErrorCodes.SQL_SYNTAX, e, `${ctx.where}: '*' is only allowed as a SELECT item or in count(*)`);
    case 'unary': {
      const a = sub(e.arg);
      if (e.op === 'NOT') return boolArg(ctx, e, a, 'the operand of NOT') ? { k: 'op', t: 'BOOLEAN', op: 'not', args: [a] } : NULL_LIT;
      if (e.op === '~') return isIntegral(a.t) || a.t === 'NULL' ? { k: 'op', t: a.t === 'NULL' ? 'INT' : a.t, op: 'bitnot', args: [a] } : mismatch(ctx, e, `~ needs INT or LONG, got ${a.t}`);
      if (!isNumeric(a.t) && a.t !== 'NULL') return mismatch(ctx, e, `unary ${e.op} needs a number, got ${a.t}`);
      return e.op === '+' ? a : { k: 'op', t: a.t === 'NULL' ? 'INT' : a.t, op: 'neg', args: [a] };
    }
    case 'binary': {
      const l = sub(e.left);
      const r = sub(e.right);
      const op = e.op;
      if (op === 'AND' || op === 'OR') {
        const ok = boolArg(ctx, e, l, `the left side of ${op}`) && boolArg(ctx, e, r, `the right side of ${op}`);
        return ok ? { k: 'op', t: 'BOOLEAN', op: op === 'AND' ? 'and' : 'or', args: [l, r] } : NULL_LIT;
      }
      if (CMP[op]) {
        if (common(l.t, r.t) === undefined) return mismatch(ctx, e, `cannot compare ${l.t} with ${r.t}`);
        return { k: 'op', t: 'BOOLEAN', op: CMP[op]!, args: [l, r] };
      }
      if (op === '||') return { k: 'op', t: 'STRING', op: '||', args: [l, r] };
      if (op === '|' || op === '&' || op === '^') {
        const w = widen(l.t, r.t);
        if (!w || !isIntegral(w)) return mismatch(ctx, e, `${op} needs INT or LONG operands, got ${l.t} and ${r.t}`);
        return { k: 'op', t: w, op, args: [l, r] };
      }
      const w = widen(l.t, r.t);
      if (!w) return mismatch(ctx, e, `${op} needs numeric operands, got ${l.t} and ${r.t}`);
      if (op === '/') return { k: 'op', t: w === 'DECIMAL' ? 'DECIMAL' : 'DOUBLE', op: '/', args: [l, r] };
      if (op === 'DIV') {
        if (!isIntegral(w)) return mismatch(ctx, e, `DIV needs INT or LONG operands, got ${l.t} and ${r.t}`);
        return { k: 'op', t: w, op: 'div', args: [l, r] };
      }
      return { k: 'op', t: w, op: op as OpName, args: [l, r] };
    }
    case 'isNull':
      return { k: 'op', t: 'BOOLEAN', op: e.not ? 'isnotnull' : 'isnull', args: [sub(e.arg)] };
    case 'like': {
      const a = sub(e.arg);
      const p = sub(e.pattern);
      if ((a.t !== 'STRING' && a.t !== 'NULL') || (p.t !== 'STRING' && p.t !== 'NULL')) return mismatch(ctx, e, `${e.op} needs STRING operands, got ${a.t} and ${p.t}`);
      const r: RExpr = { k: 'op', t: 'BOOLEAN', op: e.op === 'LIKE' ? 'like' : 'rlike', args: [a, p] };
      if (p.k === 'lit' && typeof p.v === 'string' && e.op !== 'LIKE') {
        try { new RegExp(p.v, 'u'); } catch (err) { return mismatch(ctx, e, `invalid regular expression: ${(err as Error).message}`); }
      }
      return e.not ? { k: 'op', t: 'BOOLEAN', op: 'not', args: [r] } : r;
    }
    case 'between': {
      const a = sub(e.arg), lo = sub(e.low), hi = sub(e.high);
      if (common(a.t, lo.t) === undefined || common(a.t, hi.t) === undefined) return mismatch(ctx, e, `BETWEEN cannot compare ${a.t} with ${lo.t} and ${hi.t}`);
      const r: RExpr = { k: 'op', t: 'BOOLEAN', op: 'between', args: [a, lo, hi] };
      return e.not ? { k: 'op', t: 'BOOLEAN', op: 'not', args: [r] } : r;
    }
    case 'in': {
      const a = sub(e.arg);
      const list = e.list.map(sub);
      const bad = list.find((x) => common(a.t, x.t) === undefined);
      if (bad) return mismatch(ctx, e, `IN cannot compare ${a.t} with ${bad.t}`);
      const r: RExpr = { k: 'op', t: 'BOOLEAN', op: 'in', args: [a, ...list] };
      return e.not ? { k: 'op', t: 'BOOLEAN', op: 'not', args: [r] } : r;
    }
    case 'case': {
      const operand = e.operand ? sub(e.operand) : undefined;
      const whens = e.whens.map((w) => ({ when: sub(w.when), then: sub(w.then) }));
      for (const w of whens) {
        if (operand) {
          if (common(operand.t, w.when.t) === undefined) return mismatch(ctx, e, `CASE compares ${operand.t} with WHEN ${w.when.t}`);
        } else if (!boolArg(ctx, e, w.when, 'a WHEN condition')) return NULL_LIT;
      }
      const els = e.else ? sub(e.else) : undefined;
      let t: T | undefined = 'NULL';
      for (const r of [...whens.map((w) => w.then), ...(els ? [els] : [])]) {
        t = common(t, r.t);
        if (t === undefined) return mismatch(ctx, e, `CASE branches have incompatible types (${[...whens.map((w) => w.then.t), ...(els ? [els.t] : [])].join(', ')})`);
      }
      const out: RExpr = { k: 'case', t: t === 'NULL' ? 'STRING' : t, whens };
      if (operand) out.operand = operand;
      if (els) out.else = els;
      return out;
    }
    case 'cast': {
      const a = sub(e.arg);
      if (!castAllowed(a.t, e.type)) return mismatch(ctx, e, `cannot CAST ${a.t} to ${e.type}`);
      return { k: 'cast', t: e.type, from: a.t, arg: a };
    }
    case 'previous': {
      if (e.n < 1) return fail(ctx, ErrorCodes.SQL_FUNCTION_ARGUMENTS, e, `${ctx.where}: PREVIOUS needs a count of at least 1 in '${printExpr(e)}'`);
      const a = sub(e.arg);
      return { k: 'prev', t: a.t, n: e.n, arg: a };
    }
    case 'call':
      return typeCall(e, ctx);
  }
}

function typeCall(e: Expr & { kind: 'call' }, ctx: ExprCtx): RExpr {
  const def = FUNCTIONS[e.name];
  if (def?.kind === 'aggregate') return fail(ctx, ErrorCodes.SQL_AGGREGATE_MISUSE, e, `${ctx.where}: aggregate ${e.name}() is not allowed here ('${printExpr(e)}')`);
  if (e.distinct) return fail(ctx, ErrorCodes.SQL_FUNCTION_ARGUMENTS, e, `${ctx.where}: DISTINCT only applies to aggregates, not ${e.name}()`);
  const args = e.args.map((a) => typeExpr(a, ctx));
  if (!def) {
    const udf = ctx.udfs.get(e.name);
    if (!udf) return fail(ctx, ErrorCodes.SQL_UNKNOWN_FUNCTION, e, `${ctx.where}: unknown function ${e.name}() (not built in; add one with CREATE FUNCTION ${e.name} AS 'module#export')`);
    return { k: 'udf', t: udf.returns, name: udf.name, ref: udf.ref, args };
  }
  const t = def.sig(args.map((a) => a.t));
  if (!(SQL_TYPES as readonly string[]).includes(t)) {
    return fail(ctx, ErrorCodes.SQL_FUNCTION_ARGUMENTS, e, `${ctx.where}: ${e.name}() ${t} in '${printExpr(e)}'`);
  }
  return { k: 'fn', t: t as SqlType, name: e.name, args };
}

/** Calls to aggregate functions anywhere inside `e` (not looking into their arguments). */
export function findAggregates(e: Expr, out: (Expr & { kind: 'call' })[] = []): (Expr & { kind: 'call' })[] {
  walk(e, (x) => {
    if (x.kind === 'call' && FUNCTIONS[x.name]?.kind === 'aggregate') {
      out.push(x);
      return false;
    }
    return true;
  });
  return out;
}

/** Visits every node; `visit` returning false skips the node's children. */
export function walk(e: Expr, visit: (e: Expr) => boolean): void {
  if (!visit(e)) return;
  const kids: Expr[] = [];
  switch (e.kind) {
    case 'unary': kids.push(e.arg); break;
    case 'binary': kids.push(e.left, e.right); break;
    case 'isNull': kids.push(e.arg); break;
    case 'like': kids.push(e.arg, e.pattern); break;
    case 'between': kids.push(e.arg, e.low, e.high); break;
    case 'in': kids.push(e.arg, ...e.list); break;
    case 'case': if (e.operand) kids.push(e.operand); for (const w of e.whens) kids.push(w.when, w.then); if (e.else) kids.push(e.else); break;
    case 'cast': kids.push(e.arg); break;
    case 'previous': kids.push(e.arg); break;
    case 'call': kids.push(...e.args); break;
    default: break;
  }
  for (const k of kids) walk(k, visit);
}
