import { JetStreamApiError, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import type { Bus, BusAdmin, BusRecord, Consumer, ConsumerOptions, PartitionLag, ProducedOffset } from '../bus.js';
import { checkConsumerArgs, validateGroupName, validateTopicName } from '../names.js';
import { natsAdmin } from './admin.js';
import { NatsConsumer, type NatsConsumerHost } from './consumer.js';
import { natsError, unknownTopic } from './errors.js';
import { kvMembersStore, openBuckets, type Buckets } from './kv.js';
import { checkPrefix, HEADER_TS, layout, parseNatsUrl, type TopicMeta } from './layout.js';
import { NatsMembership } from './membership.js';
import { NatsOffsets } from './offsets.js';
import { NatsProducer } from './produce.js';

/**
 * The NATS JetStream bus: each partition is a stream with file storage whose sequence numbers are the
 * contract's offsets plus one (see layout.ts). A produce publishes every record of the batch without
 * waiting between them — at most `maxInFlight` records and `maxInFlightBytes` bytes unacknowledged
 * over the whole bus — and resolves once JetStream acknowledged each (the stream leader stored it and,
 * with replicas, a majority of them did). Topic metadata, committed offsets and group membership live
 * in KV buckets, so several processes share topics and groups. src/bus/README.md ("NATS JetStream")
 * describes the layout, durability and failure handling.
 *
 * Durability is the server's: JetStream writes a message before acknowledging it but fsyncs its files
 * every `sync_interval` (2 minutes by default), so kill -9 of a lone server keeps acknowledged records
 * (the OS has them), while a power cut or kernel crash can lose up to that interval unless the server
 * runs with `jetstream { sync_interval: always }` (nats-server 2.10 and later; 2.9 fixes the interval at
 * 2 minutes). With `replicas` 3 an acknowledged record is on a
 * majority of servers, and one server lost does not lose it.
 */
export interface NatsBusOptions {
  /** Replicas of the streams and KV buckets this bus creates (default 1; 3 or 5 on a cluster). */
  replicas?: number;
  /** Name prefix of streams, subjects and KV buckets (default "monsoon"). */
  prefix?: string;
  /** How long one JetStream request (a publish acknowledgement, an API call) may take (default 10 s). */
  requestTimeoutMs?: number;
  /** Unacknowledged records over the whole bus (default 4,096). */
  maxInFlight?: number;
  /** Unacknowledged bytes over the whole bus (default 16 MiB). */
  maxInFlightBytes?: number;
  /** A consumer whose heartbeats stop (a crashed process) leaves its group after this (default 10 s). */
  sessionTimeoutMs?: number;
  /** How often a process heartbeats its consumers and picks up rebalances (default 1 s). */
  heartbeatMs?: number;
  log?: Logger;
}

/** Opens `nats://host:port[,host2:port2][?replicas=N&prefix=P]`; URL parameters override `options`. */
export async function openNatsBus(url: string, options: NatsBusOptions = {}): Promise<NatsBus> {
  const loc = parseNatsUrl(url);
  const opts: NatsBusOptions = { ...options, ...(loc.replicas !== undefined ? { replicas: loc.replicas } : {}), ...(loc.prefix !== undefined ? { prefix: loc.prefix } : {}) };
  const log = opts.log ?? silentLogger;
  const timeout = opts.requestTimeoutMs ?? 10_000;
  let nc: NatsConnection;
  try {
    // Once connected, the client reconnects for as long as the bus is open (to any server it knows).
    nc = await connect({ servers: loc.servers, name: 'monsoon', timeout: 5000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  } catch (e) {
    throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `cannot reach the NATS bus at ${url}: ${(e as Error).message}`, { retriable: true, cause: e });
  }
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') log.warn(`NATS bus ${url}: ${s.type} ${'server' in s ? String(s.server) : ''}`);
    }
  })().catch(() => {});
  try {
    const jsm = await jetstreamManager(nc, { timeout });
    const js = jetstream(nc, { timeout });
    const bus = new NatsBus(url, nc, js, jsm, opts);
    await bus.openBuckets();
    return bus;
  } catch (e) {
    await nc.close().catch(() => {});
    if (e instanceof MonsoonError) throw e;
    throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `the NATS server at ${url} does not offer JetStream (start nats-server with -js, or a jetstream {} block in its config): ${(e as Error).message}`, { retriable: true, cause: e });
  }
}
/**
 * The bus: topic metadata (cached), partition bounds and seeks by time, and the wiring of its parts —
 * produce.ts (the produce path), admin.ts (topics), offsets.ts (committed offsets), membership.ts
 * (consumer groups) and consumer.ts (consumers).
 */
