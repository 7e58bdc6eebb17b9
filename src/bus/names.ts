import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { BusRecord, ConsumerOptions, TopicConfig } from './bus.js';

/**
 * Kafka's naming and limit rules, checked before anything touches storage so every bus rejects the
 * same inputs with the same codes.
 */
export const MAX_NAME_LENGTH = 249;
const LEGAL = /^[a-zA-Z0-9._-]+$/;

function checkName(kind: string, name: string): void {
  const fail = (why: string) => new MonsoonError(ErrorCodes.BUS_INVALID_NAME, `invalid ${kind} name ${JSON.stringify(name)}: ${why}`);
  if (typeof name !== 'string' || name.length === 0) throw fail('it is empty');
  if (name === '.' || name === '..') throw fail(`"." and ".." are not allowed`);
  if (name.length > MAX_NAME_LENGTH) throw fail(`it is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`);
  if (!LEGAL.test(name)) throw fail('only ASCII letters, digits, ".", "_" and "-" are allowed');
}

/** A topic name as Kafka allows it: [a-zA-Z0-9._-], 1–249 characters, not "." or "..". */
export function validateTopicName(name: string): void {
  checkName('topic', name);
}

/**
 * A consumer group name. Kafka allows any non-empty string; Monsoon applies the topic rule so a group
 * name is safe as a file name, a NATS durable name and a Redis key on every bus.
 */
export function validateGroupName(name: string): void {
  checkName('group', name);
}

export interface NormalizedTopicConfig {
  partitions: number;
  retentionMs: number;
  retentionBytes: number;
}

const MAX_PARTITIONS = 10_000;

/** Partitions 1–10,000; retention -1 (unlimited) or a positive integer. */
export function normalizeTopicConfig(name: string, cfg: TopicConfig): NormalizedTopicConfig {
  const bad = (what: string) => new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `topic ${name}: ${what}`);
  const p = cfg.partitions;
  if (!Number.isInteger(p) || p < 1 || p > MAX_PARTITIONS) throw bad(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${String(p)}`);
  const retention = (key: string, v: number | undefined): number => {
    if (v === undefined || v === -1) return -1;
    if (!Number.isSafeInteger(v) || v < 1) throw bad(`${key} must be -1 (unlimited) or a positive integer, got ${String(v)}`);
    return v;
  };
  return { partitions: p, retentionMs: retention('retentionMs', cfg.retentionMs), retentionBytes: retention('retentionBytes', cfg.retentionBytes) };
}

export function checkPartition(topic: string, partition: number, partitions: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `topic ${topic} has partitions 0..${partitions - 1}; there is no partition ${String(partition)}`);
  }
}

/** The error for record `i` of a produce to `topic`; nothing of the batch is written. */
export function recordError(topic: string, i: number, what: string, code: typeof ErrorCodes.BUS_INVALID_ARGUMENT | typeof ErrorCodes.BUS_RECORD_TOO_LARGE = ErrorCodes.BUS_INVALID_ARGUMENT): MonsoonError {
  return new MonsoonError(code, `produce to ${topic}: record ${i} ${what}; nothing of the batch was written`);
}

/** The contract's shape of a record: a Buffer value, a Buffer key or none, a finite timestamp or none. */
export function checkRecordShape(topic: string, r: BusRecord, i: number): void {
  if (!r || !Buffer.isBuffer(r.value)) throw recordError(topic, i, 'has no Buffer value');
  if (r.key != null && !Buffer.isBuffer(r.key)) throw recordError(topic, i, 'has a key that is not a Buffer');
  if (r.timestamp !== undefined && !Number.isFinite(r.timestamp)) throw recordError(topic, i, 'has a timestamp that is not a number');
}

/**
 * A record's checked shape and approximate wire size (value, key, string headers, 32 bytes of
 * framing), refused as BUS_RECORD_TOO_LARGE above `max` — for the buses whose server frames records
 * itself (Kafka, Redis).
 */
export function checkedRecordSize(topic: string, r: BusRecord, i: number, max: number): number {
  checkRecordShape(topic, r, i);
  let size = r.value.length + (r.key?.length ?? 0) + 32;
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    if (typeof v !== 'string') throw recordError(topic, i, `has header ${JSON.stringify(k)} whose value is not a string`);
    size += Buffer.byteLength(k) + Buffer.byteLength(v) + 6;
  }
  if (size > max) throw recordError(topic, i, `is ${size} bytes; this bus accepts at most ${max}`, ErrorCodes.BUS_RECORD_TOO_LARGE);
  return size;
}

/** The contract's checks of `consumer()` arguments; returns where partitions without a commit start. */
export function checkConsumerArgs(group: string, topics: readonly string[], opts: ConsumerOptions): 'earliest' | 'latest' {
  validateGroupName(group);
  if (topics.length === 0) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `consumer of group ${group}: no topics given`);
  const from = opts.from ?? 'latest';
  if (from !== 'earliest' && from !== 'latest') throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `consumer of group ${group}: from must be "earliest" or "latest", got ${String(from)}`);
  return from;
}
