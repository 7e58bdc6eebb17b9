import { ErrorCodes } from '../core/errors.js';
import type { Expr, From, SqlType, StreamRef, Window } from './ast.js';
import { typeExpr, type ExprCtx, type ScopePart } from './analyze-expr.js';
import { boolExpr, columnsOf, ctxFor, err, noAggregates, streamFor, type Analysis, type RFrom, type RStream, type RWindow } from './analysis.js';
import { printExpr } from './printer.js';
import type { RExpr } from './rexpr.js';
import { assignable, type T } from './types.js';

/** FROM: stream inputs with their filters and windows, joins, COMBINE and data-source lookups. */

function resolveStreamRef(a: Analysis, r: StreamRef, what: string): { rs: RStream; part: Omit<ScopePart, 'offset'> } | undefined {
  const st = streamFor(a, r.name, r, what);
  if (!st) return undefined;
  const names = [st.name.toLowerCase(), ...(r.alias !== undefined ? [r.alias.toLowerCase()] : [])];
  const label = r.alias ?? st.name;
  const part = { names, label, columns: st.columns };
  const own = [{ ...part, offset: 0 }];
  const rs: RStream = { stream: st.name, label, columns: st.columns, unidirection: r.unidirection === true };
  if (r.filter) rs.filter = boolExpr(a, r.filter, ctxFor(a, own, `filter of ${label}`));
  if (r.window) rs.window = resolveWindow(a, r.window, ctxFor(a, own, `window of ${label}`));
  return { rs, part };
}

function resolveWindow(a: Analysis, w: Window, ctx: ExprCtx): RWindow {
  const out: RWindow = { kind: w.kind, excludeNow: w.props.excludeNow === true, sql: '' };
  const col = (e: Expr, what: string, ok: (t: T) => boolean, want: string): RExpr => {
    noAggregates(a, e, ctx.where);
    const r = typeExpr(e, ctx);
    if (r.t !== 'NULL' && !ok(r.t)) err(a, ErrorCodes.SQL_TYPE_MISMATCH, e, `${ctx.where}: ${what} '${printExpr(e)}' must be ${want}, got ${r.t}`);
    return r;
  };
  const timeCol = (t: T) => t === 'TIMESTAMP' || t === 'LONG' || t === 'DATE';
  if (w.kind === 'rows') {
    if (w.count < 1) err(a, ErrorCodes.SQL_WINDOW_INVALID, w, `${ctx.where}: ROWS needs at least 1 row`);
    out.count = w.count;
    out.mode = w.mode;
  } else if (w.kind === 'range') {
    if (w.ms < 1) err(a, ErrorCodes.SQL_WINDOW_INVALID, w, `${ctx.where}: RANGE needs a duration of at least 1 millisecond`);
    out.ms = w.ms;
    out.mode = w.mode;
  } else if (w.kind === 'today') {
    out.today = col(w.column, 'RANGE TODAY column', timeCol, 'TIMESTAMP, DATE or LONG (epoch ms)');
  }
  const p = w.props;
  if (p.partitionBy) out.partitionBy = p.partitionBy.map((e) => col(e, 'PARTITION BY key', () => true, 'any type'));
  if (p.sortBy) out.sortBy = col(p.sortBy, 'SORT BY key', (t) => t !== 'BOOLEAN', 'an orderable type');
  if (p.triggerBy) {
    if (w.kind === 'rows') err(a, ErrorCodes.SQL_WINDOW_INVALID, p.triggerBy, `${ctx.where}: TRIGGER BY (event time) needs a RANGE window, not ROWS`);
    out.triggerBy = col(p.triggerBy, 'TRIGGER BY column', timeCol, 'TIMESTAMP, DATE or LONG (epoch ms)');
  }
  if (p.excludeNow && (w.kind === 'rows' || w.kind === 'range') && w.mode === 'BATCH') err(a, ErrorCodes.SQL_WINDOW_INVALID, w, `${ctx.where}: EXCLUDE NOW only applies to SLIDE windows`);
  return out;
}

function conjuncts(e: Expr): Expr[] {
  return e.kind === 'binary' && e.op === 'AND' ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e];
}

