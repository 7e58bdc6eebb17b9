import { Kafka, logLevel, type Admin, type Message, type Producer } from 'kafkajs';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import type { Bus, BusAdmin, BusRecord, Consumer, ConsumerOptions, PartitionLag, ProducedOffset, TopicDescription } from '../bus.js';
import { partitionKey } from '../group-consumer.js';
import { checkConsumerArgs, checkedRecordSize, normalizeTopicConfig, validateGroupName, validateTopicName } from '../names.js';
import { Partitioner } from '../partitioner.js';
import { rangeAssigner } from './assigner.js';
import { KafkaConsumer } from './consumer.js';
import { kafkaError } from './errors.js';
import { kafkaTopics, unknownTopic, type KafkaTopics } from './topics.js';

/**
 * The Kafka bus (kafkajs): `kafka://host1:port1,host2:port2[?acks=all|1]`. Keyed records get their
 * partition from Monsoon's murmur2 partitioner (the one Kafka's Java client uses) and are sent with it
 * explicitly, so every client puts a key where Kafka would. A produce is one kafkajs send per chunk,
 * all in flight together, resolving once the brokers acknowledged every record (acks=all by default:
 * every in-sync replica). Consumer groups are Kafka's own (the group coordinator assigns partitions);
 * offsets are committed to Kafka; lag compares them with the high watermarks.
 */
export interface KafkaBusOptions {
  /** 'all' (default, every in-sync replica) or 1 (the leader only); the URL's ?acks= sets it too. */
  acks?: 'all' | 1;
  /** How long a produce waits for acknowledgements (default 30 s). */
  produceTimeoutMs?: number;
  /** Group session timeout (default 10 s) and heartbeat interval (default 500 ms). */
  sessionTimeoutMs?: number;
  heartbeatMs?: number;
  /** Most bytes of fetched records a consumer holds for poll (default 16 MiB). */
  maxQueuedBytes?: number;
  /** Largest record accepted (value + key + headers; default 1 MiB plus room, Kafka's default limit). */
  maxRecordBytes?: number;
  /** The topic catalog; defaults to the cluster's admin API (see topics.ts). */
  topics?: (admin: Admin) => KafkaTopics;
  clientId?: string;
  log?: Logger;
}

const CHUNK_RECORDS = 1000;
const CHUNK_BYTES = 4 * 1024 * 1024;

