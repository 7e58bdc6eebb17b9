/**
 * Runs a windowed bolt as a plain bolt, per task (Storm's WindowedBoltExecutor): execute() puts
 * tuples into the task's WindowManager, the runtime clock fires duration windows and watermarks, and
 * the wrapped bolt's execute(window) runs when a window fires. Emits without anchors made while a
 * window is evaluated are anchored to every tuple of that window. Input tuples are acked by this
 * executor when they leave their last window (the bolt's own ack calls are ignored), failed when the
 * task holds topology.bolts.window.max.tuples tuples (MON_ERR_WINDOW_FULL, so the spout replays them
 * later), and late tuples go to the late-tuple stream (anchored, then acked) or are counted and acked.
 */
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Anchors, Bolt, OutputCollector, OutputFieldsDeclarer, TopologyConfig, TopologyContext, Values } from '../api.js';
import type { Cancel, Clock } from '../runtime/clock.js';
import { DEFAULT_STREAM, SYSTEM_COMPONENT, type Tuple } from '../tuple.js';
import type { TimestampExtractor, WindowedBolt } from './bolt.js';
import { checkTimeout, LATE_TUPLE_FIELD, WindowKeys, windowSpec, type WindowSpec } from './config.js';
import { WindowManager, type Window } from './manager.js';
import { WatermarkTracker } from './watermark.js';

/** Streams subscribed to by the runtime itself, not windowed (the checkpoint stream). */
const RUNTIME_STREAM_PREFIX = '$';

export interface WindowCounters {
  windows: number;
  late: number;
  /** Late tuples acked without a late-tuple stream to send them to. */
  lateDropped: number;
  /** Inputs failed because the task held max.tuples tuples. */
  rejected: number;
  held: number;
  watermark: number;
}

export class WindowedBoltExecutor implements Bolt {
  private collector!: OutputCollector;
  private spec!: WindowSpec;
  private manager!: WindowManager;
  private tracker: WatermarkTracker | null = null;
  private extractor: TimestampExtractor | null = null;
  private current: Tuple[] | null = null;
  private timers: Cancel[] = [];
  private component = '';
  readonly counters: WindowCounters = { windows: 0, late: 0, lateDropped: 0, rejected: 0, held: 0, watermark: -Infinity };

  constructor(readonly inner: WindowedBolt, private readonly clock: Clock, private readonly timeoutMs: number) {}

  declareOutputFields(d: OutputFieldsDeclarer): void {
    this.inner.declareOutputFields?.(d);
  }

