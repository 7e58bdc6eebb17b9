import type { ClassRef, ColumnDef, DataSourceRef, Expr, From, Properties, Select, Statement, StreamRef, Window } from './ast.js';

/**
 * AST → canonical StreamCQL text: upper-case keywords, single-quoted strings, every nested operator
 * parenthesised, windows spelled in their smallest units. parse(print(ast)) equals ast.
 */

const WORD = /^[A-Za-z_][A-Za-z0-9_$]*$/;

export function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t').replace(/\0/g, '\\0')}'`;
}

function literal(e: Expr & { kind: 'literal' }): string {
  if (e.value === null) return 'NULL';
  if (typeof e.value === 'boolean') return e.value ? 'TRUE' : 'FALSE';
  if (typeof e.value === 'string') return quote(e.value);
  const n = String(e.value);
  switch (e.type) {
    case 'INT': return n;
    case 'LONG': return `${n}L`;
    case 'FLOAT': return `${n}F`;
    case 'DECIMAL': return `${n}BD`;
    default: return `${n}D`;
  }
}

const atomic = (e: Expr) => e.kind === 'literal' || e.kind === 'column' || e.kind === 'star' || e.kind === 'call' || e.kind === 'cast' || e.kind === 'previous' || e.kind === 'case';
/** An operand: parenthesised unless atomic (a negative literal also gets parentheses, so `a - -1` stays readable). */
function operand(e: Expr): string {
  const s = printExpr(e);
  return atomic(e) && !(e.kind === 'literal' && typeof e.value === 'number' && e.value < 0) ? s : `(${s})`;
}

export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'literal': return literal(e);
    case 'column': return e.stream !== undefined ? `${e.stream}.${e.name}` : e.name;
    case 'star': return e.stream !== undefined ? `${e.stream}.*` : '*';
    case 'unary': return e.op === 'NOT' ? `NOT ${operand(e.arg)}` : `${e.op}${operand(e.arg)}`;
    case 'binary': return `${operand(e.left)} ${e.op} ${operand(e.right)}`;
    case 'isNull': return `${operand(e.arg)} IS ${e.not ? 'NOT ' : ''}NULL`;
    case 'like': return `${operand(e.arg)} ${e.not ? 'NOT ' : ''}${e.op} ${operand(e.pattern)}`;
    case 'between': return `${operand(e.arg)} ${e.not ? 'NOT ' : ''}BETWEEN ${operand(e.low)} AND ${operand(e.high)}`;
    case 'in': return `${operand(e.arg)} ${e.not ? 'NOT ' : ''}IN (${e.list.map(printExpr).join(', ')})`;
    case 'case': {
      const parts = ['CASE'];
      if (e.operand) parts.push(printExpr(e.operand));
      for (const w of e.whens) parts.push(`WHEN ${printExpr(w.when)} THEN ${printExpr(w.then)}`);
      if (e.else) parts.push(`ELSE ${printExpr(e.else)}`);
      parts.push('END');
      return parts.join(' ');
    }
    case 'cast': return `CAST(${printExpr(e.arg)} AS ${e.type})`;
    case 'previous': return `PREVIOUS(${e.n}, ${printExpr(e.arg)})`;
    case 'call': return `${e.name}(${e.distinct ? 'DISTINCT ' : ''}${e.args.map(printExpr).join(', ')})`;
  }
}

export function printWindow(w: Window): string {
  let s: string;
  if (w.kind === 'rows') s = `ROWS ${w.count} ${w.mode}`;
  else if (w.kind === 'unbounded') s = 'RANGE UNBOUNDED';
  else if (w.kind === 'today') s = `RANGE TODAY ${printExpr(w.column)}`;
  else s = `RANGE ${duration(w.ms)} ${w.mode}`;
  const p = w.props;
  if (p.partitionBy) s += ` PARTITION BY ${p.partitionBy.map(printExpr).join(', ')}`;
  if (p.sortBy) s += ` SORT BY ${printExpr(p.sortBy)}`;
  if (p.triggerBy) s += ` TRIGGER BY ${printExpr(p.triggerBy)}`;
  if (p.excludeNow) s += ' EXCLUDE NOW';
  return s;
}

/** 90061001 → "1 DAY 1 HOUR 1 MINUTE 1 SECOND 1 MILLISECOND". */
export function duration(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'DAY'], [3_600_000, 'HOUR'], [60_000, 'MINUTE'], [1000, 'SECOND'], [1, 'MILLISECOND']];
  const out: string[] = [];
  let rest = ms;
  for (const [f, u] of units) {
    const n = Math.floor(rest / f);
    rest -= n * f;
    if (n > 0) out.push(`${n} ${u}${n === 1 ? '' : 'S'}`);
  }
  return out.length > 0 ? out.join(' ') : '0 SECONDS';
}

function streamRef(r: StreamRef): string {
  let s = r.name;
  if (r.filter) s += `(${printExpr(r.filter)})`;
  if (r.window) s += `[${printWindow(r.window)}]`;
  if (r.alias !== undefined) s += ` AS ${r.alias}`;
  if (r.unidirection) s += ' UNIDIRECTION';
  return s;
}

function datasourceRef(d: DataSourceRef): string {
  const args = d.args.map((a) => `, ${printExpr(a)}`).join('');
  return `DATASOURCE ${d.name}[SCHEMA ${columns(d.schema)}, QUERY (${quote(d.query)}${args})]${d.alias !== undefined ? ` AS ${d.alias}` : ''}`;
}

export function printFrom(f: From): string {
  switch (f.kind) {
    case 'stream': return streamRef(f);
    case 'join': return `${streamRef(f.left)} ${f.type === 'INNER' ? 'INNER' : f.type === 'CROSS' ? 'CROSS' : `${f.type} OUTER`} JOIN ${streamRef(f.right)}${f.on ? ` ON ${printExpr(f.on)}` : ''}`;
    case 'combine': return `${f.streams.map(streamRef).join(', ')} COMBINE (${f.keys.map(printExpr).join(', ')})`;
    case 'lookup': return `${streamRef(f.stream)}, ${datasourceRef(f.datasource)}`;
  }
}

export function printSelect(s: Select): string {
  let out = `SELECT ${s.distinct ? 'DISTINCT ' : ''}${s.items.map((i) => printExpr(i.expr) + (i.alias !== undefined ? ` AS ${i.alias}` : '')).join(', ')}`;
  if (s.from) out += ` FROM ${printFrom(s.from)}`;
  if (s.where) out += ` WHERE ${printExpr(s.where)}`;
  if (s.groupBy) out += ` GROUP BY ${s.groupBy.map(printExpr).join(', ')}`;
  if (s.having) out += ` HAVING ${printExpr(s.having)}`;
  if (s.orderBy) out += ` ORDER BY ${s.orderBy.map((o) => `${printExpr(o.expr)}${o.desc ? ' DESC' : ' ASC'}`).join(', ')}`;
  if (s.limit !== undefined) out += ` LIMIT ${s.limit}`;
  if (s.parallel !== undefined) out += ` PARALLEL ${s.parallel}`;
  return out;
}

function columns(cols: ColumnDef[]): string {
  return `(${cols.map((c) => `${c.name} ${c.type}${c.comment !== undefined ? ` COMMENT ${quote(c.comment)}` : ''}`).join(', ')})`;
}

function props(p: Properties): string {
  return p.length === 0 ? '' : ` PROPERTIES (${p.map(([k, v]) => `${quote(k)} = ${quote(v)}`).join(', ')})`;
}

function classRef(c: ClassRef): string {
  return (WORD.test(c.cls) || /^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)+$/.test(c.cls) ? c.cls : quote(c.cls)) + props(c.props);
}

export function printStatement(s: Statement): string {
  switch (s.kind) {
    case 'createStream': {
      const head = s.role === 'input' ? 'CREATE INPUT STREAM' : s.role === 'output' ? 'CREATE OUTPUT STREAM' : 'CREATE STREAM';
      let out = `${head} ${s.name} ${columns(s.columns)}`;
      if (s.comment !== undefined) out += ` COMMENT ${quote(s.comment)}`;
      if (s.serde) out += ` SERDE ${classRef(s.serde)}`;
      if (s.connector) out += ` ${s.role === 'input' ? 'SOURCE' : 'SINK'} ${classRef(s.connector)}`;
      if (s.parallel !== undefined) out += ` PARALLEL ${s.parallel}`;
      return out;
    }
    case 'insert': return `INSERT INTO STREAM ${s.target} ${printSelect(s.select)}`;
    case 'multiInsert': return `FROM ${printFrom(s.from)}\n${s.inserts.map((i) => `  INSERT INTO STREAM ${i.target} ${printSelect(i.select)}`).join('\n')}`;
    case 'insertOperator': {
      let out = `INSERT INTO STREAM ${s.target} USING OPERATOR ${s.operator} FROM ${s.source}`;
      if (s.distributeBy) out += ` DISTRIBUTE BY ${s.distributeBy.join(', ')}`;
      if (s.parallel !== undefined) out += ` PARALLEL ${s.parallel}`;
      return out;
    }
    case 'createOperator': return `CREATE OPERATOR ${s.name} AS ${quote(s.ref)} INPUT ${columns(s.input)} OUTPUT ${columns(s.output)}${props(s.props)}`;
    case 'createDatasource': return `CREATE DATASOURCE ${s.name} SOURCE ${classRef(s.source)}`;
    case 'createFunction': return `CREATE FUNCTION ${s.name} AS ${quote(s.ref)}${s.returns ? ` RETURNS ${s.returns}` : ''}${props(s.props)}`;
    case 'dropFunction': return `DROP FUNCTION ${s.ifExists ? 'IF EXISTS ' : ''}${s.name}`;
    case 'showFunctions': return 'SHOW FUNCTIONS';
    case 'submitApplication': return `SUBMIT APPLICATION ${s.force ? 'FORCE ' : ''}${s.name}`;
    case 'explainApplication': return `EXPLAIN APPLICATION ${s.name}`;
    case 'dropApplication': return `DROP APPLICATION ${s.ifExists ? 'IF EXISTS ' : ''}${s.name}`;
    case 'showApplications': return 'SHOW APPLICATIONS';
    case 'activateApplication': return `${s.active ? 'ACTIVE' : 'DEACTIVE'} APPLICATION ${s.name}`;
    case 'rebalanceApplication': return `REBALANCE APPLICATION ${s.name} SET WORKER ${s.workers}`;
    case 'set': return `SET ${quote(s.key)} = ${quote(s.value)}`;
    case 'get': return `GET ${quote(s.key)}`;
    case 'addResource': return `ADD ${s.resource} ${quote(s.path)}`;
  }
}

export function printScript(stmts: Statement[]): string {
  return stmts.map((s) => printStatement(s) + ';\n').join('');
}