export class NatsBus implements Bus {
  readonly admin: BusAdmin;
  readonly prefix: string;
  readonly replicas: number;
  private buckets!: Buckets;
  private offsets!: NatsOffsets;
  private readonly groups: NatsMembership;
  private readonly heartbeatMs: number;
  private readonly metas = new Map<string, TopicMeta>();
  private readonly producer: NatsProducer;
  private readonly consumerHost: NatsConsumerHost;
  private readonly log: Logger;
  private readonly timeout: number;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    options: NatsBusOptions,
  ) {
    this.prefix = options.prefix ?? 'monsoon';
    checkPrefix(this.prefix);
    this.replicas = options.replicas ?? 1;
    if (!Number.isInteger(this.replicas) || this.replicas < 1 || this.replicas > 5) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `NATS bus: replicas must be an integer from 1 to 5, got ${String(this.replicas)}`);
    this.log = options.log ?? silentLogger;
    this.timeout = options.requestTimeoutMs ?? 10_000;
    this.producer = new NatsProducer(
      {
        nc,
        prefix: this.prefix,
        timeout: this.timeout,
        meta: (t, fresh) => this.meta(t, fresh),
        forget: (t) => this.metas.delete(t),
        mapError: (e, what) => this.mapError(e, what),
      },
      options.maxInFlight ?? 4096,
      options.maxInFlightBytes ?? 16 * 1024 * 1024,
    );
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? Math.min(1000, Math.floor(sessionTimeoutMs / 3));
    if (!(sessionTimeoutMs > 0 && this.heartbeatMs > 0 && this.heartbeatMs < sessionTimeoutMs)) {
      throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `NATS bus: heartbeatMs (${this.heartbeatMs}) must be positive and below sessionTimeoutMs (${sessionTimeoutMs})`);
    }
    const membersStore = kvMembersStore(() => this.buckets.members);
    this.groups = new NatsMembership({ store: membersStore, sessionTimeoutMs, heartbeatMs: this.heartbeatMs, partitions: (t) => this.meta(t).then((m) => m.partitions, () => 0), log: this.log });
    this.consumerHost = {
      nc,
      jsm,
      streamOf: (t, p) => this.streamOf(t, p),
      bounds: (t, p) => this.bounds(t, p),
      committed: async (g, t, p) => (await this.offsets.committed(g))[layout.committedField(t, p)] ?? null,
      commit: (g, entries) => this.offsets.commit(g, entries),
      offsetForTimestamp: (t, p, ts) => this.offsetForTimestamp(t, p, ts),
      mapError: (e, what) => this.mapError(e, what),
      leave: (c) => this.groups.leave(c.group, c),
      maxWaitMs: this.heartbeatMs,
      maxPayload: nc.info?.max_payload ?? 1024 * 1024,
      log: this.log,
    };
    this.admin = natsAdmin({
      prefix: this.prefix,
      replicas: this.replicas,
      jsm,
      topics: () => this.buckets.topics,
      check: () => this.check(),
      meta: (t, fresh) => this.meta(t, fresh),
      cache: (t, m) => {
        if (m) this.metas.set(t, m);
        else this.metas.delete(t);
      },
      bounds: (t, p) => this.bounds(t, p),
      mapError: (e, what) => this.mapError(e, what),
      topicGone: async (t) => {
        await this.offsets.dropTopic(t);
        await this.groups.topicGone(t);
      },
    });
  }

  /** Opens (creating when missing) the topics, offsets and members buckets. */
  async openBuckets(): Promise<void> {
    this.buckets = await openBuckets(this.js, this.prefix, this.replicas, (e, what) => this.mapError(e, what));
    this.offsets = new NatsOffsets(this.buckets.offsets, (e, what) => this.mapError(e, what));
  }

  private check(): void {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.url} is closed`);
  }

  /** A NATS or JetStream failure as a coded error (`what` names the operation). */
  mapError(e: unknown, what: string): MonsoonError {
    return natsError(e, what, { url: this.url, replicas: this.replicas, closed: this.closed });
  }

  /** A topic's metadata, cached; `fresh` reads the KV bucket again. */
  async meta(topic: string, fresh = false): Promise<TopicMeta> {
    validateTopicName(topic);
    if (!fresh) {
      const m = this.metas.get(topic);
      if (m) return m;
    }
    let e;
    try {
      e = await this.buckets.topics.get(layout.key(topic));
    } catch (err) {
      throw this.mapError(err, `read topic ${topic}`);
    }
    if (!e || e.operation !== 'PUT') {
      this.metas.delete(topic);
      throw unknownTopic(topic);
    }
    const m = e.json<TopicMeta>();
    this.metas.set(topic, m);
    return m;
  }

  /** The first stored offset and the next offset to be written (stream sequences minus one). */
  async bounds(topic: string, partition: number): Promise<{ earliest: number; latest: number }> {
    const stream = await this.streamOf(topic, partition);
    let state;
    try {
      state = (await this.jsm.streams.info(stream)).state;
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === 10059) this.metas.delete(topic);
      throw this.mapError(e, `read the bounds of ${topic}-${partition}`);
    }
    const latest = state.last_seq;
    return { earliest: state.messages === 0 ? latest : state.first_seq - 1, latest };
  }

  async streamOf(topic: string, partition: number): Promise<string> {
    const m = await this.meta(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= m.partitions) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `topic ${topic} has partitions 0..${m.partitions - 1}; there is no partition ${String(partition)}`);
    return layout.stream(this.prefix, m, partition);
  }

  async produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]> {
    this.check();
    return this.producer.produce(topic, records);
  }

  async consumer(group: string, topics: string[], opts: ConsumerOptions = {}): Promise<Consumer> {
    this.check();
    const from = checkConsumerArgs(group, topics, opts);
    for (const t of topics) await this.meta(t, true);
    const c = new NatsConsumer(this.groups.nextMemberId(group), group, [...new Set(topics)], from, this.consumerHost);
    try {
      await this.groups.join(group, c);
    } catch (e) {
      await c.close();
      throw this.mapError(e, `join group ${group}`);
    }
    return c;
  }

  /**
   * The first offset whose record timestamp is at or after `ts`: a binary search over the stored
   * records by their `Monsoon-Ts` header, exact while timestamps do not decrease within the partition
   * (the producer's clock, or timestamps given in order).
   */
  async offsetForTimestamp(topic: string, partition: number, ts: number): Promise<number> {
    const stream = await this.streamOf(topic, partition);
    const { earliest, latest } = await this.bounds(topic, partition);
    let lo = earliest;
    let hi = latest;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      let m;
      try {
        m = await this.jsm.streams.getMessage(stream, { seq: mid + 1 });
      } catch (e) {
        throw this.mapError(e, `seek ${topic}-${partition} by time`);
      }
      // A record removed by retention meanwhile counts as older than any target.
      const t = m ? Number(m.header?.get(HEADER_TS)) : -Infinity;
      if (t >= ts) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  async lag(group: string): Promise<PartitionLag[]> {
    this.check();
    validateGroupName(group);
    const committed = await this.offsets.committed(group);
    const topics = new Set<string>(Object.keys(committed).map((k) => k.slice(0, k.lastIndexOf('/'))));
    for (const t of await this.groups.subscribedTopics(group).catch(() => [])) topics.add(t);
    const out: PartitionLag[] = [];
    for (const topic of [...topics].sort()) {
      const n = await this.meta(topic, true).then((m) => m.partitions, () => 0);
      const rows = await Promise.all(
        Array.from({ length: n }, async (_, partition) => {
          const { earliest, latest } = await this.bounds(topic, partition);
          const c = committed[layout.committedField(topic, partition)] ?? null;
          const lag = c === null ? latest - earliest : Math.max(0, latest - Math.max(c, earliest));
          return { topic, partition, committed: c, latest, lag };
        }),
      );
      out.push(...rows);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.producer.settled();
    for (const m of this.groups.all()) await (m as NatsConsumer).close();
    this.closed = true;
    this.producer.close();
    await this.nc.close().catch(() => {});
  }
}
