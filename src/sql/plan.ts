import type { Analysis, RFrom, RStream, RWindow, SelectQuery, StreamInfo } from './analyzer.js';
import { duration } from './printer.js';
import type { AggSpec, Column, RExpr } from './rexpr.js';

/**
 * The logical plan: a JSON-serialisable operator graph a later planner maps onto the Topology IR.
 * Every named stream is a node; each query is a chain of operators from the streams it reads to the
 * stream it writes. Each input edge says how rows are distributed across the consumer's tasks:
 * `local` (same task, chained), `shuffle` (any task), `fields` (by key, the keys given as SQL text and as
 * typed expressions over the producer's row) or `global` (one task).
 */

export type Grouping =
  | { kind: 'local' }
  | { kind: 'shuffle' }
  | { kind: 'global' }
  | { kind: 'fields'; keys: string[]; exprs: RExpr[] };

export interface PlanEdge {
  from: string;
  grouping: Grouping;
}

export type PlanOp =
  | { op: 'source'; stream: string; connector: { name: string; props: Record<string, string> }; serde: { name: string; props: Record<string, string> } }
  | { op: 'stream'; stream: string; role: 'input' | 'output' | 'stream' }
  | { op: 'sink'; stream: string; connector: { name: string; props: Record<string, string> }; serde: { name: string; props: Record<string, string> } }
  | { op: 'filter'; predicate: RExpr; sql: string }
  | { op: 'window'; window: RWindow; sql: string }
  | { op: 'aggregate'; groupBy: RExpr[]; aggregates: AggSpec[]; lasts: RExpr[]; sql: string }
  | { op: 'join'; type: string; leftKeys: RExpr[]; rightKeys: RExpr[]; residual?: RExpr; driver: 'both' | 'left' | 'right'; sql: string }
  | { op: 'combine'; keys: RExpr[]; sql: string }
  | { op: 'lookup'; datasource: string; connector: { name: string; props: Record<string, string> }; lookupQuery: string; args: RExpr[]; sql: string }
  | { op: 'orderLimit'; orderBy: { expr: RExpr; desc: boolean }[]; limit?: number; sql: string }
  | { op: 'project'; exprs: RExpr[]; names: string[]; distinct: boolean; sql: string }
  | { op: 'operator'; operator: string; ref: string; props: Record<string, string> };

export type PlanNode = PlanOp & {
  id: string;
  inputs: PlanEdge[];
  parallelism: number;
  /** Columns of the rows this node emits. */
  schema: Column[];
  /** The query (1-based, in script order) the node belongs to; absent for stream, source and sink nodes. */
  query?: number;
};

export interface LogicalPlan {
  version: 1;
  application: string | null;
  /** Session time-zone offset in minutes. */
  timezoneMinutes: number;
  settings: Record<string, string>;
  functions: { name: string; ref: string; returns: string }[];
  queries: { index: number; sql: string; line?: number }[];
  nodes: PlanNode[];
  warnings: string[];
}

const DEFAULT_SERDE = { name: 'SimpleSerDe', props: {} };

