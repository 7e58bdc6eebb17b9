import { DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { nanos } from '@nats-io/transport-node';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { BusAdmin, TopicConfig, TopicDescription } from '../bus.js';
import { normalizeTopicConfig, validateTopicName } from '../names.js';
import { json } from './kv.js';
import { layout, newTopicId, type TopicMeta } from './layout.js';

/** Creating or deleting a topic's streams: at most this many requests at once. */
const CREATE_CONCURRENCY = 32;

/** What topic administration needs from the bus. */
export interface NatsAdminHost {
  readonly prefix: string;
  readonly replicas: number;
  readonly jsm: JetStreamManager;
  /** The topics bucket (opened after the bus is made). */
  topics(): KV;
  /** Throws BUS_CLOSED once the bus is closed. */
  check(): void;
  meta(topic: string, fresh?: boolean): Promise<TopicMeta>;
  /** Sets (a meta) or drops (undefined) a topic's cached metadata. */
  cache(topic: string, meta: TopicMeta | undefined): void;
  bounds(topic: string, partition: number): Promise<{ earliest: number; latest: number }>;
  mapError(e: unknown, what: string): MonsoonError;
  /** Drops what groups hold of a deleted topic: committed offsets, then subscriptions. */
  topicGone(topic: string): Promise<void>;
}

/**
 * Topic administration: a topic is a KV entry in the topics bucket (its metadata, with a fresh id)
 * and one stream per partition.
 */
export function natsAdmin(host: NatsAdminHost): BusAdmin {
  return {
    createTopic: (name, cfg) => createTopic(host, name, cfg),
    describeTopic: (name) => describeTopic(host, name),
    listTopics: () => listTopics(host),
    deleteTopic: (name) => deleteTopic(host, name),
  };
}

function streamConfig(prefix: string, t: TopicMeta, p: number): Partial<StreamConfig> & { name: string } {
  return {
    name: layout.stream(prefix, t, p),
    description: `Monsoon topic ${t.name} partition ${p}`,
    subjects: [layout.subject(prefix, t, p)],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: t.retentionMs > 0 ? nanos(t.retentionMs) : 0,
    max_bytes: t.retentionBytes > 0 ? t.retentionBytes : -1,
    num_replicas: t.replicas,
  };
}

async function createTopic(host: NatsAdminHost, name: string, cfg: TopicConfig): Promise<void> {
  host.check();
  validateTopicName(name);
  const c = normalizeTopicConfig(name, cfg);
  const meta: TopicMeta = { name, id: newTopicId(), partitions: c.partitions, retentionMs: c.retentionMs, retentionBytes: c.retentionBytes, replicas: host.replicas };
  // The KV entry claims the name atomically; the streams follow. A crash in between leaves a topic
  // whose missing streams read as "unknown topic" until it is deleted and created again.
  try {
    await host.topics().create(layout.key(name), json(meta));
  } catch (e) {
    if (e instanceof JetStreamApiError && (e.code === 10071 || e.code === 10164)) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
    if (/wrong last sequence|key exists/i.test((e as Error).message)) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
    throw host.mapError(e, `create topic ${name}`);
  }
  try {
    await forEachLimited(c.partitions, CREATE_CONCURRENCY, (p) => host.jsm.streams.add(streamConfig(host.prefix, meta, p)));
  } catch (e) {
    await forEachLimited(c.partitions, CREATE_CONCURRENCY, (p) => host.jsm.streams.delete(layout.stream(host.prefix, meta, p)).catch(() => {}));
    await host.topics().delete(layout.key(name)).catch(() => {});
    throw host.mapError(e, `create the streams of topic ${name}`);
  }
  host.cache(name, meta);
}

async function describeTopic(host: NatsAdminHost, name: string): Promise<TopicDescription> {
  host.check();
  const m = await host.meta(name, true);
  const partitions = await Promise.all(Array.from({ length: m.partitions }, async (_, p) => ({ partition: p, ...(await host.bounds(name, p)) })));
  return { name, partitions, retentionMs: m.retentionMs, retentionBytes: m.retentionBytes };
}

async function listTopics(host: NatsAdminHost): Promise<string[]> {
  host.check();
  const out: string[] = [];
  try {
    for await (const k of await host.topics().keys()) out.push(layout.nameOfKey(k));
  } catch (e) {
    throw host.mapError(e, 'list topics');
  }
  return out.sort();
}

async function deleteTopic(host: NatsAdminHost, name: string): Promise<void> {
  host.check();
  const m = await host.meta(name, true);
  try {
    await host.topics().delete(layout.key(name));
  } catch (e) {
    throw host.mapError(e, `delete topic ${name}`);
  }
  host.cache(name, undefined);
  await forEachLimited(m.partitions, CREATE_CONCURRENCY, async (p) => {
    try {
      await host.jsm.streams.delete(layout.stream(host.prefix, m, p));
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === 10059)) throw host.mapError(e, `delete the streams of topic ${name}`);
    }
  });
  // Committed offsets of the topic go with it, so a topic created again under the name starts afresh.
  await host.topicGone(name);
}

/** Runs `fn(0..n-1)` with at most `limit` at once; rejects with the first failure once all settled. */
async function forEachLimited(n: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  if (failure !== undefined) throw failure;
}
