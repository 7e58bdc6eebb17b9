/**
 * Window configuration: `Count.of(n)` and `Duration.of(ms)` / `Duration.seconds(n)`, the component
 * configuration keys a windowed bolt records them under (Storm's names, so the Topology IR and Flux
 * YAML carry them), and the validated `WindowSpec` the window executor runs from. Validation names the
 * component; the message-timeout rule is Storm's: a tuple stays unacked for up to window length +
 * slide, so `topology.message.timeout.secs` must be larger.
 */
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { TopologyConfig } from '../api.js';

export class Count {
  private constructor(readonly value: number) {}
  static of(n: number): Count {
    if (!Number.isInteger(n) || n < 1) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `Count.of: a window count must be a positive integer, got ${String(n)}`);
    return new Count(n);
  }
}

export class Duration {
  private constructor(readonly value: number) {}
  /** A duration in milliseconds. */
  static of(ms: number): Duration {
    if (!Number.isFinite(ms) || ms < 0) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `Duration.of: a duration must be a number of milliseconds ≥ 0, got ${String(ms)}`);
    return new Duration(ms);
  }
  static millis(ms: number): Duration {
    return Duration.of(ms);
  }
  static seconds(s: number): Duration {
    return Duration.of(s * 1000);
  }
  static minutes(m: number): Duration {
    return Duration.of(m * 60_000);
  }
  static hours(h: number): Duration {
    return Duration.of(h * 3_600_000);
  }
  static days(d: number): Duration {
    return Duration.of(d * 86_400_000);
  }
}

export const WindowKeys = {
  LENGTH_COUNT: 'topology.bolts.window.length.count',
  LENGTH_MS: 'topology.bolts.window.length.duration.ms',
  SLIDE_COUNT: 'topology.bolts.window.sliding.interval.count',
  SLIDE_MS: 'topology.bolts.window.sliding.interval.duration.ms',
  TIMESTAMP_FIELD: 'topology.bolts.tuple.timestamp.field.name',
  /** Set (to the extractor's name) when the bolt carries a timestamp extractor function. */
  TIMESTAMP_EXTRACTOR: 'topology.bolts.tuple.timestamp.extractor',
  LAG_MS: 'topology.bolts.tuple.timestamp.max.lag.ms',
  WATERMARK_INTERVAL_MS: 'topology.bolts.watermark.event.interval.ms',
  LATE_STREAM: 'topology.bolts.late.tuple.stream',
  /** Monsoon: tuples one task holds at most (window + waiting for the watermark). */
  MAX_TUPLES: 'topology.bolts.window.max.tuples',
  /** Monsoon: an input task silent this long stops holding the watermark back. */
  IDLE_INPUT_MS: 'topology.bolts.watermark.idle.input.ms',
} as const;

/** The field of the tuples a windowed bolt emits on its late-tuple stream (the late tuple itself). */
export const LATE_TUPLE_FIELD = 'late_tuple';

export const WINDOW_DEFAULTS = { watermarkIntervalMs: 1000, maxTuples: 100_000, idleInputMs: 10_000 } as const;

export interface WindowSpec {
  /** Exactly one of lengthCount / lengthMs is set; slide is of the same kind. */
  lengthCount: number;
  lengthMs: number;
  slideCount: number;
  slideMs: number;
  byCount: boolean;
  eventTime: boolean;
  timestampField: string | null;
  lagMs: number;
  watermarkIntervalMs: number;
  idleInputMs: number;
  lateStream: string | null;
  maxTuples: number;
}

function opt(conf: TopologyConfig, key: string, where: string, check: (n: number) => boolean, rule: string): number | undefined {
  const v = conf[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || !check(n)) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `${where}${key}: must be ${rule}, got ${JSON.stringify(v)}`);
  return n;
}

const posInt = (n: number): boolean => Number.isInteger(n) && n >= 1;
const pos = (n: number): boolean => n > 0;
const nonNeg = (n: number): boolean => n >= 0;