/** Brokers and options from `kafka://h1:p1,h2:p2?acks=...`. */
export function parseKafkaUrl(url: string): { brokers: string[]; acks: 'all' | 1 | undefined } {
  const m = /^kafka:\/\/([^/?#]+)\/?(?:\?([^#]*))?$/i.exec(url);
  if (!m) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url} names no Kafka brokers; use kafka://host:port[,host:port...]`);
  const brokers = m[1]!.split(',').filter(Boolean);
  for (const b of brokers) if (!/^[^:,]+:\d+$/.test(b)) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url}: broker ${JSON.stringify(b)} is not host:port`);
  let acks: 'all' | 1 | undefined;
  for (const [k, v] of new URLSearchParams(m[2] ?? '')) {
    if (k !== 'acks') throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url}: unknown option ${k}; the Kafka bus takes acks=all or acks=1`);
    if (v === 'all' || v === '-1') acks = 'all';
    else if (v === '1') acks = 1;
    else throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url}: acks must be all (or -1) or 1, got ${JSON.stringify(v)}; acks=0 cannot tell where records landed`);
  }
  return { brokers, acks };
}

function kafkajsLogger(log: Logger) {
  return () =>
    ({ level, log: entry }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      if (level <= logLevel.ERROR) log.warn({ kafkajs: entry }, `kafkajs: ${entry.message}`);
    };
}

export async function openKafkaBus(url: string, options: KafkaBusOptions = {}): Promise<KafkaBus> {
  const { brokers, acks } = parseKafkaUrl(url);
  const log = options.log ?? silentLogger;
  const kafka = new Kafka({
    clientId: options.clientId ?? 'monsoon',
    brokers,
    connectionTimeout: 5000,
    requestTimeout: 30_000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.ERROR,
    logCreator: kafkajsLogger(log),
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 } });
  try {
    await admin.connect();
    await producer.connect();
  } catch (e) {
    await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
    throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `cannot reach the Kafka bus at ${url}: ${(e as Error).message}`, { retriable: true, cause: e });
  }
  return new KafkaBus(url, kafka, admin, producer, { ...options, acks: options.acks ?? acks ?? 'all' });
}

export class KafkaBus implements Bus {
  readonly admin: BusAdmin;
  readonly topics: KafkaTopics;
  private readonly partitioner = new Partitioner();
  private readonly partitionCounts = new Map<string, number>();
  private readonly consumers = new Set<KafkaConsumer>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly log: Logger;
  private closed = false;
  private consumerSeq = 0;

  constructor(
    readonly url: string,
    private readonly kafka: Kafka,
    private readonly kadmin: Admin,
    private readonly producer: Producer,
    private readonly options: KafkaBusOptions,
  ) {
    this.log = options.log ?? silentLogger;
    this.topics = (options.topics ?? ((a) => kafkaTopics(a, `Kafka bus ${url}`)))(kadmin);
    this.admin = {
      createTopic: async (name, cfg) => {
        this.check();
        validateTopicName(name);
        const c = normalizeTopicConfig(name, cfg);
        await this.topics.create(name, c);
        this.partitionCounts.set(name, c.partitions);
      },
      describeTopic: (name) => this.describeTopic(name),
      listTopics: async () => {
        this.check();
        return this.topics.list();
      },
      deleteTopic: async (name) => {
        this.check();
        validateTopicName(name);
        this.partitionCounts.delete(name);
        await this.topics.delete(name);
      },
    };
  }

  private check(): void {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.url} is closed`);
  }

  private async partitions(topic: string): Promise<number> {
    validateTopicName(topic);
    const n = await this.topics.partitions(topic);
    if (n === null) {
      this.partitionCounts.delete(topic);
      throw unknownTopic(topic);
    }
    this.partitionCounts.set(topic, n);
    return n;
  }

  /** Every partition's log start and high watermark (ListOffsets earliest/latest). */
  private async offsets(topic: string): Promise<Map<number, { earliest: number; latest: number }>> {
    try {
      const rows = await this.kadmin.fetchTopicOffsets(topic);
      return new Map(rows.map((r) => [r.partition, { earliest: Number(r.low), latest: Number(r.high) }]));
    } catch (e) {
      throw kafkaError(e, `Kafka bus ${this.url}: offsets of ${topic}`);
    }
  }

  private async bounds(topic: string, partition: number): Promise<{ earliest: number; latest: number }> {
    const b = (await this.offsets(topic)).get(partition);
    if (!b) throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `Kafka bus ${this.url}: no offsets for ${topic}-${partition}`, { retriable: true });
    return b;
  }

  private async describeTopic(name: string): Promise<TopicDescription> {
    this.check();
    const n = await this.partitions(name);
    const [offsets, retention] = await Promise.all([this.offsets(name), this.topics.retention(name)]);
    const partitions = Array.from({ length: n }, (_, p) => ({ partition: p, ...(offsets.get(p) ?? { earliest: 0, latest: 0 }) }));
    return { name, partitions, ...retention };
  }

  async produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]> {
    this.check();
    const n = this.partitionCounts.get(topic) ?? (await this.partitions(topic));
    if (records.length === 0) return [];
    const sizes = records.map((r, i) => this.validateRecord(topic, r, i));
    const parts = this.partitioner.assign(topic, n, records);
    const now = String(Date.now());
    const result: ProducedOffset[] = new Array(records.length);
    const sends: Promise<void>[] = [];
    for (let start = 0; start < records.length; ) {
      let end = start;
      let bytes = 0;
      while (end < records.length && end - start < CHUNK_RECORDS && (end === start || bytes + sizes[end]! <= CHUNK_BYTES)) bytes += sizes[end++]!;
      const idx = Array.from({ length: end - start }, (_, k) => start + k);
      const messages: Message[] = idx.map((i) => {
        const r = records[i]!;
        return { key: r.key ?? null, value: r.value, partition: parts[i]!, timestamp: r.timestamp === undefined ? now : String(Math.trunc(r.timestamp)), ...(r.headers ? { headers: { ...r.headers } } : {}) };
      });
      sends.push(
        this.producer.send({ topic, messages, acks: this.options.acks === 1 ? 1 : -1, timeout: this.options.produceTimeoutMs ?? 30_000 }).then((meta) => {
          // kafkajs writes one batch per partition, in the order given: offsets are base + rank.
          const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
          const rank = new Map<number, number>();
          for (const i of idx) {
            const p = parts[i]!;
            const k = rank.get(p) ?? 0;
            rank.set(p, k + 1);
            const b = base.get(p);
            if (b === undefined || b < 0) throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `produce to ${topic}: no acknowledgement for partition ${p}`, { retriable: true });
            result[i] = { partition: p, offset: b + k };
          }
        }),
      );
      start = end;
    }
    const all = Promise.all(sends);
    this.inflight.add(all);
    try {
      await all;
    } catch (e) {
      const err = kafkaError(e, `produce to ${topic}`);
      if (err.code === ErrorCodes.BUS_UNKNOWN_TOPIC) this.partitionCounts.delete(topic);
      throw err;
    } finally {
      this.inflight.delete(all);
    }
    return result;
  }

  private validateRecord(topic: string, r: BusRecord, i: number): number {
    return checkedRecordSize(topic, r, i, this.options.maxRecordBytes ?? 1024 * 1024 + 4096);
  }

  async consumer(group: string, topics: string[], opts: ConsumerOptions = {}): Promise<Consumer> {
    this.check();
    const from = checkConsumerArgs(group, topics, opts);
    for (const t of topics) await this.partitions(t);
    const sessionTimeout = this.options.sessionTimeoutMs ?? 10_000;
    const kc = this.kafka.consumer({
      groupId: group,
      partitionAssigners: [rangeAssigner],
      sessionTimeout,
      rebalanceTimeout: Math.max(10_000, sessionTimeout),
      heartbeatInterval: this.options.heartbeatMs ?? 500,
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      // Joining waits out a rebalance (up to a session timeout): retry for longer than that.
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: Math.max(2000, sessionTimeout) },
    });
    const c = new KafkaConsumer(`${group}-${process.pid}-${++this.consumerSeq}`, group, [...new Set(topics)], from, kc, {
      bounds: (t, p) => this.bounds(t, p),
      committed: (g, ts) => this.committed(g, ts),
      offsetForTimestamp: (t, p, ts) => this.topics.offsetForTimestamp(t, p, ts),
      forget: (x) => this.consumers.delete(x),
      log: this.log,
      maxQueuedBytes: this.options.maxQueuedBytes ?? 16 * 1024 * 1024,
      joinTimeoutMs: Math.max(30_000, 3 * sessionTimeout),
    });
    this.consumers.add(c);
    try {
      await c.start();
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** The group's committed offsets (OffsetFetch) for the topics, keyed by partitionKey. */
  private async committed(group: string, topics: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (topics.length === 0) return out;
    try {
      for (const t of await this.kadmin.fetchOffsets({ groupId: group, topics: [...topics] })) {
        for (const p of t.partitions) if (Number(p.offset) >= 0) out.set(partitionKey(t.topic, p.partition), Number(p.offset));
      }
    } catch (e) {
      throw kafkaError(e, `Kafka bus ${this.url}: committed offsets of group ${group}`);
    }
    return out;
  }

  async lag(group: string): Promise<PartitionLag[]> {
    this.check();
    validateGroupName(group);
    // Asked per topic: OffsetFetch for "all topics" is not answered by every cluster (the mock's).
    const all = await this.topics.list();
    const committed = await this.committed(group, all);
    const topics = new Set<string>([...committed.keys()].map((k) => k.slice(0, k.indexOf('\u0000'))));
    for (const c of this.consumers) if (c.group === group) for (const t of c.topics) topics.add(t);
    const out: PartitionLag[] = [];
    for (const topic of [...topics].sort()) {
      const n = await this.partitions(topic).catch(() => 0);
      if (n === 0) continue;
      const offsets = await this.offsets(topic);
      for (let partition = 0; partition < n; partition++) {
        const { earliest, latest } = offsets.get(partition) ?? { earliest: 0, latest: 0 };
        const c = committed.get(partitionKey(topic, partition)) ?? null;
        const lag = c === null ? latest - earliest : Math.max(0, latest - Math.max(c, earliest));
        out.push({ topic, partition, committed: c, latest, lag });
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.inflight]);
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    await Promise.allSettled([this.producer.disconnect(), this.kadmin.disconnect()]);
  }
}

export type { KafkaTopics } from './topics.js';
