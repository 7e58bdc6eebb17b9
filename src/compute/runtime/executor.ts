/**
 * Executors and tasks of the local runtime. An executor runs its tasks' code in turns: a bolt
 * executor takes up to a batch of tuples from its input queue, a spout executor first hands its
 * tasks the completed and failed trees, then calls nextTuple a batch of times. Emits go to per-target
 * task buffers that are handed to the target executors' queues in batches. Nothing on this path
 * allocates a closure or a promise per tuple, and ids are numbers.
 */
import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Acker, EdgeIds } from '../acker.js';
import type { Anchors, Bolt, Spout, TopologyContext, Values } from '../api.js';
import type { TopologySettings } from '../config.js';
import type { Grouper } from '../groupings.js';
import { estimateBytes, Tuple, type StreamInfo } from '../tuple.js';
import type { Clock } from './clock.js';
import { InputQueue } from './queue.js';
import type { BoltCollectorImpl, SpoutCollectorImpl } from './collectors.js';
import type { TaskStats } from './stats.js';

export interface ExecutorHost {
  /** Time at the start of the current turn (the runtime's clock). */
  now: number;
  readonly clock: Clock;
  readonly acker: Acker | null;
  readonly edges: EdgeIds;
  readonly settings: TopologySettings;
  /** Executor of each task id (index = task id). */
  readonly executorOfTask: Executor[];
  readonly log: Logger;
}

/** One output stream of one task: its targets' groupers, or for a direct stream the tasks that may be named. */
export class TaskRoute {
  constructor(
    readonly info: StreamInfo,
    readonly index: number,
    readonly direct: boolean,
    readonly groupers: Grouper[],
    readonly directTasks: ReadonlySet<number>,
  ) {}
}

export abstract class Task {
  readonly routes: Record<string, TaskRoute> = Object.create(null) as Record<string, TaskRoute>;
  readonly streamIds: string[];
  stats!: TaskStats;
  context!: TopologyContext;
  private lastLog = 0;
  private suppressed = 0;
  constructor(
    readonly id: number,
    readonly index: number,
    readonly component: string,
    streams: string[],
  ) {
    this.streamIds = streams;
  }
  abstract readonly isSpout: boolean;
  reportError(log: Logger, err: unknown, what: string): void {
    this.stats.errors++;
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    this.stats.lastError = { time: Date.now(), error: text };
    const now = Date.now();
    if (now - this.lastLog >= 1000) {
      log.warn({ component: this.component, task: this.id, suppressed: this.suppressed, err: errorMessage(err) }, `${what} in component ${this.component} task ${this.id}`);
      this.lastLog = now;
      this.suppressed = 0;
    } else this.suppressed++;
  }
  undeclared(stream: string): MonsoonError {
    return new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `component ${this.component}: emit to undeclared stream ${JSON.stringify(stream)}; it declares ${this.streamIds.length ? this.streamIds.map((s) => JSON.stringify(s)).join(', ') : 'no streams'}`);
  }
}

export class SpoutTask extends Task {
  readonly isSpout = true;
  pending = 0;
  emits = 0;
  maxPending = 0;
  spout!: Spout;
  collector!: SpoutCollectorImpl;
}

export class BoltTask extends Task {
  readonly isSpout = false;
  bolt!: Bolt;
  collector!: BoltCollectorImpl;
  sampleCountdown = 1;
  tickSecs = 0;
}

export abstract class Executor {
  private out: (Tuple[] | undefined)[];
  private outBytes: number[];
  private dirty: number[] = [];
  private readonly tgt: number[] = [];
  /** Executors this one sends to (other than itself), for backpressure. */
  downstream: Executor[] = [];
  readonly queue: InputQueue | null;
  /** A target's buffer is handed over at this many bytes too, so large tuples move in smaller batches. */
  private readonly flushBytes: number;
  constructor(
    readonly id: number,
    readonly component: string,
    protected readonly host: ExecutorHost,
    taskCount: number,
    queueBytes: number,
  ) {
    this.out = new Array(taskCount + 1);
    this.outBytes = new Array<number>(taskCount + 1).fill(0);
    this.queue = this.isSpoutExecutor() ? null : new InputQueue(queueBytes, host.settings.high, host.settings.low);
    this.flushBytes = Math.max(1024, host.settings.queueBytes / 4);
  }
  abstract isSpoutExecutor(): boolean;
  abstract readonly tasks: Task[];
  /** One turn; true when it did any work. */
  abstract run(): boolean;

  /** True while any executor this one feeds is above its high watermark. */
  blocked(): boolean {
    const d = this.downstream;
    for (let i = 0; i < d.length; i++) if (d[i]!.queue!.over) return true;
    return false;
  }

