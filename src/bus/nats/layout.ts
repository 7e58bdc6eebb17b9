import { randomBytes } from 'node:crypto';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { ConsumedRecord } from '../bus.js';

/**
 * How the NATS JetStream bus lays topics out, and how one record travels as a NATS message. Nothing
 * here loads the NATS client, so the URL is checked without it.
 *
 *   stream <prefix>-<readable topic>-<id>-<p>     one per partition, file storage; subject <prefix>.<id>.<p>;
 *                                                 the record at offset o has stream sequence o + 1
 *   KV <prefix>-topics   key <topic>              {name, id, partitions, retentionMs, retentionBytes, replicas}
 *   KV <prefix>-offsets  key <group>              {"<topic>/<p>": committed offset, ...}
 *   KV <prefix>-members  key <group>              {"<member id>": {topics, beat}, ...} (membership.ts)
 *
 * `<id>` is 12 random hex digits chosen when the topic is created, so a topic deleted and created again
 * gets new streams: a bus that cached the old layout fails to find them instead of writing into them.
 * The readable part (the topic with characters outside [A-Za-z0-9_-] replaced by "_", at most 64
 * characters) only helps an operator reading `nats stream ls`; the id makes the name unique.
 * KV keys are names with "." written as "=" (a name never contains "=", and a KV key must not hold an
 * empty token, which a name like "a..b" would make).
 *
 * A message's payload is the record's value; its headers: `Monsoon-Ts` (timestamp, ms), `Monsoon-Key`
 * (the key in base64; absent for a null key) and `H-<name>` per record header. Header names and values
 * are percent-encoded outside printable ASCII (and "%", ":" in names, spaces), because NATS headers
 * are lines of text whose values the client trims.
 */

export interface NatsLocation {
  servers: string[];
  /** Replicas of every stream and KV bucket created (the `replicas` query parameter). */
  replicas?: number;
  /** Name prefix of streams, subjects and buckets (the `prefix` query parameter). */
  prefix?: string;
}

/** `nats://host:port[,host2:port2][?replicas=3&prefix=monsoon]` (user:password@ allowed per host). */
export function parseNatsUrl(url: string): NatsLocation {
  const bad = (why: string) => new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url}: ${why}; use nats://host:port[,host2:port2][?replicas=N&prefix=P]`);
  const m = /^nats:\/\/([^/?#]+)\/?(?:\?([^#]*))?$/i.exec(url);
  if (!m) throw bad('names no NATS server');
  const servers = m[1]!.split(',').map((h) => h.trim()).filter(Boolean).map((h) => `nats://${h}`);
  if (servers.length === 0) throw bad('names no NATS server');
  const out: NatsLocation = { servers };
  for (const [k, v] of new URLSearchParams(m[2] ?? '')) {
    if (k === 'replicas') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 5) throw bad(`replicas must be an integer from 1 to 5, got ${JSON.stringify(v)}`);
      out.replicas = n;
    } else if (k === 'prefix') {
      checkPrefix(v, bad);
      out.prefix = v;
    } else {
      throw bad(`unknown parameter ${JSON.stringify(k)} (known: replicas, prefix)`);
    }
  }
  return out;
}

export function checkPrefix(prefix: string, bad = (why: string) => new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `NATS bus: ${why}`)): void {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw bad(`prefix must be 1–32 of [A-Za-z0-9_-], got ${JSON.stringify(prefix)}`);
}

export interface TopicMeta {
  name: string;
  id: string;
  partitions: number;
  retentionMs: number;
  retentionBytes: number;
  replicas: number;
}

export const newTopicId = () => randomBytes(6).toString('hex');

export const layout = {
  stream: (prefix: string, t: TopicMeta, p: number) => `${prefix}-${t.name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}-${t.id}-${p}`,
  subject: (prefix: string, t: TopicMeta, p: number) => `${prefix}.${t.id}.${p}`,
  topicsBucket: (prefix: string) => `${prefix}-topics`,
  offsetsBucket: (prefix: string) => `${prefix}-offsets`,
  membersBucket: (prefix: string) => `${prefix}-members`,
  /** A topic or group name as a KV key. */
  key: (name: string) => name.replace(/\./g, '='),
  nameOfKey: (key: string) => key.replace(/=/g, '.'),
  committedField: (topic: string, p: number) => `${topic}/${p}`,
};

export const HEADER_TS = 'Monsoon-Ts';
export const HEADER_KEY = 'Monsoon-Key';
export const HEADER_PREFIX = 'H-';

const encodeRuns = (s: string, runs: RegExp) => s.replace(runs, (run) => encodeURIComponent(run));
/** Header names: printable ASCII except ":" and "%". */
export const encodeHeaderName = (name: string) => HEADER_PREFIX + encodeRuns(name, /[^\x21-\x24\x26-\x39\x3b-\x7e]+/g);
/** Header values: printable ASCII except "%" (so no spaces to trim, no line breaks). */
export const encodeHeaderValue = (value: string) => encodeRuns(value, /[^\x21-\x24\x26-\x7e]+/g);
const decode = (s: string) => (s.includes('%') ? decodeURIComponent(s) : s);

/** The parts of a NATS message the bus reads. */
export interface RawMessage {
  data: Uint8Array;
  headers?: { keys(): string[]; get(k: string): string } | undefined;
}

export function decodeMessage(topic: string, partition: number, offset: number, m: RawMessage): ConsumedRecord {
  const r: ConsumedRecord = { topic, partition, offset, key: null, value: Buffer.from(m.data), headers: {}, timestamp: 0 };
  const h = m.headers;
  if (h) {
    for (const k of h.keys()) {
      if (k === HEADER_TS) r.timestamp = Number(h.get(k));
      else if (k === HEADER_KEY) r.key = Buffer.from(h.get(k), 'base64');
      else if (k.startsWith(HEADER_PREFIX)) r.headers[decode(k.slice(HEADER_PREFIX.length))] = decode(h.get(k));
    }
  }
  return r;
}

/**
 * The stream sequence of a message delivered by a consumer, from its reply subject:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` (9 tokens), or the newer form
 * with domain and account hash before the stream (12 tokens).
 */
export function streamSeqOf(reply: string | undefined): number {
  if (!reply) return NaN;
  const t = reply.split('.');
  if (t.length === 9) return Number(t[5]);
  if (t.length >= 11) return Number(t[7]);
  return NaN;
}
