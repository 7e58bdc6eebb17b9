import type { OutputCollector, OutputFieldsDeclarer, Spout, SpoutOutputCollector, TopologyConfig, TopologyContext, Bolt } from '../../compute/api.js';
import type { Clock } from '../../compute/runtime/clock.js';
import { BusSpout } from '../../compute/spouts/bus.js';
import type { Tuple } from '../../compute/tuple.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { compile, type CompileOptions } from '../compile.js';
import type { LogicalPlan, PlanNode } from '../plan.js';
import type { RExpr } from '../rexpr.js';
import { EMPTY, fanOut, type Batch, type Op, type OpContext, type Out, type Row } from './batch.js';
import { AggregateOp, CombineOp, FilterOp, JoinOp, OrderLimitOp, ProjectOp, StreamOp } from './operators.js';
import { createSerDe, type SerDe } from './serde.js';
import { createSink, type SinkWriter } from './sinks.js';
import { fileInput, randomGen, tcpInput, type RowSource } from './sources.js';
import { LookupOp } from './lookup.js';
import { UserOperatorOp } from './user-operator.js';
import { WindowOp } from './window.js';

/**
 * The spout and bolt every StreamCQL component runs: a task builds its fused operators (planner.ts)
 * in open/prepare, feeds them the batches arriving on its direct input streams, and sends what leaves
 * the component to the consuming tasks it picks itself. Tuples are [ins, rem] — the rows of one update.
 */

export interface EdgeSpec {
  stream: string;
  /** The producing plan node. */
  from: string;
  /** The consuming component. */
  to: string;
  grouping: 'local' | 'shuffle' | 'global' | 'fields';
  keyExprs: RExpr[];
}

export interface ComponentSpec {
  id: string;
  kind: 'spout' | 'bolt';
  parallelism: number;
  /** Plan nodes run by this component, producers before consumers. */
  nodes: PlanNode[];
  /** Input stream id → the node and port it feeds. */
  entries: Record<string, { node: string; port: number; component: string }>;
  /** Edges leaving the component. */
  edges: EdgeSpec[];
  /** Node id → consumers inside the component. */
  fused: Record<string, { node: string; port: number }[]>;
  tickSecs: number;
}

export interface RuntimeEnv {
  plan: LogicalPlan;
  clock: Clock;
  compile: CompileOptions;
  operators: Map<string, unknown>;
  bus?: string | undefined;
  inputs: Map<string, RowSource>;
  capture?: ((stream: string, rows: Row[]) => void) | undefined;
  seed?: number | undefined;
  stdout: (text: string) => void;
}

const FIELDS = ['ins', 'rem'];

/** Sends batches of one edge to the consuming tasks. */
type Send = (task: number, stream: string, values: [Row[], Row[]]) => void;

function edgeOut(e: EdgeSpec, ctx: TopologyContext, env: RuntimeEnv, send: Send): Out {
  const tasks = ctx.getComponentTasks(e.to);
  const n = tasks.length;
  const stream = e.stream;
  if (e.grouping === 'global' || n === 1) return (b) => send(tasks[0]!, stream, [b.ins, b.rem]);
  if (e.grouping === 'local') {
    const t = tasks[ctx.getThisTaskIndex() % n]!;
    return (b) => send(t, stream, [b.ins, b.rem]);
  }
  if (e.grouping === 'shuffle') {
    let next = ctx.getThisTaskIndex() % n;
    return (b) => {
      send(tasks[next]!, stream, [b.ins, b.rem]);
      next = (next + 1) % n;
    };
  }
  const ev = compile(e.keyExprs, env.compile).eval;
  const pick = (row: Row): number => hashValues(ev(row)) % n;
  return (b) => {
    if (b.ins.length + b.rem.length === 1) {
      const row = b.ins.length === 1 ? b.ins[0]! : b.rem[0]!;
      send(tasks[pick(row)]!, stream, [b.ins, b.rem]);
      return;
    }
    const ins: Row[][] = [];
    const rem: Row[][] = [];
    for (const r of b.ins) (ins[pick(r)] ??= []).push(r);
    for (const r of b.rem) (rem[pick(r)] ??= []).push(r);
    for (let i = 0; i < n; i++) if (ins[i] || rem[i]) send(tasks[i]!, stream, [ins[i] ?? EMPTY, rem[i] ?? EMPTY]);
  };
}