/** Reads and checks a windowed bolt's configuration (its own keys over the topology's). */
export function windowSpec(component: string, conf: TopologyConfig, hasExtractor: boolean): WindowSpec {
  const w = `windowed bolt ${component}: `;
  const lc = opt(conf, WindowKeys.LENGTH_COUNT, w, posInt, 'a positive integer');
  const lm = opt(conf, WindowKeys.LENGTH_MS, w, pos, 'a positive number of milliseconds');
  const sc = opt(conf, WindowKeys.SLIDE_COUNT, w, posInt, 'a positive integer');
  const sm = opt(conf, WindowKeys.SLIDE_MS, w, pos, 'a positive number of milliseconds');
  if ((lc === undefined) === (lm === undefined)) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `${w}give the window length as a count or as a duration (withWindow / withTumblingWindow), not ${lc === undefined ? 'neither' : 'both'}`);
  const byCount = lc !== undefined;
  if (byCount ? sm !== undefined : sc !== undefined) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `${w}window length and sliding interval must both be counts or both durations`);
  const field = conf[WindowKeys.TIMESTAMP_FIELD];
  if (field !== undefined && field !== null && (typeof field !== 'string' || field === '')) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `${w}${WindowKeys.TIMESTAMP_FIELD}: must be a field name`);
  const eventTime = typeof field === 'string' || hasExtractor;
  const late = conf[WindowKeys.LATE_STREAM];
  if (late !== undefined && late !== null && (typeof late !== 'string' || late === '')) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `${w}${WindowKeys.LATE_STREAM}: must be a stream id`);
  if (typeof late === 'string' && !eventTime) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `${w}a late-tuple stream needs event time (withTimestampField or withTimestampExtractor)`);
  const spec: WindowSpec = {
    lengthCount: lc ?? 0,
    lengthMs: lm ?? 0,
    slideCount: byCount ? (sc ?? lc!) : 0,
    slideMs: byCount ? 0 : (sm ?? lm!),
    byCount,
    eventTime,
    timestampField: typeof field === 'string' ? field : null,
    lagMs: opt(conf, WindowKeys.LAG_MS, w, nonNeg, 'a number of milliseconds ≥ 0') ?? 0,
    watermarkIntervalMs: opt(conf, WindowKeys.WATERMARK_INTERVAL_MS, w, pos, 'a positive number of milliseconds') ?? WINDOW_DEFAULTS.watermarkIntervalMs,
    idleInputMs: opt(conf, WindowKeys.IDLE_INPUT_MS, w, pos, 'a positive number of milliseconds') ?? WINDOW_DEFAULTS.idleInputMs,
    lateStream: typeof late === 'string' ? late : null,
    maxTuples: opt(conf, WindowKeys.MAX_TUPLES, w, posInt, 'a positive integer') ?? WINDOW_DEFAULTS.maxTuples,
  };
  if (spec.byCount && spec.lengthCount > spec.maxTuples) throw new MonsoonError(ErrorCodes.WINDOW_INVALID, `${w}a window of ${spec.lengthCount} tuples exceeds ${WindowKeys.MAX_TUPLES} (${spec.maxTuples}); raise the limit or shorten the window`);
  return spec;
}

/**
 * Storm's rule: a tuple is acked when it leaves its last window, up to length + slide after it
 * arrived, so the message timeout must be longer or every tuple would time out and be replayed.
 */
export function checkTimeout(component: string, spec: WindowSpec, timeoutMs: number): void {
  if (spec.byCount) return;
  const need = spec.lengthMs + spec.slideMs;
  if (timeoutMs <= need) {
    throw new MonsoonError(
      ErrorCodes.WINDOW_INVALID,
      `windowed bolt ${component}: topology.message.timeout.secs (${timeoutMs / 1000}) must be greater than window length + sliding interval (${need / 1000} s), or its tuples time out before their windows expire; raise the timeout or shorten the window`,
    );
  }
}
