/**
 * The windowed bolt contract in Storm's shape: `execute(inputWindow)` receives a `TupleWindow` (all
 * tuples in the window, those new since the last evaluation, those that left it) when the window
 * fires. `BaseWindowedBolt` records the window in its component configuration with
 * withWindow / withTumblingWindow and the event-time options, so the Topology IR carries it.
 */
import type { OutputCollector, OutputFieldsDeclarer, TopologyConfig, TopologyContext } from '../api.js';
import type { Tuple } from '../tuple.js';
import { Count, Duration, WindowKeys } from './config.js';

export interface TupleWindow {
  /** Every tuple in the window, oldest first (by event time when the window uses event time). */
  get(): Tuple[];
  /** Tuples that entered the window since its last evaluation. */
  getNew(): Tuple[];
  /** Tuples that left the window since its last evaluation (already acked). */
  getExpired(): Tuple[];
  /** The window's end: its end time for duration windows; the clock or watermark when a count window fired. */
  getEndTimestamp(): number;
  /** The window's start (end − length) for duration windows; null for count windows. */
  getStartTimestamp(): number | null;
}

export type TimestampExtractor = (t: Tuple) => number;

export interface WindowedBolt {
  readonly windowed: true;
  /** Emits through this collector without anchors are anchored to every tuple of the window being evaluated. */
  prepare?(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): void | Promise<void>;
  execute(inputWindow: TupleWindow): void;
  cleanup?(): void | Promise<void>;
  declareOutputFields?(declarer: OutputFieldsDeclarer): void;
  getComponentConfiguration?(): TopologyConfig | null | undefined;
  getTimestampExtractor?(): TimestampExtractor | null;
}

export function isWindowedBolt(b: unknown): b is WindowedBolt {
  return (b as { windowed?: unknown } | null)?.windowed === true;
}

type Length = Count | Duration;

export abstract class BaseWindowedBolt implements WindowedBolt {
  readonly windowed = true;
  protected windowConfiguration: TopologyConfig = {};
  private extractor: TimestampExtractor | null = null;
  abstract execute(inputWindow: TupleWindow): void;
  declareOutputFields(_declarer: OutputFieldsDeclarer): void {}

  /** A sliding window: `length` and `slide` are both counts or both durations. */
  withWindow(length: Length, slide?: Length): this {
    const c = this.windowConfiguration;
    for (const k of [WindowKeys.LENGTH_COUNT, WindowKeys.LENGTH_MS, WindowKeys.SLIDE_COUNT, WindowKeys.SLIDE_MS]) delete c[k];
    if (length instanceof Count) c[WindowKeys.LENGTH_COUNT] = length.value;
    else c[WindowKeys.LENGTH_MS] = length.value;
    const s = slide ?? (length instanceof Count ? Count.of(1) : length);
    if (s instanceof Count) c[WindowKeys.SLIDE_COUNT] = s.value;
    else c[WindowKeys.SLIDE_MS] = s.value;
    return this;
  }
  /** A tumbling window: the slide equals the length. */
  withTumblingWindow(length: Length): this {
    return this.withWindow(length, length);
  }
  /** Event time from a numeric field (milliseconds). */
  withTimestampField(name: string): this {
    this.windowConfiguration[WindowKeys.TIMESTAMP_FIELD] = name;
    return this;
  }
  /** Event time from a function of the tuple (milliseconds). */
  withTimestampExtractor(fn: TimestampExtractor): this {
    this.extractor = fn;
    this.windowConfiguration[WindowKeys.TIMESTAMP_EXTRACTOR] = fn.name || 'function';
    return this;
  }
  /** How far behind the newest event time a tuple may arrive and still be in its windows. */
  withLag(lag: Duration): this {
    this.windowConfiguration[WindowKeys.LAG_MS] = lag.value;
    return this;
  }
  withWatermarkInterval(interval: Duration): this {
    this.windowConfiguration[WindowKeys.WATERMARK_INTERVAL_MS] = interval.value;
    return this;
  }
  /** Tuples behind the watermark are emitted on this stream (field `late_tuple`) instead of being dropped. */
  withLateTupleStream(streamId: string): this {
    this.windowConfiguration[WindowKeys.LATE_STREAM] = streamId;
    return this;
  }
  /** Monsoon: an input task silent this long no longer holds the watermark back. */
  withIdleInputTimeout(idle: Duration): this {
    this.windowConfiguration[WindowKeys.IDLE_INPUT_MS] = idle.value;
    return this;
  }
  /** Monsoon: tuples one task holds at most (topology.bolts.window.max.tuples). */
  withMaxTuples(n: number): this {
    this.windowConfiguration[WindowKeys.MAX_TUPLES] = n;
    return this;
  }
  getTimestampExtractor(): TimestampExtractor | null {
    return this.extractor;
  }
  getComponentConfiguration(): TopologyConfig | null {
    return { ...this.windowConfiguration };
  }
}