/** FNV-1a over the key values' text: the same on every task and every run. */
export function hashValues(vals: unknown[]): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < vals.length; k++) {
    const v = vals[k];
    const s = v === null || v === undefined ? '\u0000' : typeof v === 'string' ? v : String(v);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x1f;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The rows written to an output stream: to its sink (or the capture hook in tests). */
class SinkOp implements Op {
  constructor(private readonly stream: string, private readonly writer: SinkWriter | null, private readonly env: RuntimeEnv, private readonly ctx: OpContext) {}
  push(b: Batch): void {
    if (b.ins.length === 0) return;
    if (this.env.capture) this.env.capture(this.stream, b.ins);
    else this.writer!.write(b.ins, this.ctx.hold());
  }
}

interface Built {
  ops: Map<string, Op>;
  /** Entry points fed by the spout's rows (source nodes). */
  sinks: SinkWriter[];
  ticking: Op[];
  closers: Op[];
}

function buildOps(spec: ComponentSpec, ctx: TopologyContext, env: RuntimeEnv, opCtx: OpContext, send: Send): Built {
  const ops = new Map<string, Op>();
  const sinks: SinkWriter[] = [];
  const ticking: Op[] = [];
  const closers: Op[] = [];
  const self = ctx.getThisTaskId();
  const plan = env.plan;
  const schemaOf = (id: string) => plan.nodes.find((n) => n.id === id)!.schema;
  for (let i = spec.nodes.length - 1; i >= 0; i--) {
    const n = spec.nodes[i]!;
    const outs: Out[] = [];
    for (const c of spec.fused[n.id] ?? []) {
      const op = ops.get(c.node)!;
      const port = c.port;
      outs.push((b) => op.push(b, port, self));
    }
    for (const e of spec.edges) if (e.from === n.id) outs.push(edgeOut(e, ctx, env, send));
    const out = fanOut(outs);
    const o = env.compile;
    let op: Op;
    switch (n.op) {
      case 'source': case 'stream': op = new StreamOp(out); break;
      case 'sink': {
        const stream = plan.nodes.find((x) => x.id === `stream:${n.stream}`)!;
        let writer: SinkWriter | null = null;
        if (!env.capture) {
          writer = createSink(n.connector.name, n.connector.props, { stream: n.stream, columns: stream.schema, serde: createSerDe(n.serde.name, n.serde.props, stream.schema, o.tz), defaultBus: env.bus, stdout: env.stdout, report: opCtx.report });
          sinks.push(writer);
        }
        op = new SinkOp(n.stream, writer, env, opCtx);
        break;
      }
      case 'filter': op = new FilterOp(n.predicate, o, out); break;
      case 'window': op = new WindowOp(n.window, o, opCtx, out); break;
      case 'aggregate': op = new AggregateOp(n.groupBy, n.aggregates, n.lasts, o, out); break;
      case 'orderLimit': op = new OrderLimitOp(n.orderBy, n.limit, o, out); break;
      case 'project': op = new ProjectOp(n.exprs, n.distinct, o, out); break;
      case 'join': op = new JoinOp(n.type, [n.leftKeys, n.rightKeys], n.residual, n.driver, [schemaOf(n.inputs[0]!.from).length, schemaOf(n.inputs[1]!.from).length], o, out); break;
      case 'combine': op = new CombineOp(n.keys, n.inputs.map((e) => schemaOf(e.from).length), o, out); break;
      case 'operator': op = new UserOperatorOp(n.operator, env.operators.get(n.ref), n.props, out); break;
      case 'lookup': {
        const width = schemaOf(n.inputs[0]!.from).length;
        op = new LookupOp(n.datasource, n.connector.props, n.lookupQuery, n.args, n.schema.slice(width), o, opCtx, out);
        break;
      }
    }
    if (op.tick) ticking.push(op);
    if (op.close) closers.push(op);
    ops.set(n.id, op);
  }
  return { ops, sinks, ticking, closers };
}

/** Rate-limited error reporting shared by spout and bolt tasks. */
function reporter(report: (e: unknown) => void): (e: unknown) => void {
  let last = 0;
  return (e) => {
    const t = Date.now();
    if (t - last < 1000) return;
    last = t;
    report(e);
  };
}

/** Acks of one record fanned out over several tuples: the inner spout hears once all are acked, or the first fail. */
class Fanned {
  n = 0;
  failed = false;
  constructor(readonly inner: unknown) {}
}

export class SqlSpout implements Spout {
  private built!: Built;
  private entry!: Op;
  private rows: RowSource | null = null;
  private bus: BusSpout | null = null;
  private current: Fanned | null = null;
  private collector!: SpoutOutputCollector;
  private serde!: SerDe;
  private report!: (e: unknown) => void;
  constructor(private readonly spec: ComponentSpec, private readonly env: RuntimeEnv) {}

  declareOutputFields(d: OutputFieldsDeclarer): void {
    for (const e of this.spec.edges) d.declareStream(e.stream, true, FIELDS);
  }

  async open(conf: TopologyConfig, ctx: TopologyContext, collector: SpoutOutputCollector): Promise<void> {
    this.collector = collector;
    this.report = reporter((e) => collector.reportError(e));
    const opCtx: OpContext = { now: () => this.env.clock.now(), hold: () => () => {}, report: this.report };
    const send: Send = (task, stream, values) => {
      const cur = this.current;
      this.emitted = true;
      if (cur) {
        cur.n++;
        collector.emitDirect(task, stream, values, cur);
      } else collector.emitDirect(task, stream, values);
    };
    this.built = buildOps(this.spec, ctx, this.env, opCtx, send);
    for (const s of this.built.sinks) await s.open();
    const src = this.spec.nodes[0]!;
    if (src.op !== 'source') throw new MonsoonError(ErrorCodes.SQL_UNSUPPORTED, `component ${this.spec.id} has no source`);
    this.entry = this.built.ops.get(src.id)!;
    const o = this.env.compile;
    this.serde = createSerDe(src.serde.name, src.serde.props, src.schema, o.tz);
    const p = Object.fromEntries(Object.entries(src.connector.props).map(([k, v]) => [k.toLowerCase().replace(/^operator\.[a-z0-9_]+\./, ''), v]));
    const override = this.env.inputs.get(src.stream.toLowerCase());
    const name = src.connector.name.toLowerCase();
    if (override) this.rows = override;
    else if (name === 'randomgen') this.rows = randomGen(src.connector.props, src.schema, this.env.seed === undefined ? undefined : this.env.seed + ctx.getThisTaskIndex(), () => this.env.clock.now());
    else if (name === 'tcpclientinput') this.rows = tcpInput(p.server!, Number(p.port), this.serde, this.report);
    else if (name === 'fileinput') this.rows = fileInput(p.path!, (p.frombeginning ?? 'true').toLowerCase() !== 'false', this.serde, this.report);
    else if (name === 'kafkainput' || name === 'businput') {
      const url = name === 'businput' ? p.url! : p.brokers ? `kafka://${p.brokers}` : this.env.bus;
      if (!url) throw new MonsoonError(ErrorCodes.SQL_BAD_PROPERTY, `KafkaInput of stream ${src.stream} names no brokers; set brokers or give the bus with --bus`);
      const group = p.groupid ?? p.group ?? this.env.plan.application ?? src.stream;
      this.bus = new BusSpout({ bus: url, topics: [p.topic!], group, from: (p.frombeginning ?? 'true').toLowerCase() === 'false' ? 'latest' : 'earliest' });
      await this.bus.open(conf, ctx, this.busCollector());
    } else throw new MonsoonError(ErrorCodes.SQL_UNSUPPORTED, `SOURCE ${src.connector.name} of stream ${src.stream} has no runtime implementation`);
    await this.rows?.open();
  }

  /** Decodes each bus record with the stream's SerDe and runs it through the component's operators. */
  private busCollector(): SpoutOutputCollector {
    const c = this.collector;
    const spout = this;
    return {
      emit(a: unknown, b?: unknown, m?: unknown) {
        const values = (typeof a === 'string' ? b : a) as unknown[];
        const msgId = typeof a === 'string' ? m : b;
        spout.record(String(values[4] ?? ''), msgId);
      },
      emitDirect() { throw new Error('not used'); },
      reportError: (e) => c.reportError(e),
      getPendingCount: () => c.getPendingCount(),
    } as SpoutOutputCollector;
  }

  private took = false;
  private emitted = false;
  private record(text: string, msgId: unknown): void {
    this.took = true;
    const f = new Fanned(msgId);
    this.current = f;
    try {
      this.entry.push({ ins: [this.serde.read(text)], rem: EMPTY }, 0, -1);
    } catch (e) {
      this.report(e);
    } finally {
      this.current = null;
    }
    if (f.n === 0) this.bus!.ack(msgId);
  }

  nextTuple(): void {
    if (this.bus) {
      // A record the component's operators drop emits nothing, and a nextTuple that emits nothing makes
      // the runtime back off; so keep taking records until one produced a tuple or none is ready.
      for (let i = 0; i < 256; i++) {
        this.took = false;
        this.emitted = false;
        this.bus.nextTuple();
        if (!this.took || this.emitted) return;
      }
      return;
    }
    for (let i = 0; i < 16; i++) {
      const rows = this.rows!.poll(64, this.env.clock.now());
      if (rows.length === 0) return;
      this.emitted = false;
      for (const r of rows) {
        try {
          this.entry.push({ ins: [r], rem: EMPTY }, 0, -1);
        } catch (e) {
          this.report(e);
        }
      }
      if (this.emitted) return;
    }
  }

  ack(msgId: unknown): void {
    if (msgId instanceof Fanned && --msgId.n === 0 && !msgId.failed) this.bus?.ack(msgId.inner);
  }

  fail(msgId: unknown): void {
    if (msgId instanceof Fanned && !msgId.failed) {
      msgId.failed = true;
      this.bus?.fail(msgId.inner);
    }
  }

  deactivate(): void { this.bus?.deactivate(); }

  async close(): Promise<void> {
    await this.bus?.close();
    await this.rows?.close();
    for (const s of this.built?.sinks ?? []) await s.close();
  }
}

export class SqlBolt implements Bolt {
  private built!: Built;
  private collector!: OutputCollector;
  private input: Tuple | null = null;
  private holds = 0;
  private entries!: Map<string, { op: Op; port: number }>;
  constructor(private readonly spec: ComponentSpec, private readonly env: RuntimeEnv) {}

  declareOutputFields(d: OutputFieldsDeclarer): void {
    for (const e of this.spec.edges) d.declareStream(e.stream, true, FIELDS);
  }

  async prepare(_conf: TopologyConfig, ctx: TopologyContext, collector: OutputCollector): Promise<void> {
    this.collector = collector;
    const report = reporter((e) => collector.reportError(e));
    const opCtx: OpContext = {
      now: () => this.env.clock.now(),
      hold: () => {
        const t = this.input;
        if (!t) return () => {};
        this.holds++;
        const box = this.pendingOf(t);
        box.n++;
        let called = false;
        return () => {
          if (called) return;
          called = true;
          if (--box.n === 0 && box.done) collector.ack(t);
        };
      },
      report,
    };
    const send: Send = (task, stream, values) => collector.emitDirect(task, stream, this.input, values);
    this.built = buildOps(this.spec, ctx, this.env, opCtx, send);
    this.entries = new Map(Object.entries(this.spec.entries).map(([s, e]) => [s, { op: this.built.ops.get(e.node)!, port: e.port }]));
    for (const s of this.built.sinks) await s.open();
  }

  private readonly boxes = new WeakMap<Tuple, { n: number; done: boolean }>();
  private pendingOf(t: Tuple): { n: number; done: boolean } {
    let b = this.boxes.get(t);
    if (!b) this.boxes.set(t, (b = { n: 0, done: false }));
    return b;
  }

  execute(t: Tuple): void {
    if (t.isTick()) {
      const now = this.env.clock.now();
      for (const op of this.built.ticking) op.tick!(now);
      return;
    }
    const e = this.entries.get(t.info.stream)!;
    const v = t.values as [Row[], Row[]];
    this.input = t;
    this.holds = 0;
    try {
      e.op.push({ ins: v[0], rem: v[1] }, e.port, t.sourceTask);
    } catch (err) {
      this.collector.reportError(err);
    }
    this.input = null;
    if (this.holds === 0) this.collector.ack(t);
    else {
      const box = this.pendingOf(t);
      box.done = true;
      if (box.n === 0) this.collector.ack(t);
    }
  }

  async cleanup(): Promise<void> {
    for (const op of this.built?.closers ?? []) await op.close!();
    for (const s of this.built?.sinks ?? []) await s.close();
  }
}
