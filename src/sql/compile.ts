import { MonsoonError, ErrorCodes } from '../core/errors.js';
import { FUNCTIONS, type FnContext } from './functions.js';
import type { RExpr } from './rexpr.js';
import { castFn } from './runtime/cast.js';
import { likeToRegExp } from './runtime/like.js';

/**
 * Expression compiler: typed expressions → one JavaScript function per operator, generated from the
 * tree's node kinds only. Column access is `row[<integer>]`; numbers and strings appear through
 * JSON.stringify; functions, casts, regular expressions and sets are passed in a constants array and
 * called by index. Nothing a user wrote (string literals, column or function names) is ever emitted as
 * code, so `new Function` runs once per compiled operator on text built only from these pieces.
 *
 * SQL NULL is JS null. Operators return NULL when an operand is NULL, except AND/OR (three-valued:
 * FALSE AND NULL = FALSE, TRUE OR NULL = TRUE), IS [NOT] NULL, <=> (NULL-safe equality) and CASE.
 * Division or DIV or % by zero gives NULL. INT arithmetic wraps at 32 bits as Java's int does.
 *
 * PREVIOUS(n, e) makes the evaluator stateful: each occurrence keeps the last n values of e, and e is
 * evaluated for every row (before anything else), also when PREVIOUS sits in a CASE branch not taken.
 */

export interface CompileOptions extends FnContext {
  /** Implementations of CREATE FUNCTION functions, by lower-case name. */
  udfs?: Map<string, (...args: unknown[]) => unknown>;
}

export interface Evaluator {
  /** Evaluates every expression of the operator on one row. */
  eval(row: readonly unknown[]): unknown[];
  /** Forgets PREVIOUS history (a new partition or a restart). */
  reset(): void;
  readonly stateful: boolean;
  /** The generated source, for tests and `EXPLAIN`. */
  readonly source: string;
}

/** The last n values of an expression: push(v) stores v and returns the value n rows earlier (NULL before that). */
class History {
  private readonly buf: unknown[];
  private pos = 0;
  private filled = 0;
  constructor(private readonly n: number) {
    this.buf = new Array<unknown>(n).fill(null);
  }
  push(v: unknown): unknown {
    const old = this.filled >= this.n ? this.buf[this.pos] : null;
    this.buf[this.pos] = v;
    this.pos = (this.pos + 1) % this.n;
    if (this.filled < this.n) this.filled++;
    return old;
  }
}

const toBig = (x: number) => BigInt(Math.trunc(x));
const LONG_BITS: Record<string, (a: number, b: number) => number> = {
  '|': (a, b) => Number(BigInt.asIntN(64, toBig(a) | toBig(b))),
  '&': (a, b) => Number(BigInt.asIntN(64, toBig(a) & toBig(b))),
  '^': (a, b) => Number(BigInt.asIntN(64, toBig(a) ^ toBig(b))),
  '~': (a) => Number(BigInt.asIntN(64, ~toBig(a))),
};

const likeCache = new Map<string, RegExp>();
function dynamicRegex(p: string, like: boolean): RegExp | null {
  const key = (like ? 'L' : 'R') + p;
  let re = likeCache.get(key);
  if (!re) {
    try { re = like ? likeToRegExp(p) : new RegExp(p, 'u'); } catch { return null; }
    if (likeCache.size > 1000) likeCache.clear();
    likeCache.set(key, re);
  }
  return re;
}

class Codegen {
  readonly consts: unknown[] = [];
  private n = 0;
  private prevVars = new Map<RExpr, string>();
  histories: number[] = [];

  constructor(private readonly opts: CompileOptions) {}

  tmp(): string {
    return `v${this.n++}`;
  }

  konst(v: unknown): string {
    this.consts.push(v);
    return `C[${this.consts.length - 1}]`;
  }

  /** Evaluates PREVIOUS arguments first, innermost first, into the top block. */
  hoistPrevious(r: RExpr, top: string[]): void {
    const kids: RExpr[] = r.k === 'op' || r.k === 'fn' || r.k === 'udf' ? r.args
      : r.k === 'cast' || r.k === 'prev' ? [r.arg]
      : r.k === 'case' ? [...(r.operand ? [r.operand] : []), ...r.whens.flatMap((w) => [w.when, w.then]), ...(r.else ? [r.else] : [])] : [];
    for (const k of kids) this.hoistPrevious(k, top);
    if (r.k === 'prev' && !this.prevVars.has(r)) {
      const arg = this.gen(r.arg, top);
      const slot = this.histories.length;
      this.histories.push(int(r.n));
      const v = this.tmp();
      top.push(`const ${v} = S[${slot}].push(${arg});`);
      this.prevVars.set(r, v);
    }
  }

