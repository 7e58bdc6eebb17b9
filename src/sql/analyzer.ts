import { ErrorCodes } from '../core/errors.js';
import { posOf, type ClassRef, type Statement } from './ast.js';
import { selectQuery, operatorQuery } from './analyze-select.js';
import { columnsOf, err, type Analysis, type Connector, type Query, type StreamInfo } from './analysis.js';
import { checkValue, connectorNames, findConnector, propertyKey, type ConnectorRole, type ConnectorSpec } from './connectors.js';
import { SqlError } from './errors.js';
import { FUNCTIONS } from './functions.js';
import { parseTimeZone } from './runtime/time.js';

export type { Analysis, Connector, OperatorInfo, OperatorQuery, Query, RFrom, RStream, RWindow, SelectQuery, StreamInfo } from './analysis.js';
export { shift } from './analyze-from.js';

/**
 * Semantic analysis of a whole StreamCQL script: the catalog of streams, functions, operators and
 * data sources built statement by statement, every query resolved and type-checked. An application is
 * valid only as a whole: `errors` non-empty means nothing of it may be submitted.
 */

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
  findCycles(a);
  return a;
}

function inputsOf(q: Query): string[] {
  if (q.kind === 'operator') return [q.source];
  const f = q.from;
  return f.kind === 'join' ? [f.left.stream, f.right.stream] : f.kind === 'combine' ? f.inputs.map((i) => i.stream) : [f.input.stream];
}

/** Rows must flow from sources to sinks: a query chain that reads the stream it (indirectly) writes is an error. */
function findCycles(a: Analysis): void {
  const next = new Map<string, { to: string; q: Query }[]>();
  for (const q of a.queries) {
    for (const from of inputsOf(q)) {
      const k = from.toLowerCase();
      next.set(k, [...(next.get(k) ?? []), { to: q.target.toLowerCase(), q }]);
    }
  }
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (s: string): void => {
    state.set(s, 'open');
    path.push(s);
    for (const { to, q } of next.get(s) ?? []) {
      if (state.get(to) === 'open') {
        const loop = [...path.slice(path.indexOf(to)), to].map((n) => a.streams.get(n)?.name ?? n);
        a.errors.push(new SqlError(ErrorCodes.SQL_CYCLE, `INSERT INTO ${q.target}: rows would loop through ${loop.join(' → ')}`, q.pos));
      } else if (!state.has(to)) visit(to);
    }
    path.pop();
    state.set(s, 'done');
  };
  for (const s of next.keys()) if (!state.has(s)) visit(s);
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