  prepare(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): void | Promise<void> {
    this.component = context.getThisComponentId();
    this.collector = collector;
    this.extractor = this.inner.getTimestampExtractor?.() ?? null;
    const spec = (this.spec = windowSpec(this.component, conf, this.extractor !== null));
    checkTimeout(this.component, spec, this.timeoutMs);
    const field = spec.timestampField;
    const inputs: number[] = [];
    for (const src of context.getThisSources()) {
      const i = src.lastIndexOf(':');
      const comp = src.slice(0, i);
      const stream = src.slice(i + 1);
      if (comp === SYSTEM_COMPONENT || stream.startsWith(RUNTIME_STREAM_PREFIX)) continue;
      if (field !== null && this.extractor === null && !context.getComponentOutputFields(comp, stream).contains(field)) {
        throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `windowed bolt ${this.component}: ${WindowKeys.TIMESTAMP_FIELD} is ${JSON.stringify(field)}, which ${comp}'s stream ${JSON.stringify(stream)} does not declare`);
      }
      for (const t of context.getComponentTasks(comp)) if (!inputs.includes(t)) inputs.push(t);
    }
    this.manager = new WindowManager(spec, { fire: (w) => this.fire(w), expire: (ts) => this.expire(ts) });
    const now = this.clock.now();
    this.manager.startAt(now);
    if (spec.eventTime) {
      this.tracker = new WatermarkTracker(inputs, spec.lagMs, spec.idleInputMs, now);
      this.timers.push(this.clock.setInterval(() => this.onWatermarkTimer(), spec.watermarkIntervalMs));
    } else if (!spec.byCount) {
      this.timers.push(this.clock.setInterval(() => this.guard(() => this.manager.onTimer(this.clock.now())), spec.slideMs));
    }
    return this.inner.prepare?.(conf, context, new WindowOutputCollector(collector, this));
  }

  execute(t: Tuple): void {
    if (t.isTick()) return;
    const spec = this.spec;
    let ts: number;
    const now = this.clock.now();
    if (spec.eventTime) {
      const raw = this.extractor !== null ? this.extractor(t) : t.getValueByField(spec.timestampField!);
      ts = typeof raw === 'number' ? raw : raw instanceof Date ? raw.getTime() : Number.NaN;
      if (!Number.isFinite(ts)) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `windowed bolt ${this.component}: tuple from ${t.getSourceComponent()} has no numeric event time (${spec.timestampField !== null ? `field ${JSON.stringify(spec.timestampField)}` : 'timestamp extractor'} gave ${JSON.stringify(raw)})`);
      const tracker = this.tracker!;
      if (tracker.isLate(ts)) {
        this.counters.late++;
        if (spec.lateStream !== null) this.collector.emit(spec.lateStream, t, [t]);
        else this.counters.lateDropped++;
        this.collector.ack(t);
        return;
      }
      tracker.track(t.getSourceTask(), ts, now);
    } else ts = now;
    if (this.manager.held() >= spec.maxTuples) {
      this.counters.rejected++;
      this.collector.fail(t);
      this.collector.reportError(new MonsoonError(ErrorCodes.WINDOW_FULL, `windowed bolt ${this.component}: task holds ${spec.maxTuples} tuples (${WindowKeys.MAX_TUPLES}); input failed, to be replayed`, { retriable: true }));
      return;
    }
    this.manager.add(t, ts, now);
    this.counters.held = this.manager.held();
  }

  private onWatermarkTimer(): void {
    const wm = this.tracker!.compute(this.clock.now());
    if (wm === null) return;
    this.counters.watermark = wm;
    this.guard(() => this.manager.onWatermark(wm));
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.collector.reportError(e);
    }
    this.counters.held = this.manager.held();
  }

  private fire(w: Window): void {
    this.current = w.get();
    this.counters.windows++;
    try {
      this.inner.execute(w);
    } catch (e) {
      // the window's tuples are failed (replayed by their spouts); later acks of those trees are ignored
      this.collector.reportError(e);
      for (const t of w.get()) this.collector.fail(t);
    } finally {
      this.current = null;
    }
  }

  private expire(tuples: Tuple[]): void {
    for (const t of tuples) this.collector.ack(t);
  }

  /** The tuples of the window being evaluated, for anchoring; null outside an evaluation. */
  anchorsNow(): Tuple[] | null {
    return this.current;
  }

  cleanup(): void | Promise<void> {
    for (const c of this.timers) c();
    this.timers = [];
    return this.inner.cleanup?.();
  }
}

/** The collector a windowed bolt sees: anchors unanchored emits to the current window; acks are the executor's. */
class WindowOutputCollector implements OutputCollector {
  constructor(private readonly c: OutputCollector, private readonly ex: WindowedBoltExecutor) {}
  private anchors(a: Anchors | undefined): Anchors {
    return a ?? this.ex.anchorsNow();
  }
  emit(a: string | Anchors | Values, b?: Anchors | Values, c?: Values): void {
    if (typeof a === 'string') this.c.emit(a, this.anchors(b as Anchors), c!);
    else if (b === undefined) this.c.emit(DEFAULT_STREAM, this.anchors(null), a as Values);
    else this.c.emit(DEFAULT_STREAM, this.anchors(a as Anchors), b as Values);
  }
  emitDirect(taskId: number, a: string | Anchors, b?: Anchors | Values, c?: Values): void {
    if (typeof a === 'string') this.c.emitDirect(taskId, a, this.anchors(b as Anchors), c!);
    else this.c.emitDirect(taskId, DEFAULT_STREAM, this.anchors(a), b as Values);
  }
  ack(_t: Tuple): void {}
  fail(t: Tuple): void {
    this.c.fail(t);
  }
  resetTimeout(t: Tuple): void {
    this.c.resetTimeout(t);
  }
  reportError(e: unknown): void {
    this.c.reportError(e);
  }
}

/** The late-tuple stream a windowed bolt declares for itself (one field, the late tuple). */
export function declareWindowStreams(b: WindowedBolt, d: OutputFieldsDeclarer): void {
  const late = b.getComponentConfiguration?.()?.[WindowKeys.LATE_STREAM];
  if (typeof late === 'string' && late !== '') d.declareStream(late, [LATE_TUPLE_FIELD]);
}
