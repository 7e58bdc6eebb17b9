import { ErrorCodes } from '../core/errors.js';
import { posOf, type Expr, type From, type Select, type SqlType, type Statement } from './ast.js';
import { fail, findAggregates, keyOf, typeExpr, walk, type ExprCtx } from './analyze-expr.js';
import { resolveFrom } from './analyze-from.js';
import { ctxFor, boolExpr, err, noAggregates, streamFor, type Analysis, type OperatorQuery, type RFrom, type SelectQuery, type StreamInfo } from './analysis.js';
import type { SqlError } from './errors.js';
import { FUNCTIONS } from './functions.js';
import { printExpr, printStatement } from './printer.js';
import type { AggSpec, Column, RExpr } from './rexpr.js';
import { assignable, type T } from './types.js';

/** INSERT INTO … SELECT and INSERT INTO … USING OPERATOR: typed projections, aggregation, target binding. */

export function selectQuery(a: Analysis, target: string, sel: Select, from: From, node: object, parent?: Statement): void {
  const what = `INSERT INTO ${target}`;
  const errorsBefore = a.errors.length;
  const resolved = resolveFrom(a, from, what);
  if (!resolved) return;
  const { scope } = resolved;
  const inputColumns = scope.flatMap((p) => p.columns);
  const q: SelectQuery = {
    kind: 'select', target, from: resolved.from, inputColumns, distinct: sel.distinct, project: [], output: [],
    sql: parent ? printStatement({ kind: 'insert', target, select: { ...sel, from } }) : printStatement({ kind: 'insert', target, select: sel }),
  };
  const pos = posOf(node);
  if (pos) q.pos = pos;
  if (sel.parallel !== undefined) {
    if (sel.parallel < 1) err(a, ErrorCodes.SQL_BAD_PROPERTY, node, `${what}: PARALLEL must be at least 1`);
    q.parallel = sel.parallel;
  }
  if (sel.limit !== undefined) {
    if (sel.limit < 1) err(a, ErrorCodes.SQL_BAD_PROPERTY, node, `${what}: LIMIT must be at least 1`);
    q.limit = sel.limit;
  }
  if ((sel.orderBy || sel.limit !== undefined) && !hasWindow(resolved.from)) {
    err(a, ErrorCodes.SQL_WINDOW_INVALID, node, `${what}: ORDER BY and LIMIT sort and cut each window's output, so the query needs a window (e.g. FROM ${fromLabel(resolved.from)}[ROWS 100 BATCH])`);
  }
  const base = ctxFor(a, scope, `${what} SELECT`);
  if (sel.where) q.where = boolExpr(a, sel.where, { ...base, where: `WHERE of ${what}` });
  for (const g of sel.groupBy ?? []) noAggregates(a, g, `GROUP BY of ${what}`);

  // Expand * and s.* into columns.
  const items: { expr: Expr; alias?: string; node: object }[] = [];
  for (const it of sel.items) {
    if (it.expr.kind === 'star') {
      const st = it.expr.stream?.toLowerCase();
      const parts = st === undefined ? scope : scope.filter((p) => p.names.includes(st));
      if (parts.length === 0) err(a, ErrorCodes.SQL_UNKNOWN_STREAM, it.expr, `${what}: '${it.expr.stream}.*' names no stream of this query`);
      for (const p of parts) for (const c of p.columns) items.push({ expr: { kind: 'column', stream: p.label, name: c.name }, node: it });
    } else items.push({ expr: it.expr, ...(it.alias !== undefined ? { alias: it.alias } : {}), node: it });
  }

  const aggCalls = [...items.map((i) => i.expr), ...(sel.having ? [sel.having] : []), ...(sel.orderBy ?? []).map((o) => o.expr)].flatMap((e) => findAggregates(e));
  const isAggregate = aggCalls.length > 0 || sel.groupBy !== undefined;
  if (sel.having && !isAggregate) err(a, ErrorCodes.SQL_AGGREGATE_MISUSE, sel.having, `${what}: HAVING needs GROUP BY or an aggregate; use WHERE to filter rows`);

  let post: ExprCtx = base;
  if (isAggregate) {
    const groupBy = (sel.groupBy ?? []).map((g) => typeExpr(g, { ...base, where: `GROUP BY of ${what}` }));
    // Group expressions are matched on their resolved form, so `GROUP BY s.id` matches `SELECT id`.
    const groupKeys = groupBy.map((g) => JSON.stringify(g));
    const groupMatch = (e: Expr): number => {
      if (groupBy.length === 0 || e.kind === 'literal' || findAggregates(e).length > 0) return -1;
      const scratch: SqlError[] = [];
      const r = typeExpr(e, { ...base, errors: scratch });
      return scratch.length > 0 ? -1 : groupKeys.indexOf(JSON.stringify(r));
    };
    const aggregates: AggSpec[] = [];
    const aggKeys: string[] = [];
    const lasts: RExpr[] = [];
    const lastKeys: string[] = [];
    const slots = () => groupBy.length + aggregates.length;
    const hasGroupBy = sel.groupBy !== undefined;
    // Post-aggregation row: [group keys…, aggregates…, lasts…]; lasts are appended after all aggregates,
    // so their indexes are fixed up once every aggregate is known.
    const LAST_BASE = 1_000_000;
    post = {
      ...base,
      intercept: (e, ctx) => {
        const gi = groupMatch(e);
        if (gi >= 0) return { k: 'col', t: groupBy[gi]!.t, i: gi, name: printExpr(e) };
        if (e.kind === 'call' && FUNCTIONS[e.name]?.kind === 'aggregate') {
          const k = keyOf(e);
          let ai = aggKeys.indexOf(k);
          if (ai < 0) {
            const spec = aggregateSpec(a, e, { ...base, where: `${e.name}() in ${what}` });
            if (!spec) return { k: 'lit', t: 'NULL', v: null };
            aggregates.push(spec);
            aggKeys.push(k);
            ai = aggregates.length - 1;
          }
          return { k: 'col', t: aggregates[ai]!.t, i: groupBy.length + ai, name: printExpr(e) };
        }
        if (e.kind === 'column') {
          if (hasGroupBy) {
            const known = typeExpr(e, base);
            if (known.k !== 'col') return known;
            return fail(ctx, ErrorCodes.SQL_AGGREGATE_MISUSE, e, `${ctx.where}: column '${printExpr(e)}' is neither in GROUP BY nor inside an aggregate`);
          }
          const r = typeExpr(e, base);
          if (r.k !== 'col') return r;
          const k = keyOf(e);
          let li = lastKeys.indexOf(k);
          if (li < 0) { lasts.push(r); lastKeys.push(k); li = lasts.length - 1; }
          return { k: 'col', t: r.t, i: LAST_BASE + li, name: r.name };
        }
        return undefined;
      },
    };
    const fix = (r: RExpr): RExpr => fixLast(r, LAST_BASE, slots());
    q.aggregate = { groupBy, aggregates, lasts };
    const projectRaw = items.map((it) => ({ it, r: typeExpr(it.expr, { ...post, where: `SELECT of ${what}` }) }));
    // HAVING may name a SELECT alias that is not also an input column (`… AS a HAVING a > 1`).
    const inputNames = new Set(inputColumns.map((c) => c.name.toLowerCase()));
    const postIntercept = post.intercept!;
    const havingCtx: ExprCtx = {
      ...post,
      where: `HAVING of ${what}`,
      intercept: (e, ctx) => {
        if (e.kind === 'column' && e.stream === undefined && !inputNames.has(e.name.toLowerCase())) {
          const i = items.findIndex((it) => it.alias?.toLowerCase() === e.name.toLowerCase());
          if (i >= 0) return projectRaw[i]!.r;
        }
        return postIntercept(e, ctx);
      },
    };
    const havingRaw = sel.having ? typeExpr(sel.having, havingCtx) : undefined;
    if (sel.having && havingRaw && havingRaw.t !== 'BOOLEAN' && havingRaw.t !== 'NULL') err(a, ErrorCodes.SQL_TYPE_MISMATCH, sel.having, `HAVING of ${what}: condition must be BOOLEAN, got ${havingRaw.t}`);
    const orderRaw = (sel.orderBy ?? []).map((o) => ({ desc: o.desc, r: orderExpr(o.expr, items, projectRaw.map((p) => p.r), { ...post, where: `ORDER BY of ${what}` }) }));
    q.project = projectRaw.map(({ it, r }, i) => ({ expr: fix(r), name: outputName(it.expr, it.alias, i) }));
    if (havingRaw) q.having = fix(havingRaw);
    if (orderRaw.length > 0) q.orderBy = orderRaw.map((o) => ({ expr: fix(o.r), desc: o.desc }));
  } else {
    const projectRaw = items.map((it) => typeExpr(it.expr, { ...base, where: `SELECT of ${what}` }));
    q.project = projectRaw.map((r, i) => ({ expr: r, name: outputName(items[i]!.expr, items[i]!.alias, i) }));
    if (sel.orderBy) q.orderBy = sel.orderBy.map((o) => ({ desc: o.desc, expr: orderExpr(o.expr, items, projectRaw, { ...base, where: `ORDER BY of ${what}` }) }));
  }
  q.output = q.project.map((p) => ({ name: p.name, type: p.expr.t === 'NULL' ? 'STRING' : (p.expr.t as SqlType) }));

  // Duplicate output names.
  const seen = new Set<string>();
  for (const [i, p] of q.project.entries()) {
    if (seen.has(p.name.toLowerCase())) err(a, ErrorCodes.SQL_DUPLICATE, items[i]!.node, `${what}: output column '${p.name}' appears twice; give one an alias with AS`);
    seen.add(p.name.toLowerCase());
  }
  const declared = bindTarget(a, target, q.output, node, what);
  if (declared) {
    // Rows take the target's column names and types (numeric values widen on the way in).
    q.output = declared;
    q.project = q.project.map((p, i) => ({ expr: p.expr, name: declared[i]!.name }));
  }
  if (a.errors.length === errorsBefore) a.queries.push(q);
}

