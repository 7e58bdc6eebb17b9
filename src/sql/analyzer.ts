import { ErrorCodes } from '../core/errors.js';
import { posOf, type ClassRef, type ColumnDef, type Expr, type From, type Pos, type Select, type SqlType, type Statement, type StreamRef, type Window } from './ast.js';
import { fail, findAggregates, keyOf, typeExpr, walk, type ExprCtx, type ScopePart, type Udf } from './analyze-expr.js';
import { checkValue, connectorNames, findConnector, propertyKey, type ConnectorRole, type ConnectorSpec } from './connectors.js';
import { SqlError } from './errors.js';
import { FUNCTIONS } from './functions.js';
import { printExpr, printStatement } from './printer.js';
import type { AggSpec, Column, RExpr } from './rexpr.js';
import { parseTimeZone } from './runtime/time.js';
import { assignable, type T } from './types.js';

/**
 * Semantic analysis of a whole StreamCQL script: the catalog of streams, functions, operators and
 * data sources built statement by statement, every query resolved and type-checked. An application is
 * valid only as a whole: `errors` non-empty means nothing of it may be submitted.
 */

export interface Connector {
  cls: string;
  name: string;
  props: Record<string, string>;
}

export interface StreamInfo {
  name: string;
  role: 'input' | 'output' | 'stream';
  columns: Column[];
  /** true when an INSERT INTO created it. */
  implicit: boolean;
  source?: Connector;
  sink?: Connector;
  serde?: Connector;
  parallel?: number;
  pos?: Pos;
}

export interface OperatorInfo {
  name: string;
  ref: string;
  input: Column[];
  output: Column[];
  props: Record<string, string>;
}

export interface RWindow {
  kind: Window['kind'];
  count?: number;
  ms?: number;
  mode?: 'SLIDE' | 'BATCH';
  today?: RExpr;
  partitionBy?: RExpr[];
  sortBy?: RExpr;
  triggerBy?: RExpr;
  excludeNow: boolean;
  sql: string;
}

export interface RStream {
  stream: string;
  label: string;
  columns: Column[];
  filter?: RExpr;
  window?: RWindow;
  unidirection: boolean;
}

export type RFrom =
  | { kind: 'stream'; input: RStream }
  | { kind: 'join'; type: string; left: RStream; right: RStream; leftKeys: RExpr[]; rightKeys: RExpr[]; residual?: RExpr; driver: 'both' | 'left' | 'right' }
  | { kind: 'combine'; inputs: RStream[]; keys: RExpr[] }
  | { kind: 'lookup'; input: RStream; datasource: string; query: string; args: RExpr[]; schema: Column[] };

export interface SelectQuery {
  kind: 'select';
  target: string;
  from: RFrom;
  /** Columns of the row after FROM (joins and combines concatenate their inputs). */
  inputColumns: Column[];
  where?: RExpr;
  aggregate?: { groupBy: RExpr[]; aggregates: AggSpec[]; /** Non-grouped columns without GROUP BY: the latest row's value. */ lasts: RExpr[] };
  /** Over the aggregate's row [group keys…, aggregates…, lasts…], or over the input row without aggregation. */
  having?: RExpr;
  orderBy?: { expr: RExpr; desc: boolean }[];
  limit?: number;
  distinct: boolean;
  project: { expr: RExpr; name: string }[];
  output: Column[];
  parallel?: number;
  sql: string;
  pos?: Pos;
}

export interface OperatorQuery {
  kind: 'operator';
  target: string;
  operator: string;
  source: string;
  distributeBy: string[];
  parallel?: number;
  sql: string;
  pos?: Pos;
}

export type Query = SelectQuery | OperatorQuery;

export interface Analysis {
  errors: SqlError[];
  warnings: SqlError[];
  streams: Map<string, StreamInfo>;
  queries: Query[];
  functions: Map<string, Udf>;
  operators: Map<string, OperatorInfo>;
  datasources: Map<string, { name: string; source: Connector }>;
  settings: Map<string, string>;
  /** Session time-zone offset (ms) from `SET 'monsoon.sql.timezone'`. */
  tz: number;
  application?: { name: string; force: boolean };
  /** Statements that act on running applications or the session (SHOW, DROP APPLICATION, GET, …). */
  commands: Statement[];
}

export const TIMEZONE_KEY = 'monsoon.sql.timezone';
const APP_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function analyze(statements: Statement[]): Analysis {
  const a: Analysis = {
    errors: [], warnings: [], streams: new Map(), queries: [], functions: new Map(), operators: new Map(),
    datasources: new Map(), settings: new Map(), tz: 0, commands: [],
  };
  for (const s of statements) {
    try {
      statement(a, s);
    } catch (e) {
      if (e instanceof SqlError) a.errors.push(e);
      else throw e;
    }
  }
  return a;
}

function err(a: Analysis, code: Parameters<typeof fail>[1], node: object | undefined, message: string): void {
  fail(a, code, node, message);
}