  /** Appends statements computing `r` to `out`; returns a JS expression (a temp or a literal) holding the value. */
  gen(r: RExpr, out: string[]): string {
    switch (r.k) {
      case 'lit': {
        if (r.v === null) return 'null';
        if (typeof r.v === 'boolean') return r.v ? 'true' : 'false';
        if (typeof r.v === 'number') return Number.isFinite(r.v) ? JSON.stringify(r.v) : this.konst(r.v);
        return JSON.stringify(String(r.v));
      }
      case 'col': {
        const v = this.tmp();
        out.push(`const ${v} = row[${int(r.i)}] ?? null;`);
        return v;
      }
      case 'prev': {
        const v = this.prevVars.get(r);
        if (!v) throw new Error('PREVIOUS was not hoisted');
        return v;
      }
      case 'cast': {
        const a = this.gen(r.arg, out);
        const v = this.tmp();
        out.push(`const ${v} = ${this.konst(castFn(r.from, r.t, this.opts.tz))}(${a});`);
        return v;
      }
      case 'fn': {
        const def = FUNCTIONS[r.name];
        if (!def || def.kind !== 'scalar') throw new MonsoonError(ErrorCodes.SQL_UNKNOWN_FUNCTION, `no scalar function ${r.name}()`);
        const args = r.args.map((x) => this.gen(x, out));
        const f = this.konst(def.make(this.opts, r.args.map((x) => x.t)));
        const v = this.tmp();
        const guard = def.strict && args.length > 0 ? `${args.map((a) => `${a} === null`).join(' || ')} ? null : ` : '';
        out.push(`const ${v} = ${guard}${f}(${args.join(', ')});`);
        return v;
      }
      case 'udf': {
        const impl = this.opts.udfs?.get(r.name);
        if (!impl) throw new MonsoonError(ErrorCodes.SQL_UNKNOWN_FUNCTION, `function ${r.name}() (${r.ref}) has no implementation loaded`);
        const args = r.args.map((x) => this.gen(x, out));
        const v = this.tmp();
        out.push(`const ${v} = ${this.konst(impl)}(${args.join(', ')}) ?? null;`);
        return v;
      }
      case 'case':
        return this.genCase(r, out);
      case 'op':
        return this.genOp(r, out);
    }
  }

  private genCase(r: RExpr & { k: 'case' }, out: string[]): string {
    const v = this.tmp();
    out.push(`let ${v} = null;`);
    const operand = r.operand ? this.gen(r.operand, out) : undefined;
    // Each WHEN (and the ELSE) is evaluated only when the WHENs before it did not match.
    const chain = (i: number, block: string[]): void => {
      if (i === r.whens.length) {
        if (r.else) block.push(`${v} = ${this.gen(r.else, block)};`);
        return;
      }
      const w = r.whens[i]!;
      const c = this.gen(w.when, block);
      const test = operand !== undefined ? `${operand} !== null && ${c} !== null && ${operand} === ${c}` : `${c} === true`;
      const thenBody: string[] = [];
      thenBody.push(`${v} = ${this.gen(w.then, thenBody)};`);
      const elseBody: string[] = [];
      chain(i + 1, elseBody);
      block.push(`if (${test}) {`, ...thenBody, '} else {', ...elseBody, '}');
    };
    chain(0, out);
    return v;
  }

