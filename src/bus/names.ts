import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { TopicConfig } from './bus.js';

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