function columnsOf(a: Analysis, defs: ColumnDef[], what: string): Column[] {
  const seen = new Set<string>();
  const out: Column[] = [];
  for (const c of defs) {
    if (seen.has(c.name.toLowerCase())) err(a, ErrorCodes.SQL_DUPLICATE, c, `${what}: column '${c.name}' is declared twice`);
    seen.add(c.name.toLowerCase());
    out.push({ name: c.name, type: c.type });
  }
  return out;
}

function connector(a: Analysis, role: ConnectorRole, ref: ClassRef, node: object, what: string): Connector | undefined {
  const spec: ConnectorSpec | undefined = findConnector(role, ref.cls);
  if (!spec) {
    err(a, ErrorCodes.SQL_UNKNOWN_CLASS, node, `${what}: unknown ${role.toUpperCase()} class '${ref.cls}' (known: ${connectorNames(role).join(', ')})`);
    return undefined;
  }
  const props: Record<string, string> = {};
  for (const [k, v] of ref.props) {
    const key = propertyKey(spec, k) ?? k.toLowerCase();
    const p = spec.props[key];
    if (!p) {
      err(a, ErrorCodes.SQL_BAD_PROPERTY, node, `${what}: ${spec.name} has no property '${k}' (properties: ${Object.keys(spec.props).join(', ') || 'none'})`);
      continue;
    }
    if (key in props) err(a, ErrorCodes.SQL_BAD_PROPERTY, node, `${what}: property '${k}' is given twice`);
    if (p.ignored) {
      a.warnings.push(new SqlError(ErrorCodes.SQL_BAD_PROPERTY, `${what}: property '${k}' of ${spec.name} is ignored: ${p.ignored}`, posOf(node)));
      continue;
    }
    const bad = checkValue(p, v);
    if (bad) err(a, ErrorCodes.SQL_BAD_PROPERTY, node, `${what}: property '${k}' of ${spec.name} ${bad}`);
    props[key] = v;
  }
  for (const [k, p] of Object.entries(spec.props)) {
    if (p.required && !(k in props)) err(a, ErrorCodes.SQL_BAD_PROPERTY, node, `${what}: ${spec.name} needs property '${k}' (${p.doc})`);
  }
  return { cls: ref.cls, name: spec.name, props };
}