/** SQL text of a typed expression, naming columns from the row it reads. */
export function rsql(r: RExpr, cols: Column[]): string {
  const s = (x: RExpr) => rsql(x, cols);
  const p = (x: RExpr) => (x.k === 'op' ? `(${s(x)})` : s(x));
  switch (r.k) {
    case 'lit': return r.v === null ? 'NULL' : typeof r.v === 'string' ? `'${r.v.replace(/'/g, "''")}'` : String(r.v);
    case 'col': return cols[r.i]?.name ?? r.name;
    case 'fn': case 'udf': return `${r.name}(${r.args.map(s).join(', ')})`;
    case 'cast': return `CAST(${s(r.arg)} AS ${r.t})`;
    case 'prev': return `PREVIOUS(${r.n}, ${s(r.arg)})`;
    case 'case': return `CASE${r.operand ? ' ' + s(r.operand) : ''}${r.whens.map((w) => ` WHEN ${s(w.when)} THEN ${s(w.then)}`).join('')}${r.else ? ` ELSE ${s(r.else)}` : ''} END`;
    case 'op': {
      const [a, b, c] = r.args as [RExpr, RExpr, RExpr];
      switch (r.op) {
        case 'not': return `NOT ${p(a)}`;
        case 'neg': return `-${p(a)}`;
        case 'bitnot': return `~${p(a)}`;
        case 'isnull': return `${p(a)} IS NULL`;
        case 'isnotnull': return `${p(a)} IS NOT NULL`;
        case 'between': return `${p(a)} BETWEEN ${p(b)} AND ${p(c)}`;
        case 'in': return `${p(a)} IN (${r.args.slice(1).map(s).join(', ')})`;
        case 'like': return `${p(a)} LIKE ${p(b)}`;
        case 'rlike': return `${p(a)} RLIKE ${p(b)}`;
        case 'and': return `${p(a)} AND ${p(b)}`;
        case 'or': return `${p(a)} OR ${p(b)}`;
        case 'div': return `${p(a)} DIV ${p(b)}`;
        default: return `${p(a)} ${r.op} ${p(b)}`;
      }
    }
  }
}

export function windowSql(w: RWindow, cols: Column[]): string {
  let s = w.kind === 'rows' ? `ROWS ${w.count} ${w.mode}` : w.kind === 'range' ? `RANGE ${duration(w.ms!)} ${w.mode}` : w.kind === 'unbounded' ? 'RANGE UNBOUNDED' : `RANGE TODAY ${rsql(w.today!, cols)}`;
  if (w.partitionBy) s += ` PARTITION BY ${w.partitionBy.map((e) => rsql(e, cols)).join(', ')}`;
  if (w.sortBy) s += ` SORT BY ${rsql(w.sortBy, cols)}`;
  if (w.triggerBy) s += ` TRIGGER BY ${rsql(w.triggerBy, cols)}`;
  if (w.excludeNow) s += ' EXCLUDE NOW';
  return s;
}

const fields = (exprs: RExpr[], cols: Column[]): Grouping => ({ kind: 'fields', keys: exprs.map((e) => rsql(e, cols)), exprs });

