/**
 * The topology configuration keys the runtimes read, with Storm's names and defaults where Storm has
 * them, validated once at submit (each error names the key and, for component overrides, the
 * component). Runtime code reads only the resolved settings.
 */
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { TopologyConfig } from './api.js';

export const ConfigKeys = {
  MESSAGE_TIMEOUT_SECS: 'topology.message.timeout.secs',
  MAX_SPOUT_PENDING: 'topology.max.spout.pending',
  ACKER_EXECUTORS: 'topology.acker.executors',
  TICK_TUPLE_FREQ_SECS: 'topology.tick.tuple.freq.secs',
  STATS_SAMPLE_RATE: 'topology.stats.sample.rate',
  WORKERS: 'topology.workers',
  /** Bytes an executor's input queue holds before its producers pause (Monsoon; Storm bounds by count). */
  QUEUE_BYTES: 'topology.executor.receive.buffer.bytes',
  HIGH_WATERMARK: 'topology.backpressure.high.watermark',
  LOW_WATERMARK: 'topology.backpressure.low.watermark',
  /** Tuples buffered per target task before the emit buffer is handed over (Storm 2's name). */
  PRODUCER_BATCH: 'topology.producer.batch.size',
  /** Tuples an executor takes from its queue per turn (Monsoon). */
  EXECUTOR_BATCH: 'topology.executor.batch.size',
  /** nextTuple calls per spout task per turn (Monsoon). */
  SPOUT_BATCH: 'topology.spout.batch.size',
} as const;

export interface TopologySettings {
  timeoutMs: number;
  ackers: number;
  sampleEvery: number;
  queueBytes: number;
  high: number;
  low: number;
  producerBatch: number;
  executorBatch: number;
  spoutBatch: number;
}

export interface ComponentSettings {
  /** 0 = unbounded. */
  maxSpoutPending: number;
  /** 0 = no tick tuples. */
  tickSecs: number;
  queueBytes: number;
}

function num(conf: TopologyConfig, key: string, def: number, where: string, check: (n: number) => boolean, rule: string): number {
  const v = conf[key];
  if (v === undefined || v === null) return def;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || !check(n)) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${where}${key}: must be ${rule}, got ${JSON.stringify(v)}`);
  return n;
}

const posInt = (n: number): boolean => Number.isInteger(n) && n >= 1;
const nonNegInt = (n: number): boolean => Number.isInteger(n) && n >= 0;

export function topologySettings(conf: TopologyConfig): TopologySettings {
  const w = '';
  const high = num(conf, ConfigKeys.HIGH_WATERMARK, 0.9, w, (n) => n > 0 && n <= 1, 'a fraction in (0, 1]');
  const low = num(conf, ConfigKeys.LOW_WATERMARK, 0.4, w, (n) => n >= 0 && n < 1, 'a fraction in [0, 1)');
  if (low >= high) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${ConfigKeys.LOW_WATERMARK} (${low}) must be below ${ConfigKeys.HIGH_WATERMARK} (${high})`);
  const rate = num(conf, ConfigKeys.STATS_SAMPLE_RATE, 0.05, w, (n) => n > 0 && n <= 1, 'a fraction in (0, 1]');
  return {
    timeoutMs: num(conf, ConfigKeys.MESSAGE_TIMEOUT_SECS, 30, w, (n) => n > 0, 'a positive number of seconds') * 1000,
    ackers: num(conf, ConfigKeys.ACKER_EXECUTORS, 1, w, nonNegInt, 'an integer ≥ 0 (0 disables acking)'),
    sampleEvery: Math.max(1, Math.round(1 / rate)),
    queueBytes: num(conf, ConfigKeys.QUEUE_BYTES, 64 * 1024, w, (n) => posInt(n) && n >= 1024, 'an integer ≥ 1024'),
    high,
    low,
    producerBatch: num(conf, ConfigKeys.PRODUCER_BATCH, 256, w, posInt, 'a positive integer'),
    executorBatch: num(conf, ConfigKeys.EXECUTOR_BATCH, 1024, w, posInt, 'a positive integer'),
    spoutBatch: num(conf, ConfigKeys.SPOUT_BATCH, 256, w, posInt, 'a positive integer'),
  };
}

/** A component's settings: its own configuration over the topology's. */
export function componentSettings(component: string, topo: TopologyConfig, own: TopologyConfig, base: TopologySettings): ComponentSettings {
  const merged = { ...topo, ...own };
  const w = `component ${component}: `;
  return {
    maxSpoutPending: num(merged, ConfigKeys.MAX_SPOUT_PENDING, 0, w, nonNegInt, 'an integer ≥ 0 (0 or absent: unbounded)'),
    tickSecs: num(merged, ConfigKeys.TICK_TUPLE_FREQ_SECS, 0, w, (n) => n >= 0, 'a number of seconds ≥ 0'),
    queueBytes: num(merged, ConfigKeys.QUEUE_BYTES, base.queueBytes, w, (n) => posInt(n) && n >= 1024, 'an integer ≥ 1024'),
  };
}