export function resolveFrom(a: Analysis, f: From, what: string): { from: RFrom; scope: ScopePart[] } | undefined {
  if (f.kind === 'stream') {
    const r = resolveStreamRef(a, f, what);
    if (!r) return undefined;
    if (r.rs.unidirection) err(a, ErrorCodes.SQL_JOIN_INVALID, f, `${what}: UNIDIRECTION only applies to a join input`);
    return { from: { kind: 'stream', input: r.rs }, scope: [{ ...r.part, offset: 0 }] };
  }
  if (f.kind === 'join') {
    const l = resolveStreamRef(a, f.left, what);
    const r = resolveStreamRef(a, f.right, what);
    if (!l || !r) return undefined;
    if (l.part.label.toLowerCase() === r.part.label.toLowerCase()) err(a, ErrorCodes.SQL_DUPLICATE, f.right, `${what}: both join inputs are called '${r.part.label}'; give one an alias`);
    const scope = [{ ...l.part, offset: 0 }, { ...r.part, offset: l.rs.columns.length }];
    const driver = l.rs.unidirection && r.rs.unidirection ? 'both' : l.rs.unidirection ? 'left' : r.rs.unidirection ? 'right' : 'both';
    if (l.rs.unidirection && r.rs.unidirection) err(a, ErrorCodes.SQL_JOIN_INVALID, f, `${what}: UNIDIRECTION may mark only one join input`);
    if (f.type === 'FULL' && (l.rs.unidirection || r.rs.unidirection)) err(a, ErrorCodes.SQL_JOIN_INVALID, f, `${what}: a FULL OUTER JOIN is driven by both inputs and takes no UNIDIRECTION`);
    for (const [side, rs, ref] of [['left', l.rs, f.left], ['right', r.rs, f.right]] as const) {
      const driven = driver === side;
      if (!rs.window && !driven) err(a, ErrorCodes.SQL_WINDOW_INVALID, ref, `${what}: join input ${rs.label} needs a window (e.g. ${rs.stream}[RANGE 10 SECONDS SLIDE]) unless it is the UNIDIRECTION side`);
      const w = rs.window;
      if (w && (w.kind === 'unbounded' || w.kind === 'today' || w.mode === 'BATCH')) {
        err(a, ErrorCodes.SQL_WINDOW_INVALID, ref, `${what}: join input ${rs.label} has a ${w.kind === 'unbounded' ? 'RANGE UNBOUNDED' : w.kind === 'today' ? 'RANGE TODAY' : 'BATCH'} window; joins support ROWS n SLIDE and RANGE … SLIDE windows`);
      }
      if (w?.partitionBy) err(a, ErrorCodes.SQL_WINDOW_INVALID, ref, `${what}: join input ${rs.label} has a PARTITION BY window; a join partitions by its ON keys`);
    }
    const from: RFrom & { kind: 'join' } = { kind: 'join', type: f.type, left: l.rs, right: r.rs, leftKeys: [], rightKeys: [], driver };
    const nLeft = l.rs.columns.length;
    const ctx = ctxFor(a, scope, `ON of ${what}`);
    if (f.type === 'CROSS') {
      if (f.on) err(a, ErrorCodes.SQL_JOIN_INVALID, f.on, `${what}: CROSS JOIN takes no ON condition`);
    } else if (!f.on) {
      err(a, ErrorCodes.SQL_JOIN_INVALID, f, `${what}: ${f.type} JOIN needs ON <left column> = <right column>`);
    } else {
      const rest: RExpr[] = [];
      for (const c of conjuncts(f.on)) {
        if (c.kind === 'binary' && c.op === '=') {
          const x = typeExpr(c.left, ctx);
          const y = typeExpr(c.right, ctx);
          const side = (r: RExpr) => {
            const cols: number[] = [];
            collectCols(r, cols);
            return cols.length === 0 ? 'none' : cols.every((i) => i < nLeft) ? 'left' : cols.every((i) => i >= nLeft) ? 'right' : 'mixed';
          };
          const sx = side(x), sy = side(y);
          if ((sx === 'left' && sy === 'right') || (sx === 'right' && sy === 'left')) {
            if (x.t !== y.t && !(assignable(x.t, y.t as SqlType) || assignable(y.t, x.t as SqlType))) err(a, ErrorCodes.SQL_TYPE_MISMATCH, c, `${what}: join keys '${printExpr(c)}' compare ${x.t} with ${y.t}`);
            const [lk, rk] = sx === 'left' ? [x, y] : [y, x];
            from.leftKeys.push(lk);
            from.rightKeys.push(shift(rk, -nLeft));
            continue;
          }
        }
        rest.push(boolExpr(a, c, ctx));
      }
      if (from.leftKeys.length === 0) err(a, ErrorCodes.SQL_JOIN_INVALID, f.on, `${what}: ON '${printExpr(f.on)}' has no equality between a ${l.part.label} column and a ${r.part.label} column`);
      if (rest.length > 0) from.residual = rest.reduce((p, q) => ({ k: 'op', t: 'BOOLEAN', op: 'and', args: [p, q] }));
    }
    return { from, scope };
  }
  if (f.kind === 'combine') {
    const parts: ScopePart[] = [];
    const inputs: RStream[] = [];
    let offset = 0;
    for (const s of f.streams) {
      const r = resolveStreamRef(a, s, what);
      if (!r) return undefined;
      if (r.rs.window) err(a, ErrorCodes.SQL_WINDOW_INVALID, s, `${what}: COMBINE input ${r.rs.label} has a window; COMBINE matches rows by key as they arrive and takes no windows`);
      if (r.rs.unidirection) err(a, ErrorCodes.SQL_JOIN_INVALID, s, `${what}: UNIDIRECTION only applies to a join input`);
      if (parts.some((p) => p.label.toLowerCase() === r.part.label.toLowerCase())) err(a, ErrorCodes.SQL_DUPLICATE, s, `${what}: two COMBINE inputs are called '${r.part.label}'; give one an alias`);
      parts.push({ ...r.part, offset });
      inputs.push(r.rs);
      offset += r.rs.columns.length;
    }
    const ctx = ctxFor(a, parts, `COMBINE of ${what}`);
    if (f.keys.length !== inputs.length) err(a, ErrorCodes.SQL_JOIN_INVALID, f, `${what}: COMBINE needs one key per input stream (${inputs.length}), got ${f.keys.length}`);
    const keys: RExpr[] = [];
    f.keys.forEach((k, i) => {
      const r = typeExpr(k, ctx);
      const cols: number[] = [];
      collectCols(r, cols);
      const p = parts[i];
      if (p && cols.some((c) => c < p.offset || c >= p.offset + p.columns.length)) err(a, ErrorCodes.SQL_JOIN_INVALID, k, `${what}: COMBINE key ${i + 1} '${printExpr(k)}' must use columns of ${p.label} only`);
      if (keys.length > 0 && r.t !== keys[0]!.t && r.t !== 'NULL') err(a, ErrorCodes.SQL_TYPE_MISMATCH, k, `${what}: COMBINE key '${printExpr(k)}' is ${r.t} but the first key is ${keys[0]!.t}`);
      keys.push(p ? shift(r, -p.offset) : r);
    });
    return { from: { kind: 'combine', inputs, keys }, scope: parts };
  }
  const r = resolveStreamRef(a, f.stream, what);
  if (!r) return undefined;
  const d = f.datasource;
  if (!a.datasources.has(d.name.toLowerCase())) {
    err(a, ErrorCodes.SQL_UNKNOWN_STREAM, d, `${what}: unknown data source '${d.name}' (define it with CREATE DATASOURCE ${d.name} SOURCE RDBDataSource PROPERTIES (…))`);
    return undefined;
  }
  const own = [{ ...r.part, offset: 0 }];
  const args = d.args.map((x) => { noAggregates(a, x, `QUERY of ${d.name}`); return typeExpr(x, ctxFor(a, own, `QUERY of ${d.name}`)); });
  const holes = (d.query.match(/\?/g) ?? []).length;
  if (holes !== args.length) err(a, ErrorCodes.SQL_FUNCTION_ARGUMENTS, d, `${what}: QUERY of ${d.name} has ${holes} '?' placeholder${holes === 1 ? '' : 's'} but ${args.length} argument${args.length === 1 ? '' : 's'}`);
  const schema = columnsOf(a, d.schema, `SCHEMA of ${d.name}`);
  const dsNames = [d.name.toLowerCase(), ...(d.alias !== undefined ? [d.alias.toLowerCase()] : [])];
  const scope = [...own, { names: dsNames, label: d.alias ?? d.name, columns: schema, offset: r.rs.columns.length }];
  return { from: { kind: 'lookup', input: r.rs, datasource: d.name, query: d.query, args, schema }, scope };
}