export function buildPlan(a: Analysis): LogicalPlan {
  const nodes: PlanNode[] = [];
  const warnings = a.warnings.map((w) => w.message);
  const add = (n: PlanNode) => { nodes.push(n); return n.id; };
  const streamId = (name: string) => `stream:${a.streams.get(name.toLowerCase())!.name}`;

  for (const st of a.streams.values()) addStream(st);
  function addStream(st: StreamInfo): void {
    const par = st.parallel ?? 1;
    if (st.role === 'input' && st.source) {
      add({ id: `source:${st.name}`, op: 'source', stream: st.name, connector: { name: st.source.name, props: st.source.props }, serde: st.serde ? { name: st.serde.name, props: st.serde.props } : DEFAULT_SERDE, inputs: [], parallelism: par, schema: st.columns });
    }
    add({ id: `stream:${st.name}`, op: 'stream', stream: st.name, role: st.role, inputs: st.role === 'input' ? [{ from: `source:${st.name}`, grouping: { kind: 'local' } }] : [], parallelism: par, schema: st.columns });
    if (st.role === 'output' && st.sink) {
      add({ id: `sink:${st.name}`, op: 'sink', stream: st.name, connector: { name: st.sink.name, props: st.sink.props }, serde: st.serde ? { name: st.serde.name, props: st.serde.props } : DEFAULT_SERDE, inputs: [{ from: `stream:${st.name}`, grouping: { kind: 'local' } }], parallelism: par, schema: st.columns });
    }
  }
  const streamNode = (name: string) => nodes.find((n) => n.id === streamId(name))!;

  a.queries.forEach((q, qi) => {
    const k = qi + 1;
    const pre = `q${k}`;
    const par = q.parallel ?? 1;
    if (q.kind === 'operator') {
      const op = a.operators.get(q.operator.toLowerCase())!;
      const src = a.streams.get(q.source.toLowerCase())!;
      const keys = q.distributeBy.map((c) => { const i = src.columns.findIndex((x) => x.name.toLowerCase() === c.toLowerCase()); return { k: 'col' as const, t: src.columns[i]!.type, i, name: src.columns[i]!.name }; });
      const id = add({ id: `${pre}.operator`, op: 'operator', operator: op.name, ref: op.ref, props: op.props, inputs: [{ from: streamId(q.source), grouping: keys.length > 0 ? fields(keys, src.columns) : { kind: 'shuffle' } }], parallelism: par, schema: op.output, query: k });
      streamNode(q.target).inputs.push({ from: id, grouping: { kind: 'local' } });
      return;
    }
    planSelect(q, k, pre, par);
  });

  function chainStream(rs: RStream, pre: string, k: number, par: number, into: Grouping): { id: string; grouping: Grouping } {
    // The first hop from a stream node is where rows are distributed; later hops stay in the task.
    let last = streamId(rs.stream);
    let grouping: Grouping = rs.window?.partitionBy ? fields(rs.window.partitionBy, rs.columns) : into;
    if (rs.filter) {
      last = add({ id: `${pre}.filter`, op: 'filter', predicate: rs.filter, sql: rsql(rs.filter, rs.columns), inputs: [{ from: last, grouping }], parallelism: par, schema: rs.columns, query: k });
      grouping = { kind: 'local' };
    }
    if (rs.window) {
      let wpar = par;
      if (grouping.kind === 'global' || (grouping.kind !== 'fields' && rs.window.kind === 'rows' && par > 1)) {
        if (par > 1) warnings.push(`query ${k}: the ${windowSql(rs.window, rs.columns)} window of ${rs.label} has no PARTITION BY or grouping key, so it runs in one task`);
        wpar = 1;
        if (grouping.kind === 'local' && par > 1) grouping = { kind: 'global' };
      }
      last = add({ id: `${pre}.window`, op: 'window', window: rs.window, sql: windowSql(rs.window, rs.columns), inputs: [{ from: last, grouping }], parallelism: wpar, schema: rs.columns, query: k });
      grouping = { kind: 'local' };
    }
    return { id: last, grouping };
  }

  function planSelect(q: SelectQuery, k: number, pre: string, par: number): void {
    const cols = q.inputColumns;
    const agg = q.aggregate;
    // Rows of one group must meet in one task: distribute by the group keys as early as possible.
    const groupInto: Grouping = agg && agg.groupBy.length > 0 ? fields(agg.groupBy, cols) : agg ? { kind: 'global' } : { kind: 'shuffle' };
    let last: string;
    let grouping: Grouping;
    const f: RFrom = q.from;
    if (f.kind === 'stream') {
      ({ id: last, grouping } = chainStream(f.input, pre, k, agg && agg.groupBy.length === 0 ? 1 : par, groupInto));
    } else if (f.kind === 'join') {
      const l = chainStream(f.left, `${pre}.left`, k, par, fields(f.leftKeys, f.left.columns));
      const r = chainStream(f.right, `${pre}.right`, k, par, fields(f.rightKeys, f.right.columns));
      last = add({
        id: `${pre}.join`, op: 'join', type: f.type, leftKeys: f.leftKeys, rightKeys: f.rightKeys, driver: f.driver,
        ...(f.residual ? { residual: f.residual } : {}),
        sql: `${f.type} JOIN ON ${f.leftKeys.map((x, i) => `${f.left.label}.${rsql(x, f.left.columns)} = ${f.right.label}.${rsql(f.rightKeys[i]!, f.right.columns)}`).join(' AND ')}${f.residual ? ` AND ${rsql(f.residual, cols)}` : ''}${f.driver !== 'both' ? ` (driven by ${f.driver === 'left' ? f.left.label : f.right.label})` : ''}`,
        inputs: [
          { from: l.id, grouping: l.grouping },
          { from: r.id, grouping: r.grouping },
        ],
        parallelism: par, schema: cols, query: k,
      });
      grouping = agg ? groupInto : { kind: 'local' };
    } else if (f.kind === 'combine') {
      const inputs = f.inputs.map((rs, i) => {
        const c = chainStream(rs, `${pre}.in${i + 1}`, k, par, fields([f.keys[i]!], rs.columns));
        return { from: c.id, grouping: c.grouping };
      });
      last = add({ id: `${pre}.combine`, op: 'combine', keys: f.keys, sql: `COMBINE (${f.inputs.map((rs, i) => `${rs.label}.${rsql(f.keys[i]!, rs.columns)}`).join(', ')})`, inputs, parallelism: par, schema: cols, query: k });
      grouping = agg ? groupInto : { kind: 'local' };
    } else {
      const c = chainStream(f.input, pre, k, par, { kind: 'shuffle' });
      const ds = a.datasources.get(f.datasource.toLowerCase())!;
      last = add({ id: `${pre}.lookup`, op: 'lookup', datasource: ds.name, connector: { name: ds.source.name, props: ds.source.props }, lookupQuery: f.query, args: f.args, sql: `${ds.source.name} ${ds.name}: ${f.query}`, inputs: [{ from: c.id, grouping: c.grouping }], parallelism: par, schema: cols, query: k });
      grouping = agg ? groupInto : { kind: 'local' };
    }
    const step = (n: PlanOp & { id: string; schema: Column[]; parallelism?: number }) => {
      const id = add({ ...n, inputs: [{ from: last, grouping }], parallelism: n.parallelism ?? par, query: k } as PlanNode);
      last = id;
      grouping = { kind: 'local' };
    };
    if (q.where) step({ id: `${pre}.where`, op: 'filter', predicate: q.where, sql: rsql(q.where, cols), schema: cols });
    let rowCols = cols;
    if (agg) {
      const aggCols: Column[] = [
        ...agg.groupBy.map((g) => ({ name: rsql(g, cols), type: g.t === 'NULL' ? 'STRING' as const : g.t })),
        ...agg.aggregates.map((x) => ({ name: x.sql, type: x.t })),
        ...agg.lasts.map((l) => ({ name: rsql(l, cols), type: l.t === 'NULL' ? 'STRING' as const : l.t })),
      ];
      const sql = `${agg.groupBy.length > 0 ? `GROUP BY ${agg.groupBy.map((g) => rsql(g, cols)).join(', ')}: ` : ''}${agg.aggregates.map((x) => x.sql).join(', ')}`;
      step({ id: `${pre}.aggregate`, op: 'aggregate', groupBy: agg.groupBy, aggregates: agg.aggregates, lasts: agg.lasts, sql, schema: aggCols, parallelism: agg.groupBy.length > 0 ? par : 1 });
      rowCols = aggCols;
      if (q.having) step({ id: `${pre}.having`, op: 'filter', predicate: q.having, sql: rsql(q.having, rowCols), schema: rowCols, parallelism: agg.groupBy.length > 0 ? par : 1 });
    }
    if (q.orderBy || q.limit !== undefined) {
      const sorted = nodes.find((n) => n.id === last)!;
      // Sorting and limiting a window's output is global: gather it in one task.
      if (sorted.parallelism > 1) grouping = { kind: 'global' };
      const sql = `${q.orderBy ? `ORDER BY ${q.orderBy.map((o) => `${rsql(o.expr, rowCols)} ${o.desc ? 'DESC' : 'ASC'}`).join(', ')}` : ''}${q.limit !== undefined ? ` LIMIT ${q.limit}` : ''}`.trim();
      step({ id: `${pre}.orderLimit`, op: 'orderLimit', orderBy: q.orderBy ?? [], ...(q.limit !== undefined ? { limit: q.limit } : {}), sql, schema: rowCols, parallelism: 1 });
    }
    const lastNode = nodes.find((n) => n.id === last)!;
    step({
      id: `${pre}.project`, op: 'project', exprs: q.project.map((p) => p.expr), names: q.project.map((p) => p.name), distinct: q.distinct,
      sql: `${q.distinct ? 'DISTINCT ' : ''}${q.project.map((p) => `${rsql(p.expr, rowCols)}${rsql(p.expr, rowCols) === p.name ? '' : ` AS ${p.name}`}`).join(', ')}`,
      schema: q.output, parallelism: q.distinct ? 1 : lastNode.parallelism,
    });
    if (q.distinct && lastNode.parallelism > 1) nodes[nodes.length - 1]!.inputs[0]!.grouping = { kind: 'global' };
    streamNode(q.target).inputs.push({ from: last, grouping: { kind: 'local' } });
  }

  const plan: LogicalPlan = {
    version: 1,
    application: a.application?.name ?? null,
    timezoneMinutes: a.tz / 60_000,
    settings: Object.fromEntries(a.settings),
    functions: [...a.functions.values()].map((f) => ({ name: f.name, ref: f.ref, returns: f.returns })),
    queries: a.queries.map((q, i) => ({ index: i + 1, sql: q.sql, ...(q.pos ? { line: q.pos.line } : {}) })),
    nodes,
    warnings,
  };
  return plan;
}