function hasWindow(f: RFrom): boolean {
  return f.kind === 'join' || (f.kind === 'stream' || f.kind === 'lookup' ? f.input.window !== undefined : false);
}

function fromLabel(f: RFrom): string {
  return f.kind === 'join' ? f.left.stream : f.kind === 'combine' ? f.inputs[0]!.stream : f.input.stream;
}

function fixLast(r: RExpr, base: number, slots: number): RExpr {
  switch (r.k) {
    case 'col': return r.i >= base ? { ...r, i: r.i - base + slots } : r;
    case 'lit': return r;
    case 'op': case 'fn': case 'udf': return { ...r, args: r.args.map((x) => fixLast(x, base, slots)) };
    case 'cast': case 'prev': return { ...r, arg: fixLast(r.arg, base, slots) };
    case 'case': {
      const out: RExpr = { ...r, whens: r.whens.map((w) => ({ when: fixLast(w.when, base, slots), then: fixLast(w.then, base, slots) })) };
      if (r.operand) out.operand = fixLast(r.operand, base, slots);
      if (r.else) out.else = fixLast(r.else, base, slots);
      return out;
    }
  }
}

/** ORDER BY may name a SELECT alias; otherwise it is an expression of the same row as the SELECT list. */
function orderExpr(e: Expr, items: { expr: Expr; alias?: string }[], project: RExpr[], ctx: ExprCtx): RExpr {
  if (e.kind === 'column' && e.stream === undefined) {
    const i = items.findIndex((it) => it.alias?.toLowerCase() === e.name.toLowerCase());
    if (i >= 0) return project[i]!;
  }
  return typeExpr(e, ctx);
}

