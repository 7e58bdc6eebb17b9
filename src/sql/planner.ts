import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import { systemClock, type Clock } from '../compute/runtime/clock.js';
import { TopologyBuilder, type StormTopology } from '../compute/topology.js';
import type { TopologyConfig } from '../compute/api.js';
import { compile, type CompileOptions } from './compile.js';
import type { Grouping, LogicalPlan, PlanNode } from './plan.js';
import type { Row } from './runtime/batch.js';
import type { RExpr } from './rexpr.js';
import { SqlBolt, SqlSpout, type ComponentSpec, type EdgeSpec, type RuntimeEnv } from './runtime/components.js';
import { WindowOp } from './runtime/window.js';
import { LookupOp } from './runtime/lookup.js';
import type { RowSource } from './runtime/sources.js';

/**
 * The compute planner: a StreamCQL logical plan → a StormTopology for the local runtime.
 *
 * Operators are fused into one component (one task runs them in a row, passing batches by function
 * call) when the plan distributes an edge `local`ly and both ends have the same parallelism. Every other
 * edge is a direct stream between components: the producing task picks the consuming task itself —
 * `fields` by a hash of the key expressions (compiled over the producer's row), `shuffle` round-robin
 * per update, `global` the first task, `local` the task with the same index — so one update that spans
 * several keys is split per task and stays one tuple per task. Sources become spouts, the rest bolts.
 * Windows on the runtime clock ask their component for tick tuples.
 */
export interface PlannerOptions {
  /** The runtime clock; windows and RandomGen follow it (a SimClock in tests). Default: the system clock. */
  clock?: Clock;
  /** Directory module references of CREATE FUNCTION / CREATE OPERATOR are resolved from (default: cwd). */
  baseDir?: string;
  /** Bus URL for KafkaInput/KafkaOutput without brokers. */
  bus?: string;
  /** Row queues replacing the sources of these input streams (by lower-case name). */
  inputs?: Map<string, RowSource>;
  /** Receives the rows written to output streams (by stream name) instead of their sinks. */
  capture?: (stream: string, rows: Row[]) => void;
  /** Seed for RandomGen (default: `SET 'monsoon.sql.seed'`, else random). */
  seed?: number;
  stdout?: (text: string) => void;
}

export async function planTopology(plan: LogicalPlan, opts: PlannerOptions = {}): Promise<StormTopology> {
  const compileOpts: CompileOptions = { tz: plan.timezoneMinutes * 60_000, udfs: await loadFunctions(plan, opts.baseDir) };
  const operators = await loadOperators(plan, opts.baseDir);
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));
  const live = liveNodes(plan);
  const order = topoOrder(plan.nodes.filter((n) => live.has(n.id)), byId);

  // Components: fuse local edges with equal parallelism.
  const compOf = new Map<string, ComponentSpec>();
  const comps: ComponentSpec[] = [];
  const newComp = (n: PlanNode, kind: 'spout' | 'bolt'): ComponentSpec => {
    const c: ComponentSpec = { id: componentId(n, comps.length), kind, parallelism: n.parallelism, nodes: [], entries: {}, edges: [], fused: {}, tickSecs: 0 };
    comps.push(c);
    return c;
  };
  // A stateless filter at the start of a distributed edge runs on the producing side, so rows it drops
  // never cross tasks; the edge after it takes over the distribution (its keys read the same row).
  const pushed = new Map<string, Grouping>();
  for (const n of order) {
    const ins = n.inputs.filter((e) => live.has(e.from));
    let c: ComponentSpec | undefined;
    if (n.op === 'source') c = newComp(n, 'spout');
    else if (n.op === 'filter' && ins.length === 1 && ins[0]!.grouping.kind !== 'local' && stateless(n.predicate)) {
      c = compOf.get(ins[0]!.from)!;
      pushed.set(n.id, ins[0]!.grouping);
    } else if (ins.length === 1 && ins[0]!.grouping.kind === 'local' && !pushed.has(ins[0]!.from)) {
      const p = compOf.get(ins[0]!.from)!;
      if (p.parallelism === n.parallelism) c = p;
    }
    c ??= newComp(n, 'bolt');
    c.nodes.push(n);
    compOf.set(n.id, c);
    if (n.op === 'window' && WindowOp.needsTicks(n.window)) c.tickSecs = tickFor(c.tickSecs, n.window.ms!);
    if (n.op === 'lookup') c.tickSecs = c.tickSecs === 0 ? LookupOp.TICK_SECS : Math.min(c.tickSecs, LookupOp.TICK_SECS);
  }

  // Edges.
  let seq = 0;
  for (const n of order) {
    const c = compOf.get(n.id)!;
    n.inputs.forEach((e, port) => {
      if (!live.has(e.from)) return;
      const p = compOf.get(e.from)!;
      if (p === c) {
        (c.fused[e.from] ??= []).push({ node: n.id, port });
        return;
      }
      const stream = `e${++seq}`;
      const g = e.grouping.kind === 'local' ? pushed.get(e.from) ?? e.grouping : e.grouping;
      const edge: EdgeSpec = { stream, from: e.from, to: c.id, grouping: edgeGrouping(g), keyExprs: g.kind === 'fields' ? g.exprs : [] };
      p.edges.push(edge);
      c.entries[stream] = { node: n.id, port, component: p.id };
    });
  }

  const env: RuntimeEnv = {
    plan,
    clock: opts.clock ?? systemClock,
    compile: compileOpts,
    operators,
    bus: opts.bus ?? plan.settings['monsoon.sql.bus'],
    inputs: opts.inputs ?? new Map(),
    capture: opts.capture,
    seed: opts.seed ?? (plan.settings['monsoon.sql.seed'] !== undefined ? Number(plan.settings['monsoon.sql.seed']) : undefined),
    stdout: opts.stdout ?? ((t) => process.stdout.write(t)),
  };
  // Key evaluators are compiled once here so a bad expression fails the plan, not a task.
  for (const c of comps) for (const e of c.edges) if (e.keyExprs.length > 0) compile(e.keyExprs, compileOpts);

  const b = new TopologyBuilder();
  for (const c of comps) {
    if (c.kind === 'spout') b.setSpout(c.id, () => new SqlSpout(c, env), c.parallelism);
    else {
      const d = b.setBolt(c.id, () => new SqlBolt(c, env), c.parallelism);
      for (const [stream, entry] of Object.entries(c.entries)) d.directGrouping(entry.component, stream);
      if (c.tickSecs > 0) d.addConfiguration('topology.tick.tuple.freq.secs', c.tickSecs);
    }
  }
  const conf: TopologyConfig = {};
  return b.createTopology(conf, plan.application ?? 'streamcql');
}