  private genOp(r: RExpr & { k: 'op' }, out: string[]): string {
    const a = r.args.map((x) => this.gen(x, out));
    const [x, y, z] = a as [string, string, string];
    const v = this.tmp();
    // Literal operands are never NULL (NULL itself is emitted as `null`), so they need no test.
    const nullIf = (...vs: string[]) => vs.filter((s) => !LITERAL.test(s)).map((s) => `${s} === null`).join(' || ') || 'false';
    const emit = (code: string) => { out.push(`const ${v} = ${code};`); return v; };
    const isInt = r.t === 'INT';
    const isFloat = r.t === 'FLOAT';
    const num = (code: string) => (isInt ? `(${code}) | 0` : isFloat ? `Math.fround(${code})` : code);
    switch (r.op) {
      case 'and': return emit(`${x} === false || ${y} === false ? false : ${nullIf(x, y)} ? null : true`);
      case 'or': return emit(`${x} === true || ${y} === true ? true : ${nullIf(x, y)} ? null : false`);
      case 'not': return emit(`${x} === null ? null : !${x}`);
      case 'isnull': return emit(`${x} === null`);
      case 'isnotnull': return emit(`${x} !== null`);
      case 'neg': return emit(`${x} === null ? null : ${num(`-(${x})`)}`);
      case 'bitnot': return emit(`${x} === null ? null : ${isInt ? `~${x}` : `${this.konst(LONG_BITS['~'])}(${x})`}`);
      case '=': return emit(`${nullIf(x, y)} ? null : ${x} === ${y}`);
      case '<>': return emit(`${nullIf(x, y)} ? null : ${x} !== ${y}`);
      case '<=>': return emit(`${x} === ${y}`);
      case '<': case '<=': case '>': case '>=': return emit(`${nullIf(x, y)} ? null : ${x} ${r.op} ${y}`);
      case '+': case '-': return emit(`${nullIf(x, y)} ? null : ${num(`${x} ${r.op} ${y}`)}`);
      case '*': return emit(`${nullIf(x, y)} ? null : ${isInt ? `Math.imul(${x}, ${y})` : num(`${x} * ${y}`)}`);
      case '/': return emit(`${nullIf(x, y)} || ${y} === 0 ? null : ${x} / ${y}`);
      case '%': return emit(`${nullIf(x, y)} || ${y} === 0 ? null : ${num(`${x} % ${y}`)}`);
      case 'div': return emit(`${nullIf(x, y)} || ${y} === 0 ? null : ${isInt ? `(${x} / ${y}) | 0` : `Math.trunc(${x} / ${y})`}`);
      case '||': {
        const [sx, sy] = r.args.map((q) => this.konst(castFn(q.t, 'STRING', this.opts.tz)));
        return emit(`${nullIf(x, y)} ? null : ${sx}(${x}) + ${sy}(${y})`);
      }
      case '|': case '&': case '^':
        return emit(`${nullIf(x, y)} ? null : ${isInt ? `${x} ${r.op} ${y}` : `${this.konst(LONG_BITS[r.op])}(${x}, ${y})`}`);
      case 'between': {
        const lo = this.tmp(), hi = this.tmp();
        out.push(`const ${lo} = ${nullIf(x, y)} ? null : ${x} >= ${y};`, `const ${hi} = ${nullIf(x, z)} ? null : ${x} <= ${z};`);
        return emit(`${lo} === false || ${hi} === false ? false : ${nullIf(lo, hi)} ? null : true`);
      }
      case 'in': {
        const list = r.args.slice(1);
        const items = a.slice(1);
        if (list.every((q) => q.k === 'lit' && q.v !== null)) {
          const set = this.konst(new Set(list.map((q) => (q as { v: unknown }).v)));
          return emit(`${x} === null ? null : ${set}.has(${x})`);
        }
        return emit(`${x} === null ? null : (${items.map((q) => `${x} === ${q}`).join(' || ')}) ? true : (${nullIf(...items)}) ? null : false`);
      }
      case 'like':
      case 'rlike': {
        const like = r.op === 'like';
        const p = r.args[1]!;
        if (p.k === 'lit' && typeof p.v === 'string') {
          const re = this.konst(like ? likeToRegExp(p.v) : new RegExp(p.v, 'u'));
          return emit(`${x} === null ? null : ${re}.test(${x})`);
        }
        const dyn = this.konst(dynamicRegex);
        const re = this.tmp();
        out.push(`const ${re} = ${nullIf(x, y)} ? null : ${dyn}(${y}, ${like ? 'true' : 'false'});`);
        return emit(`${re} === null ? null : ${re}.test(${x})`);
      }
    }
  }
}

const LITERAL = /^(?:-?\d|"|true$|false$)/;

function int(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a row index: ${n}`);
  return n;
}

function flatten(lines: string[]): string {
  return lines.join('\n');
}

/** Compiles the expressions of one operator into one evaluator returning their values in order. */
export function compile(exprs: RExpr[], opts: CompileOptions): Evaluator {
  const g = new Codegen(opts);
  const body: string[] = [];
  for (const r of exprs) g.hoistPrevious(r, body);
  const results = exprs.map((r) => g.gen(r, body));
  const source = `"use strict";\nreturn function evaluate(row) {\n${flatten(body)}\nreturn [${results.join(', ')}];\n};`;
  const consts = g.consts;
  const sizes = g.histories;
  const state: History[] = sizes.map((n) => new History(n));
  const fn = new Function('C', 'S', source)(consts, state) as (row: readonly unknown[]) => unknown[];
  return {
    eval: fn,
    reset() { for (let i = 0; i < sizes.length; i++) state[i] = new History(sizes[i]!); },
    stateful: sizes.length > 0,
    source,
  };
}

/** Compiles a single expression; `evaluate(row)` returns its value. */
export function compileOne(r: RExpr, opts: CompileOptions): { evaluate: (row: readonly unknown[]) => unknown; evaluator: Evaluator } {
  const ev = compile([r], opts);
  return { evaluate: (row) => ev.eval(row)[0], evaluator: ev };
}