function moduleRef(a: Analysis, ref: string, node: object, what: string): void {
  if (!/^[^#\s]+#[A-Za-z_$][\w$]*$/.test(ref)) err(a, ErrorCodes.SQL_BAD_PROPERTY, node, `${what}: '${ref}' is not 'module#export' (a TypeScript/JavaScript module path or package, '#', the exported name)`);
}

const propsRecord = (p: [string, string][]) => Object.fromEntries(p.map(([k, v]) => [k.toLowerCase(), v]));

function statement(a: Analysis, s: Statement): void {
  switch (s.kind) {
    case 'createStream': {
      const key = s.name.toLowerCase();
      const what = `stream ${s.name}`;
      if (a.streams.has(key)) err(a, ErrorCodes.SQL_DUPLICATE, s, `${what} is already defined`);
      const info: StreamInfo = { name: s.name, role: s.role, columns: columnsOf(a, s.columns, what), implicit: false };
      const pos = posOf(s);
      if (pos) info.pos = pos;
      if (s.serde) { const c = connector(a, 'serde', s.serde, s, what); if (c) info.serde = c; }
      if (s.connector) {
        const c = connector(a, s.role === 'input' ? 'source' : 'sink', s.connector, s, what);
        if (c && s.role === 'input') info.source = c;
        if (c && s.role === 'output') info.sink = c;
        const keyCol = c?.props['key'];
        if (keyCol !== undefined && !info.columns.some((x) => x.name.toLowerCase() === keyCol.toLowerCase())) {
          err(a, ErrorCodes.SQL_BAD_PROPERTY, s, `${what}: property 'key' names '${keyCol}', which is not a column of ${s.name}`);
        }
      }
      if (s.parallel !== undefined) {
        if (s.parallel < 1) err(a, ErrorCodes.SQL_BAD_PROPERTY, s, `${what}: PARALLEL must be at least 1`);
        info.parallel = s.parallel;
      }
      if (!a.streams.has(key)) a.streams.set(key, info);
      return;
    }
    case 'insert':
      selectQuery(a, s.target, s.select, s.select.from!, s);
      return;
    case 'multiInsert':
      for (const i of s.inserts) selectQuery(a, i.target, i.select, s.from, i, s);
      return;
    case 'insertOperator':
      operatorQuery(a, s);
      return;
    case 'createOperator': {
      const what = `operator ${s.name}`;
      if (a.operators.has(s.name.toLowerCase())) err(a, ErrorCodes.SQL_DUPLICATE, s, `${what} is already defined`);
      moduleRef(a, s.ref, s, what);
      a.operators.set(s.name.toLowerCase(), { name: s.name, ref: s.ref, input: columnsOf(a, s.input, `${what} INPUT`), output: columnsOf(a, s.output, `${what} OUTPUT`), props: propsRecord(s.props) });
      return;
    }
    case 'createDatasource': {
      const what = `data source ${s.name}`;
      if (a.datasources.has(s.name.toLowerCase())) err(a, ErrorCodes.SQL_DUPLICATE, s, `${what} is already defined`);
      const c = connector(a, 'datasource', s.source, s, what);
      if (c) a.datasources.set(s.name.toLowerCase(), { name: s.name, source: c });
      return;
    }
    case 'createFunction': {
      const key = s.name.toLowerCase();
      const what = `function ${s.name}`;
      if (FUNCTIONS[key]) err(a, ErrorCodes.SQL_DUPLICATE, s, `${what} is built in; choose another name`);
      else if (a.functions.has(key)) err(a, ErrorCodes.SQL_DUPLICATE, s, `${what} is already defined`);
      moduleRef(a, s.ref, s, what);
      a.functions.set(key, { name: key, ref: s.ref, returns: s.returns ?? 'STRING' });
      return;
    }
    case 'dropFunction':
      if (!a.functions.delete(s.name.toLowerCase()) && !s.ifExists) err(a, ErrorCodes.SQL_UNKNOWN_FUNCTION, s, `DROP FUNCTION: no function ${s.name} was created`);
      return;
    case 'set':
      if (s.key.toLowerCase() === TIMEZONE_KEY) {
        try { a.tz = parseTimeZone(s.value); } catch (e) { err(a, ErrorCodes.SQL_BAD_PROPERTY, s, `SET '${s.key}': ${(e as Error).message}`); }
      }
      a.settings.set(s.key, s.value);
      return;
    case 'submitApplication':
    case 'explainApplication':
      if (!APP_NAME.test(s.name)) err(a, ErrorCodes.SQL_BAD_PROPERTY, s, `application name '${s.name}' must be letters, digits, _ or -`);
      a.application = { name: s.name, force: s.kind === 'submitApplication' && s.force };
      if (s.kind === 'explainApplication') a.commands.push(s);
      return;
    case 'addResource':
      err(a, ErrorCodes.SQL_UNSUPPORTED, s, s.resource === 'JAR'
        ? `ADD JAR '${s.path}' is not supported: Monsoon runs no Java; write the function or operator in TypeScript/JavaScript and register it with CREATE FUNCTION f AS 'module#export' (or CREATE OPERATOR … AS 'module#export')`
        : `ADD FILE '${s.path}' is not supported: give files to sources and sinks by path in PROPERTIES, or read them from the module a CREATE FUNCTION names`);
      return;
    default:
      a.commands.push(s);
  }
}

// ---------------------------------------------------------------- FROM

function streamFor(a: Analysis, name: string, node: object, what: string): StreamInfo | undefined {
  const st = a.streams.get(name.toLowerCase());
  if (!st) {
    err(a, ErrorCodes.SQL_UNKNOWN_STREAM, node, `${what}: unknown stream '${name}' (define it with CREATE INPUT STREAM or an earlier INSERT INTO)`);
    return undefined;
  }
  if (st.role === 'output') err(a, ErrorCodes.SQL_STREAM_ROLE, node, `${what}: '${st.name}' is an OUTPUT stream and cannot be read; insert into an intermediate stream (CREATE STREAM) to reuse rows`);
  return st;
}

function ctxFor(a: Analysis, scope: ScopePart[], where: string): ExprCtx {
  return { scope, errors: a.errors, udfs: a.functions, where };
}

function noAggregates(a: Analysis, e: Expr | undefined, where: string): void {
  if (!e) return;
  for (const agg of findAggregates(e)) err(a, ErrorCodes.SQL_AGGREGATE_MISUSE, agg, `${where}: aggregate '${printExpr(agg)}' is not allowed here`);
}

function boolExpr(a: Analysis, e: Expr, ctx: ExprCtx): RExpr {
  noAggregates(a, e, ctx.where);
  const r = typeExpr(e, ctx);
  if (r.t !== 'BOOLEAN' && r.t !== 'NULL') err(a, ErrorCodes.SQL_TYPE_MISMATCH, e, `${ctx.where}: condition '${printExpr(e)}' must be BOOLEAN, got ${r.t}`);
  return r;
}

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

function resolveFrom(a: Analysis, f: From, what: string): { from: RFrom; scope: ScopePart[] } | undefined {
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
    if (l.part.names.some((n) => r.part.names.includes(n))) err(a, ErrorCodes.SQL_DUPLICATE, f.right, `${what}: both join inputs are called '${r.part.label}'; give one an alias`);
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
      if (parts.some((p) => p.names.some((n) => r.part.names.includes(n)))) err(a, ErrorCodes.SQL_DUPLICATE, s, `${what}: two COMBINE inputs are called '${r.part.label}'; give one an alias`);
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

// ---------------------------------------------------------------- SELECT

function selectQuery(a: Analysis, target: string, sel: Select, from: From, node: object, parent?: Statement): void {
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
    const havingRaw = sel.having ? typeExpr(sel.having, { ...post, where: `HAVING of ${what}` }) : undefined;
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

function operatorQuery(a: Analysis, s: Statement & { kind: 'insertOperator' }): void {
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