function groupingText(g: Grouping): string {
  return g.kind === 'fields' ? `fields(${g.keys.join(', ')})` : g.kind;
}

function props(p: Record<string, string>): string {
  const e = Object.entries(p);
  return e.length === 0 ? '' : ` {${e.map(([k, v]) => `${k}=${JSON.stringify(/password/i.test(k) ? '***' : v)}`).join(', ')}}`;
}

/** The plan as text: streams, then each query's operators with parallelism and input distribution. */
export function explainText(plan: LogicalPlan): string {
  const out: string[] = [];
  const tz = plan.timezoneMinutes;
  const tzText = tz === 0 ? 'UTC' : `UTC${tz > 0 ? '+' : '-'}${String(Math.floor(Math.abs(tz) / 60)).padStart(2, '0')}:${String(Math.abs(tz) % 60).padStart(2, '0')}`;
  out.push(`application ${plan.application ?? '(unnamed)'} — time zone ${tzText}`);
  for (const f of plan.functions) out.push(`function ${f.name} = ${f.ref} returns ${f.returns}`);
  out.push('streams:');
  const cols = (c: Column[]) => c.map((x) => `${x.name} ${x.type}`).join(', ');
  for (const n of plan.nodes) {
    if (n.op !== 'stream') continue;
    const src = plan.nodes.find((x) => x.id === `source:${n.stream}`);
    const sink = plan.nodes.find((x) => x.id === `sink:${n.stream}`);
    let line = `  ${n.role.padEnd(6)} ${n.stream} (${cols(n.schema)})`;
    if (src?.op === 'source') line += ` ← ${src.connector.name}${props(src.connector.props)} serde ${src.serde.name}${props(src.serde.props)}`;
    if (sink?.op === 'sink') line += ` → ${sink.connector.name}${props(sink.connector.props)} serde ${sink.serde.name}${props(sink.serde.props)}`;
    if (n.parallelism > 1) line += ` parallel ${n.parallelism}`;
    out.push(line);
  }
  for (const q of plan.queries) {
    out.push(`query ${q.index}${q.line !== undefined ? ` (line ${q.line})` : ''}: ${q.sql.replace(/\s*\n\s*/g, ' ')}`);
    for (const n of plan.nodes.filter((x) => x.query === q.index)) {
      const detail = n.op === 'operator' ? `${n.operator} = ${n.ref}` : 'sql' in n ? n.sql : '';
      const ins = n.inputs.map((e) => `${e.from} ${groupingText(e.grouping)}`).join('; ');
      out.push(`  ${n.id.padEnd(16)} ${n.op.padEnd(10)} ×${n.parallelism}  ${detail}  ← ${ins}`);
    }
    const into = plan.nodes.find((x) => x.op === 'stream' && x.inputs.some((e) => plan.nodes.find((y) => y.id === e.from)?.query === q.index));
    if (into) out.push(`  → ${into.id}`);
  }
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  return out.join('\n') + '\n';
}