function componentId(n: PlanNode, _i: number): string {
  const id = n.id.replace(/[^A-Za-z0-9_.$-]/g, '.');
  return id;
}

/** Tick period for a processing-time RANGE window: a tenth of the window, between 50 ms and 1 s. */
function tickFor(current: number, ms: number): number {
  const t = Math.min(1, Math.max(0.05, ms / 10_000));
  return current === 0 ? t : Math.min(current, t);
}

function edgeGrouping(g: Grouping): EdgeSpec['grouping'] {
  return g.kind;
}

/** No PREVIOUS (whose history depends on the task the rows go through) anywhere in the expression. */
function stateless(r: RExpr): boolean {
  if (r.k === 'prev') return false;
  const kids: RExpr[] = r.k === 'op' || r.k === 'fn' || r.k === 'udf' ? r.args : r.k === 'cast' ? [r.arg] : r.k === 'case' ? [...(r.operand ? [r.operand] : []), ...r.whens.flatMap((w) => [w.when, w.then]), ...(r.else ? [r.else] : [])] : [];
  return kids.every(stateless);
}

/** Nodes that can receive rows: sources and whatever they feed. */
function liveNodes(plan: LogicalPlan): Set<string> {
  const live = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const n of plan.nodes) {
      if (live.has(n.id)) continue;
      if (n.op === 'source' || n.inputs.some((e) => live.has(e.from))) {
        live.add(n.id);
        grew = true;
      }
    }
  }
  return live;
}

function topoOrder(nodes: PlanNode[], byId: Map<string, PlanNode>): PlanNode[] {
  const out: PlanNode[] = [];
  const state = new Map<string, number>();
  const ids = new Set(nodes.map((n) => n.id));
  const visit = (n: PlanNode): void => {
    const s = state.get(n.id);
    if (s === 2) return;
    if (s === 1) throw new MonsoonError(ErrorCodes.SQL_CYCLE, `the plan has a cycle through ${n.id}`);
    state.set(n.id, 1);
    for (const e of n.inputs) if (ids.has(e.from)) visit(byId.get(e.from)!);
    state.set(n.id, 2);
    out.push(n);
  };
  for (const n of nodes) visit(n);
  return out;
}

type Fn = (...args: unknown[]) => unknown;

/** `module#export` → the export; the module path is resolved from `baseDir` unless it is a package name. */
export async function loadRef(ref: string, baseDir: string | undefined, what: string): Promise<unknown> {
  const at = ref.lastIndexOf('#');
  const mod = at < 0 ? ref : ref.slice(0, at);
  const name = at < 0 ? 'default' : ref.slice(at + 1);
  const spec = mod.startsWith('.') || isAbsolute(mod) ? pathToFileURL(resolve(baseDir ?? process.cwd(), mod)).href : mod;
  let m: Record<string, unknown>;
  try {
    m = (await import(spec)) as Record<string, unknown>;
  } catch (e) {
    throw new MonsoonError(ErrorCodes.SQL_UNKNOWN_FUNCTION, `${what}: cannot load module ${mod}: ${(e as Error).message}`);
  }
  const v = m[name];
  if (v === undefined) throw new MonsoonError(ErrorCodes.SQL_UNKNOWN_FUNCTION, `${what}: module ${mod} has no export ${name} (exports: ${Object.keys(m).join(', ') || 'none'})`);
  return v;
}

async function loadFunctions(plan: LogicalPlan, baseDir: string | undefined): Promise<Map<string, Fn>> {
  const out = new Map<string, Fn>();
  for (const f of plan.functions) {
    const v = await loadRef(f.ref, baseDir, `function ${f.name}`);
    if (typeof v !== 'function') throw new MonsoonError(ErrorCodes.SQL_UNKNOWN_FUNCTION, `function ${f.name}: ${f.ref} is not a function`);
    out.set(f.name.toLowerCase(), v as Fn);
  }
  return out;
}

async function loadOperators(plan: LogicalPlan, baseDir: string | undefined): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const n of plan.nodes) {
    if (n.op !== 'operator' || out.has(n.ref)) continue;
    out.set(n.ref, await loadRef(n.ref, baseDir, `operator ${n.operator}`));
  }
  return out;
}