function collectCols(r: RExpr, out: number[]): void {
  if (r.k === 'col') out.push(r.i);
  else if (r.k === 'op' || r.k === 'fn' || r.k === 'udf') r.args.forEach((x) => collectCols(x, out));
  else if (r.k === 'cast' || r.k === 'prev') collectCols(r.arg, out);
  else if (r.k === 'case') {
    if (r.operand) collectCols(r.operand, out);
    r.whens.forEach((w) => { collectCols(w.when, out); collectCols(w.then, out); });
    if (r.else) collectCols(r.else, out);
  }
}

/** The same expression over a row whose columns start `by` later (or earlier). */
export function shift(r: RExpr, by: number): RExpr {
  if (by === 0) return r;
  switch (r.k) {
    case 'col': return { ...r, i: r.i + by };
    case 'lit': return r;
    case 'op': case 'fn': case 'udf': return { ...r, args: r.args.map((x) => shift(x, by)) };
    case 'cast': case 'prev': return { ...r, arg: shift(r.arg, by) };
    case 'case': {
      const out: RExpr = { ...r, whens: r.whens.map((w) => ({ when: shift(w.when, by), then: shift(w.then, by) })) };
      if (r.operand) out.operand = shift(r.operand, by);
      if (r.else) out.else = shift(r.else, by);
      return out;
    }
  }
}