  emit(task: Task, stream: string, anchors: Anchors, values: Values, msgId: unknown, direct: number): void {
    const route = task.routes[stream];
    if (route === undefined) throw task.undeclared(stream);
    if (!Array.isArray(values)) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `component ${task.component}: emit on stream ${JSON.stringify(stream)} takes an array of values`);
    if (values.length !== route.info.fields.names.length) {
      throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `component ${task.component}: emitted ${values.length} values on stream ${JSON.stringify(stream)}, which declares ${route.info.fields.names.length} fields [${route.info.fields.names.join(', ')}]`);
    }
    const tgt = this.tgt;
    let n = 0;
    if (direct >= 0) {
      if (!route.direct) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `component ${task.component}: emitDirect on stream ${JSON.stringify(stream)}, which is not declared direct`);
      if (!route.directTasks.has(direct)) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `component ${task.component}: emitDirect to task ${direct}, which does not subscribe to stream ${JSON.stringify(stream)} with a direct grouping`);
      tgt[n++] = direct;
    } else {
      if (route.direct) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `component ${task.component}: stream ${JSON.stringify(stream)} is direct; use emitDirect`);
      const gs = route.groupers;
      for (let g = 0; g < gs.length; g++) {
        const grouper = gs[g]!;
        if (grouper.many) {
          const m = grouper.chooseMany(values);
          for (let i = 0; i < m.length; i++) tgt[n++] = m[i]!;
        } else tgt[n++] = grouper.chooseOne(values);
      }
    }
    const stats = task.stats;
    stats.emitted[route.index]!++;
    stats.transferred += n;
    const bytes = estimateBytes(values);
    const host = this.host;
    const acker = host.acker;
    if (task.isSpout) {
      const st = task as SpoutTask;
      st.emits++;
      if (msgId !== undefined && acker !== null) {
        const root = acker.open(task.id, msgId, host.now);
        st.pending++;
        const edges = host.edges;
        let xh = 0;
        let xl = 0;
        for (let i = 0; i < n; i++) {
          const t = new Tuple(values, route.info, task.id, bytes);
          edges.next();
          t.root = root;
          t.edgeHi = edges.hi;
          t.edgeLo = edges.lo;
          xh ^= edges.hi;
          xl ^= edges.lo;
          this.buffer(tgt[i]!, t);
        }
        acker.xor(root, xh, xl);
        return;
      }
      if (n > 0) {
        const t = new Tuple(values, route.info, task.id, bytes);
        for (let i = 0; i < n; i++) this.buffer(tgt[i]!, t);
      }
      if (msgId !== undefined) {
        // acking is off (topology.acker.executors = 0): the message is acked as it is emitted
        st.pending++;
        (this as unknown as SpoutExecutor).completed(task.id, msgId, host.now, true);
      }
      return;
    }
    if (anchors !== null && acker !== null && isAnchored(anchors)) {
      for (let i = 0; i < n; i++) {
        const t = new Tuple(values, route.info, task.id, bytes);
        if (anchors instanceof Tuple) this.anchor(t, anchors);
        else for (let a = 0; a < (anchors as readonly Tuple[]).length; a++) this.anchor(t, (anchors as readonly Tuple[])[a]!);
        this.buffer(tgt[i]!, t);
      }
      return;
    }
    if (n > 0) {
      const t = new Tuple(values, route.info, task.id, bytes);
      for (let i = 0; i < n; i++) this.buffer(tgt[i]!, t);
    }
  }

  private anchor(child: Tuple, a: Tuple): void {
    if (a.root === 0) return;
    const edges = this.host.edges;
    edges.next();
    const hi = edges.hi;
    const lo = edges.lo;
    a.ackHi ^= hi;
    a.ackLo ^= lo;
    child.addRoot(a.root, hi, lo);
    const m = a.more;
    if (m !== null) for (let i = 0; i < m.length; i += 3) child.addRoot(m[i]!, hi, lo);
  }

  private buffer(target: number, t: Tuple): void {
    let b = this.out[target];
    if (b === undefined) {
      b = this.out[target] = [];
      this.dirty.push(target);
    }
    b.push(t);
    const bytes = (this.outBytes[target]! += t.bytes);
    if (b.length >= this.host.settings.producerBatch || bytes >= this.flushBytes) this.flushTask(target);
  }

  private flushTask(target: number): void {
    const b = this.out[target];
    if (b === undefined) return;
    this.out[target] = undefined;
    const bytes = this.outBytes[target]!;
    this.outBytes[target] = 0;
    this.host.executorOfTask[target]!.queue!.push(target, b, bytes);
  }

  /** True when emits are buffered (made outside a turn, e.g. by an asynchronous callback). */
  hasBuffered(): boolean {
    return this.dirty.length > 0;
  }

  /** Hands every emit buffer to its target's queue. */
  flush(): void {
    const d = this.dirty;
    for (let i = 0; i < d.length; i++) this.flushTask(d[i]!);
    d.length = 0;
  }
}

function isAnchored(anchors: Tuple | readonly Tuple[]): boolean {
  if (anchors instanceof Tuple) return anchors.root !== 0;
  for (let i = 0; i < anchors.length; i++) if (anchors[i]!.root !== 0) return true;
  return false;
}