function aggregateSpec(a: Analysis, e: Expr & { kind: 'call' }, ctx: ExprCtx): AggSpec | undefined {
  for (const x of e.args) {
    const nested = findAggregates(x);
    if (nested.length > 0) {
      err(a, ErrorCodes.SQL_AGGREGATE_MISUSE, nested[0], `${ctx.where}: aggregates cannot be nested ('${printExpr(e)}')`);
      return undefined;
    }
  }
  for (const x of e.args) {
    let prev: Expr | undefined;
    walk(x, (n) => { if (n.kind === 'previous') prev ??= n; return prev === undefined; });
    if (prev) {
      err(a, ErrorCodes.SQL_AGGREGATE_MISUSE, prev, `${ctx.where}: PREVIOUS cannot be used inside an aggregate ('${printExpr(e)}'); compute it into an intermediate stream first`);
      return undefined;
    }
  }
  const star = e.args[0]?.kind === 'star';
  if (star && e.args[0]!.kind === 'star' && e.args[0].stream !== undefined) {
    err(a, ErrorCodes.SQL_FUNCTION_ARGUMENTS, e, `${ctx.where}: use count(*), not count(${printExpr(e.args[0]!)})`);
    return undefined;
  }
  const arg = star || e.args.length === 0 ? undefined : typeExpr(e.args[0]!, ctx);
  const filter = e.args[1] ? typeExpr(e.args[1], ctx) : undefined;
  const types: (T | 'STAR')[] = e.args.length === 0 ? [] : [star ? 'STAR' : arg!.t, ...(filter ? [filter.t] : [])];
  const t = FUNCTIONS[e.name]!.kind === 'aggregate' ? (FUNCTIONS[e.name] as { sig: (a: (T | 'STAR')[]) => string }).sig(types) : '';
  if (!['INT', 'LONG', 'BOOLEAN', 'FLOAT', 'DOUBLE', 'STRING', 'TIMESTAMP', 'DATE', 'TIME', 'DECIMAL'].includes(t)) {
    err(a, ErrorCodes.SQL_FUNCTION_ARGUMENTS, e, `${ctx.where}: ${e.name}() ${t} in '${printExpr(e)}'`);
    return undefined;
  }
  if (star && e.distinct) {
    err(a, ErrorCodes.SQL_FUNCTION_ARGUMENTS, e, `${ctx.where}: count(DISTINCT *) is not allowed; name the column`);
    return undefined;
  }
  const spec: AggSpec = { fn: e.name as AggSpec['fn'], distinct: e.distinct, t: t as SqlType, sql: printExpr(e) };
  if (arg) spec.arg = arg;
  if (filter) spec.filter = filter;
  return spec;
}

