/**
 * The collectors a task's code emits through (Storm's SpoutOutputCollector / OutputCollector, with
 * their overloads), and the adapter that runs a basic bolt as a rich one. Acks and fails go straight
 * to the acker table: XOR of the input's edge and the edges anchored to it, per root.
 */
import type { Logger } from '../../core/log.js';
import { FailedException, type Anchors, type BasicBolt, type BasicOutputCollector, type Bolt, type OutputCollector, type SpoutOutputCollector, type TopologyConfig, type TopologyContext, type Values } from '../api.js';
import { DEFAULT_STREAM, type Tuple } from '../tuple.js';
import type { BoltExecutor, BoltTask, ExecutorHost, SpoutExecutor, SpoutTask } from './executor.js';

export class SpoutCollectorImpl implements SpoutOutputCollector {
  /** The executor running the task; rebalance moves a task to another executor. */
  constructor(public ex: SpoutExecutor, private readonly task: SpoutTask, private readonly log: Logger) {}
  emit(a: string | Values, b?: Values | unknown, c?: unknown): void {
    if (typeof a === 'string') this.ex.emit(this.task, a, null, b as Values, c, -1);
    else this.ex.emit(this.task, DEFAULT_STREAM, null, a, b, -1);
  }
  emitDirect(taskId: number, a: string | Values, b?: Values | unknown, c?: unknown): void {
    if (typeof a === 'string') this.ex.emit(this.task, a, null, b as Values, c, taskId);
    else this.ex.emit(this.task, DEFAULT_STREAM, null, a, b, taskId);
  }
  reportError(error: unknown): void {
    this.task.reportError(this.log, error, 'reported error');
  }
  getPendingCount(): number {
    return this.task.pending;
  }
}

export class BoltCollectorImpl implements OutputCollector {
  /** The executor running the task; rebalance moves a task to another executor. */
  constructor(public ex: BoltExecutor, private readonly task: BoltTask, private readonly host: ExecutorHost) {}
  emit(a: string | Anchors | Values, b?: Anchors | Values, c?: Values): void {
    if (typeof a === 'string') this.ex.emit(this.task, a, (b ?? null) as Anchors, c!, undefined, -1);
    else if (b === undefined) this.ex.emit(this.task, DEFAULT_STREAM, null, a as Values, undefined, -1);
    else this.ex.emit(this.task, DEFAULT_STREAM, a as Anchors, b as Values, undefined, -1);
  }
  emitDirect(taskId: number, a: string | Anchors, b?: Anchors | Values, c?: Values): void {
    if (typeof a === 'string') this.ex.emit(this.task, a, (b ?? null) as Anchors, c!, undefined, taskId);
    else this.ex.emit(this.task, DEFAULT_STREAM, a, b as Values, undefined, taskId);
  }
  ack(t: Tuple): void {
    const s = this.task.stats;
    s.acked++;
    if (t.received !== 0) {
      s.procLatencySum += performance.now() - t.received;
      s.procLatencyCount++;
      t.received = 0;
    }
    const acker = this.host.acker;
    if (acker === null || t.root === 0) return;
    const ah = t.ackHi;
    const al = t.ackLo;
    acker.xor(t.root, t.edgeHi ^ ah, t.edgeLo ^ al);
    const m = t.more;
    if (m !== null) for (let i = 0; i < m.length; i += 3) acker.xor(m[i]!, m[i + 1]! ^ ah, m[i + 2]! ^ al);
  }
  fail(t: Tuple): void {
    this.task.stats.failed++;
    t.received = 0;
    const acker = this.host.acker;
    if (acker === null || t.root === 0) return;
    acker.fail(t.root);
    const m = t.more;
    if (m !== null) for (let i = 0; i < m.length; i += 3) acker.fail(m[i]!);
  }
  resetTimeout(t: Tuple): void {
    const acker = this.host.acker;
    if (acker === null || t.root === 0) return;
    const now = this.host.clock.now();
    acker.touch(t.root, now);
    const m = t.more;
    if (m !== null) for (let i = 0; i < m.length; i += 3) acker.touch(m[i]!, now);
  }
  reportError(error: unknown): void {
    this.task.reportError(this.host.log, error, 'reported error');
  }
}

/** Runs a basic bolt as a rich one: emits anchored to the input, ack after execute, fail on a throw. */
export class BasicBoltAdapter implements Bolt, BasicOutputCollector {
  private collector!: OutputCollector;
  private input: Tuple | null = null;
  constructor(readonly inner: BasicBolt) {}
  prepare(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): void | Promise<void> {
    this.collector = collector;
    return this.inner.prepare?.(conf, context);
  }
  execute(input: Tuple): void {
    this.input = input;
    try {
      this.inner.execute(input, this);
    } catch (e) {
      this.input = null;
      this.collector.fail(input);
      if (!(e instanceof FailedException)) this.collector.reportError(e);
      return;
    }
    this.input = null;
    this.collector.ack(input);
  }
  cleanup(): void | Promise<void> {
    return this.inner.cleanup?.();
  }
  emit(a: string | Values, b?: Values): void {
    if (typeof a === 'string') this.collector.emit(a, this.input, b!);
    else this.collector.emit(this.input, a);
  }
  emitDirect(taskId: number, a: string | Values, b?: Values): void {
    if (typeof a === 'string') this.collector.emitDirect(taskId, a, this.input, b!);
    else this.collector.emitDirect(taskId, this.input, a);
  }
  reportError(error: unknown): void {
    this.collector.reportError(error);
  }
}