export class SpoutExecutor extends Executor {
  active = false;
  private cTask: number[] = [];
  private cMsg: unknown[] = [];
  private cStart: number[] = [];
  private cOk: boolean[] = [];
  constructor(id: number, component: string, host: ExecutorHost, taskCount: number, readonly tasks: SpoutTask[], private readonly byId: SpoutTask[]) {
    super(id, component, host, taskCount, 0);
  }
  isSpoutExecutor(): boolean {
    return true;
  }
  /** A tree of one of this executor's tasks completed (ok) or failed; delivered at the next turn. */
  completed(task: number, msgId: unknown, startedAt: number, ok: boolean): void {
    this.cTask.push(task);
    this.cMsg.push(msgId);
    this.cStart.push(startedAt);
    this.cOk.push(ok);
  }
  hasCompletions(): boolean {
    return this.cTask.length > 0;
  }
  /** Hands the completions not yet delivered to `to` and forgets them (rebalance). */
  moveCompletions(to: (task: number, msgId: unknown, startedAt: number, ok: boolean) => void): void {
    for (let i = 0; i < this.cTask.length; i++) to(this.cTask[i]!, this.cMsg[i], this.cStart[i]!, this.cOk[i]!);
    this.cTask = [];
    this.cMsg = [];
    this.cStart = [];
    this.cOk = [];
  }
  private deliver(): number {
    const n = this.cTask.length;
    if (n === 0) return 0;
    const tasks = this.cTask;
    const msgs = this.cMsg;
    const starts = this.cStart;
    const oks = this.cOk;
    this.cTask = [];
    this.cMsg = [];
    this.cStart = [];
    this.cOk = [];
    const now = this.host.clock.now();
    for (let i = 0; i < n; i++) {
      const task = this.byId[tasks[i]!]!;
      task.pending--;
      const s = task.stats;
      try {
        if (oks[i]) {
          const lat = now - starts[i]!;
          s.acked++;
          s.completeLatencySum += lat;
          s.completeCount++;
          s.completeHist.add(lat);
          task.spout.ack?.(msgs[i]);
        } else {
          s.failed++;
          task.spout.fail?.(msgs[i]);
        }
      } catch (e) {
        task.reportError(this.host.log, e, oks[i] ? 'spout ack threw' : 'spout fail threw');
      }
    }
    this.flush();
    return n;
  }
  run(): boolean {
    const t0 = performance.now();
    let worked = this.deliver() > 0;
    if (this.active && !this.blocked()) {
      const batch = this.host.settings.spoutBatch;
      for (let k = 0; k < this.tasks.length; k++) {
        const task = this.tasks[k]!;
        const max = task.maxPending;
        for (let n = 1; n <= batch; n++) {
          if (max > 0 && task.pending >= max) break;
          const before = task.emits;
          try {
            task.spout.nextTuple();
          } catch (e) {
            task.reportError(this.host.log, e, 'nextTuple threw');
          }
          if (task.emits === before) break;
          worked = true;
          if ((n & 63) === 0) {
            this.flush();
            if (this.blocked()) break;
          }
        }
        this.flush();
        if (this.blocked()) break;
      }
    }
    const dt = performance.now() - t0;
    const share = dt / this.tasks.length;
    for (let k = 0; k < this.tasks.length; k++) this.tasks[k]!.stats.busyMs += share;
    return worked;
  }
}

export class BoltExecutor extends Executor {
  constructor(id: number, component: string, host: ExecutorHost, taskCount: number, queueBytes: number, readonly tasks: BoltTask[], private readonly byId: BoltTask[]) {
    super(id, component, host, taskCount, queueBytes);
  }
  isSpoutExecutor(): boolean {
    return false;
  }
  run(): boolean {
    const q = this.queue!;
    let budget = this.host.settings.executorBatch;
    const sampleEvery = this.host.settings.sampleEvery;
    let worked = false;
    while (budget > 0) {
      const b = q.peek();
      if (b === undefined) break;
      worked = true;
      const task = this.byId[b.task]!;
      const bolt = task.bolt;
      const tuples = b.tuples;
      const startPos = b.pos;
      const end = Math.min(tuples.length, startPos + budget);
      let bytes = 0;
      const t0 = performance.now();
      for (let i = startPos; i < end; i++) {
        const t = tuples[i]!;
        bytes += t.bytes;
        if (--task.sampleCountdown === 0) {
          task.sampleCountdown = sampleEvery;
          t.received = performance.now();
        }
        try {
          bolt.execute(t);
        } catch (e) {
          task.reportError(this.host.log, e, 'execute threw');
          task.collector.fail(t);
        }
      }
      const n = end - startPos;
      b.pos = end;
      budget -= n;
      task.stats.executed += n;
      task.stats.busyMs += performance.now() - t0;
      q.took(n, bytes, end === tuples.length);
      // hand over what this batch emitted and stop once a target crossed its high watermark, so a
      // queue overshoots its bound by at most one batch's output
      this.flush();
      if (this.blocked()) break;
    }
    this.flush();
    return worked;
  }
}