function outputName(e: Expr, alias: string | undefined, i: number): string {
  if (alias !== undefined) return alias;
  if (e.kind === 'column') return e.name;
  return `_c${i}`;
}

/**
 * INSERT INTO: a declared stream must match the output; an undeclared one is created with it. Returns
 * the existing stream's columns when there was one.
 */
function bindTarget(a: Analysis, target: string, output: Column[], node: object, what: string): Column[] | undefined {
  const key = target.toLowerCase();
  const st = a.streams.get(key);
  if (!st) {
    const info: StreamInfo = { name: target, role: 'stream', columns: output, implicit: true };
    const pos = posOf(node);
    if (pos) info.pos = pos;
    a.streams.set(key, info);
    return undefined;
  }
  if (st.role === 'input') {
    err(a, ErrorCodes.SQL_STREAM_ROLE, node, `${what}: '${st.name}' is an INPUT stream, fed by its SOURCE; insert into an OUTPUT or intermediate stream`);
    return undefined;
  }
  if (st.columns.length !== output.length) {
    err(a, ErrorCodes.SQL_SCHEMA_MISMATCH, node, `${what}: the SELECT gives ${output.length} column${output.length === 1 ? '' : 's'} but ${st.name} has ${st.columns.length} (${st.columns.map((c) => `${c.name} ${c.type}`).join(', ')})`);
    return undefined;
  }
  st.columns.forEach((c, i) => {
    const o = output[i]!;
    if (!assignable(o.type, c.type)) err(a, ErrorCodes.SQL_SCHEMA_MISMATCH, node, `${what}: column ${i + 1} ('${o.name}') is ${o.type} but ${st.name}.${c.name} is ${c.type}; CAST it`);
  });
  return st.columns;
}

export function operatorQuery(a: Analysis, s: Statement & { kind: 'insertOperator' }): void {
  const what = `INSERT INTO ${s.target} USING OPERATOR ${s.operator}`;
  const before = a.errors.length;
  const op = a.operators.get(s.operator.toLowerCase());
  if (!op) err(a, ErrorCodes.SQL_UNKNOWN_OPERATOR, s, `${what}: unknown operator '${s.operator}' (define it with CREATE OPERATOR ${s.operator} AS 'module#export' INPUT (…) OUTPUT (…))`);
  const src = streamFor(a, s.source, s, what);
  if (op && src) {
    const same = op.input.length === src.columns.length && op.input.every((c, i) => assignable(src.columns[i]!.type, c.type));
    if (!same) err(a, ErrorCodes.SQL_SCHEMA_MISMATCH, s, `${what}: ${src.name} (${src.columns.map((c) => `${c.name} ${c.type}`).join(', ')}) does not match the operator's INPUT (${op.input.map((c) => `${c.name} ${c.type}`).join(', ')})`);
  }
  for (const c of s.distributeBy ?? []) {
    if (src && !src.columns.some((x) => x.name.toLowerCase() === c.toLowerCase())) err(a, ErrorCodes.SQL_UNKNOWN_COLUMN, s, `${what}: DISTRIBUTE BY column '${c}' is not a column of ${src.name}`);
  }
  if (s.parallel !== undefined && s.parallel < 1) err(a, ErrorCodes.SQL_BAD_PROPERTY, s, `${what}: PARALLEL must be at least 1`);
  if (op) bindTarget(a, s.target, op.output, s, what);
  if (a.errors.length !== before) return;
  const q: OperatorQuery = { kind: 'operator', target: s.target, operator: op!.name, source: src!.name, distributeBy: s.distributeBy ?? [], sql: printStatement(s) };
  if (s.parallel !== undefined) q.parallel = s.parallel;
  const pos = posOf(s);
  if (pos) q.pos = pos;
  a.queries.push(q);
}
