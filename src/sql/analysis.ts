import { ErrorCodes } from '../core/errors.js';
import type { ColumnDef, Expr, Pos, Statement, Window } from './ast.js';
import { fail, findAggregates, typeExpr, type ExprCtx, type ScopePart, type Udf } from './analyze-expr.js';
import type { SqlError } from './errors.js';
import { printExpr } from './printer.js';
import type { AggSpec, Column, RExpr } from './rexpr.js';

/** What analysis produces (the catalog and the typed queries), and the helpers its parts share. */

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

export function err(a: Analysis, code: Parameters<typeof fail>[1], node: object | undefined, message: string): void {
  fail(a, code, node, message);
}

export function columnsOf(a: Analysis, defs: ColumnDef[], what: string): Column[] {
  const seen = new Set<string>();
  const out: Column[] = [];
  for (const c of defs) {
    if (seen.has(c.name.toLowerCase())) err(a, ErrorCodes.SQL_DUPLICATE, c, `${what}: column '${c.name}' is declared twice`);
    seen.add(c.name.toLowerCase());
    out.push({ name: c.name, type: c.type });
  }
  return out;
}

export function streamFor(a: Analysis, name: string, node: object, what: string): StreamInfo | undefined {
  const st = a.streams.get(name.toLowerCase());
  if (!st) {
    err(a, ErrorCodes.SQL_UNKNOWN_STREAM, node, `${what}: unknown stream '${name}' (define it with CREATE INPUT STREAM or an earlier INSERT INTO)`);
    return undefined;
  }
  if (st.role === 'output') err(a, ErrorCodes.SQL_STREAM_ROLE, node, `${what}: '${st.name}' is an OUTPUT stream and cannot be read; insert into an intermediate stream (CREATE STREAM) to reuse rows`);
  return st;
}

export function ctxFor(a: Analysis, scope: ScopePart[], where: string): ExprCtx {
  return { scope, errors: a.errors, udfs: a.functions, where };
}

export function noAggregates(a: Analysis, e: Expr | undefined, where: string): void {
  if (!e) return;
  for (const agg of findAggregates(e)) err(a, ErrorCodes.SQL_AGGREGATE_MISUSE, agg, `${where}: aggregate '${printExpr(agg)}' is not allowed here`);
}

export function boolExpr(a: Analysis, e: Expr, ctx: ExprCtx): RExpr {
  noAggregates(a, e, ctx.where);
  const r = typeExpr(e, ctx);
  if (r.t !== 'BOOLEAN' && r.t !== 'NULL') err(a, ErrorCodes.SQL_TYPE_MISMATCH, e, `${ctx.where}: condition '${printExpr(e)}' must be BOOLEAN, got ${r.t}`);
  return r;
}
