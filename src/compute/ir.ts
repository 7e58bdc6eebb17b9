/**
 * The Topology IR: the JSON form of a topology that every runtime (local, distributed) and the SQL
 * compiler share. It names each component's code (a module reference `path#export`, or the class
 * name when the topology object carries the instances), its parallelism, task count, configuration,
 * inputs (source component, stream, grouping) and declared output streams. `validateIR` is pure and
 * reports every problem found, each naming its component.
 */
import { suggest } from '../core/config/suggest.js';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import { DEFAULT_STREAM, SYSTEM_COMPONENT, TICK_STREAM } from './tuple.js';

export const GROUPING_TYPES = ['SHUFFLE', 'FIELDS', 'ALL', 'GLOBAL', 'DIRECT', 'LOCAL_OR_SHUFFLE', 'PARTIAL_KEY', 'NONE', 'CUSTOM'] as const;
export type GroupingType = (typeof GROUPING_TYPES)[number];

export interface GroupingIR {
  type: GroupingType;
  /** FIELDS and PARTIAL_KEY: the fields hashed. */
  fields?: string[];
  /** CUSTOM: the grouping's code (`module#export` or class name) and constructor arguments. */
  customClass?: string;
  args?: unknown[];
}

export interface InputIR {
  component: string;
  stream: string;
  grouping: GroupingIR;
}

export interface StreamIR {
  id: string;
  fields: string[];
  direct: boolean;
}

export interface ComponentIR {
  id: string;
  kind: 'spout' | 'bolt';
  /** The component's code: `module#export` (Flux, SQL) or the class name of the instance given to the builder. */
  className: string;
  /** Resolved module path when the code is loaded from a module (Flux); absent for builder instances. */
  module?: string;
  parallelism: number;
  numTasks: number;
  config: Record<string, unknown>;
  inputs: InputIR[];
  streams: StreamIR[];
}

export interface TopologyIR {
  version: 1;
  name?: string;
  /** Where a worker rebuilds the topology's instances from (a topology module), when known. */
  source?: { module: string; export: string };
  config: Record<string, unknown>;
  components: ComponentIR[];
}

const ID_RE = /^[A-Za-z0-9_.$-][A-Za-z0-9_.$:-]*$/;

/** Every problem of the IR, each naming its component; [] when valid. Cycles are allowed, as in Storm. */
export function irProblems(ir: TopologyIR): string[] {
  const errs: string[] = [];
  const byId = new Map<string, ComponentIR>();
  if (!Array.isArray(ir.components) || ir.components.length === 0) return ['the topology has no components'];
  for (const c of ir.components) {
    const where = `component ${JSON.stringify(c.id)}`;
    if (typeof c.id !== 'string' || !ID_RE.test(c.id)) errs.push(`${where}: an id must be letters, digits, and . _ - $ :`);
    else if (c.id.startsWith('__')) errs.push(`${where}: ids starting with "__" are reserved for system components`);
    if (byId.has(c.id)) errs.push(`${where}: declared twice (component ids are unique across spouts and bolts)`);
    byId.set(c.id, c);
    if (!Number.isInteger(c.parallelism) || c.parallelism < 1) errs.push(`${where}: parallelism must be a positive integer, got ${String(c.parallelism)}`);
    if (!Number.isInteger(c.numTasks) || c.numTasks < 1) errs.push(`${where}: numTasks must be a positive integer, got ${String(c.numTasks)}`);
    const seen = new Set<string>();
    for (const s of c.streams) {
      if (seen.has(s.id)) errs.push(`${where}: stream ${JSON.stringify(s.id)} declared twice`);
      seen.add(s.id);
      if (s.id.startsWith('__')) errs.push(`${where}: stream ids starting with "__" are reserved`);
      if (new Set(s.fields).size !== s.fields.length) errs.push(`${where}: stream ${JSON.stringify(s.id)} declares a field twice`);
    }
    if (c.kind === 'spout' && c.inputs.length > 0) errs.push(`${where}: a spout cannot subscribe to streams`);
  }
  if (!ir.components.some((c) => c.kind === 'spout')) errs.push('the topology has no spout');
  for (const c of ir.components) {
    const where = `component ${JSON.stringify(c.id)}`;
    const subs = new Set<string>();
    for (const inp of c.inputs) {
      const key = `${inp.component}:${inp.stream}`;
      if (subs.has(key)) errs.push(`${where}: subscribes twice to ${inp.component}'s stream ${JSON.stringify(inp.stream)}`);
      subs.add(key);
      if (inp.component === SYSTEM_COMPONENT && inp.stream === TICK_STREAM) {
        errs.push(`${where}: tick tuples are not subscribed to; set topology.tick.tuple.freq.secs in the component's configuration`);
        continue;
      }
      const src = byId.get(inp.component);
      if (!src) {
        errs.push(`${where}: subscribes to unknown component ${JSON.stringify(inp.component)}${hint(inp.component, [...byId.keys()])}`);
        continue;
      }
      const stream = src.streams.find((s) => s.id === inp.stream);
      if (!stream) {
        const have = src.streams.map((s) => s.id);
        errs.push(`${where}: subscribes to stream ${JSON.stringify(inp.stream)} of ${src.id}, which declares ${have.length ? have.map((s) => JSON.stringify(s)).join(', ') : 'no streams'}`);
        continue;
      }
      const g = inp.grouping;
      if (!GROUPING_TYPES.includes(g.type)) {
        errs.push(`${where}: unknown grouping ${JSON.stringify(g.type)} on ${key}; use one of ${GROUPING_TYPES.join(', ')}`);
        continue;
      }
      if (g.type === 'FIELDS' || g.type === 'PARTIAL_KEY') {
        if (!g.fields || g.fields.length === 0) errs.push(`${where}: ${g.type} grouping on ${key} names no fields`);
        for (const f of g.fields ?? []) {
          if (!stream.fields.includes(f)) errs.push(`${where}: ${g.type} grouping on ${key} uses field ${JSON.stringify(f)}, which ${src.id} does not declare on stream ${JSON.stringify(stream.id)} (fields: [${stream.fields.join(', ')}])`);
        }
      }
      if (g.type === 'DIRECT' && !stream.direct) errs.push(`${where}: DIRECT grouping on ${key}, but ${src.id} declares stream ${JSON.stringify(stream.id)} as not direct`);
      if (g.type !== 'DIRECT' && stream.direct) errs.push(`${where}: ${g.type} grouping on ${key}, but ${src.id} declares stream ${JSON.stringify(stream.id)} as direct; use a DIRECT grouping`);
      if (g.type === 'CUSTOM' && !g.customClass) errs.push(`${where}: CUSTOM grouping on ${key} names no class`);
    }
  }
  return errs;
}

export function validateIR(ir: TopologyIR): TopologyIR {
  const errs = irProblems(ir);
  if (errs.length) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `invalid topology${ir.name ? ` ${ir.name}` : ''}: ${errs.join('; ')}`);
  return ir;
}

export function componentOf(ir: TopologyIR, id: string): ComponentIR | undefined {
  return ir.components.find((c) => c.id === id);
}

export function streamOf(c: ComponentIR, stream = DEFAULT_STREAM): StreamIR | undefined {
  return c.streams.find((s) => s.id === stream);
}

function hint(name: string, ids: string[]): string {
  const near = suggest(name, ids);
  return near ? ` (did you mean ${JSON.stringify(near)}?)` : ids.length ? ` (components: ${ids.join(', ')})` : '';
}
