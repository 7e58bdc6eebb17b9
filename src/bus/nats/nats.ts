import { DiscardPolicy, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, headers, nanos, RequestError, TimeoutError, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import type { Bus, BusAdmin, BusRecord, Consumer, ConsumerOptions, OffsetCommit, PartitionLag, ProducedOffset, TopicConfig, TopicDescription } from '../bus.js';
import { checkConsumerArgs, checkRecordShape, normalizeTopicConfig, recordError, validateGroupName, validateTopicName } from '../names.js';
import { Partitioner } from '../partitioner.js';
import { NatsConsumer, type NatsConsumerHost } from './consumer.js';
import { checkPrefix, encodeHeaderName, encodeHeaderValue, HEADER_KEY, HEADER_TS, layout, newTopicId, parseNatsUrl, type TopicMeta } from './layout.js';
import { PublishError, Publisher } from './publisher.js';
import { NatsMembership, type MembersDoc, type MembersStore } from './membership.js';

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

const unknownTopic = (topic: string) => new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `topic ${topic} does not exist`);
const enc = new TextEncoder();
const json = (v: unknown) => enc.encode(JSON.stringify(v));
/** Creating a topic's streams: at most this many requests at once. */
const CREATE_CONCURRENCY = 32;

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

/** A bounded window of unacknowledged publishes, in records and bytes. */
class Window {
  private records = 0;
  private bytes = 0;
  private waiters: Array<() => void> = [];
  constructor(
    private readonly maxRecords: number,
    private readonly maxBytes: number,
  ) {}
  /** True when there is room now; otherwise wait for `room()`. */
  tryAcquire(bytes: number): boolean {
    if (this.records > 0 && (this.records >= this.maxRecords || this.bytes + bytes > this.maxBytes)) return false;
    this.records++;
    this.bytes += bytes;
    return true;
  }
  room(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release(bytes: number): void {
    this.records--;
    this.bytes -= bytes;
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }
}

export class NatsBus implements Bus {
  readonly admin: BusAdmin;
  readonly prefix: string;
  readonly replicas: number;
  private topics!: KV;
  private offsets!: KV;
  private members!: KV;
  private readonly groups: NatsMembership;
  private readonly heartbeatMs: number;
  private readonly metas = new Map<string, TopicMeta>();
  private readonly partitioner = new Partitioner();
  private readonly window: Window;
  private readonly publisher: Publisher;
  private readonly log: Logger;
  private readonly timeout: number;
  private closed = false;
  private inflight = new Set<Promise<unknown>>();

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
    this.publisher = new Publisher(nc);
    this.window = new Window(options.maxInFlight ?? 4096, options.maxInFlightBytes ?? 16 * 1024 * 1024);
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? Math.min(1000, Math.floor(sessionTimeoutMs / 3));
    if (!(sessionTimeoutMs > 0 && this.heartbeatMs > 0 && this.heartbeatMs < sessionTimeoutMs)) {
      throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `NATS bus: heartbeatMs (${this.heartbeatMs}) must be positive and below sessionTimeoutMs (${sessionTimeoutMs})`);
    }
    this.groups = new NatsMembership({ store: this.membersStore, sessionTimeoutMs, heartbeatMs: this.heartbeatMs, partitions: (t) => this.meta(t).then((m) => m.partitions, () => 0), log: this.log });
    this.consumerHost = {
      nc,
      jsm,
      streamOf: (t, p) => this.streamOf(t, p),
      bounds: (t, p) => this.bounds(t, p),
      committed: async (g, t, p) => (await this.committedOffsets(g))[layout.committedField(t, p)] ?? null,
      commit: (g, entries) => this.commitOffsets(g, entries),
      offsetForTimestamp: (t, p, ts) => this.offsetForTimestamp(t, p, ts),
      mapError: (e, what) => this.mapError(e, what),
      leave: (c) => this.groups.leave(c.group, c),
      maxWaitMs: this.heartbeatMs,
      maxPayload: nc.info?.max_payload ?? 1024 * 1024,
      log: this.log,
    };
    this.admin = {
      createTopic: (name, cfg) => this.createTopic(name, cfg),
      describeTopic: (name) => this.describeTopic(name),
      listTopics: () => this.listTopics(),
      deleteTopic: (name) => this.deleteTopic(name),
    };
  }

  /** Opens (creating when missing) the topics, offsets and members buckets. */
  async openBuckets(): Promise<void> {
    const kvm = new Kvm(this.js);
    const open = async (name: string): Promise<KV> => {
      try {
        return await kvm.create(name, { history: 1, replicas: this.replicas, storage: StorageType.File });
      } catch (e) {
        // Created by another bus with other options (e.g. replicas): use it as it is.
        try {
          const kv = await kvm.open(name);
          await kv.status(); // open() does not check that the bucket exists
          return kv;
        } catch {
          throw this.mapError(e, `create KV bucket ${name}`);
        }
      }
    };
    [this.topics, this.offsets, this.members] = await Promise.all([open(layout.topicsBucket(this.prefix)), open(layout.offsetsBucket(this.prefix)), open(layout.membersBucket(this.prefix))]);
  }

  private check(): void {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.url} is closed`);
  }

  /** A NATS or JetStream failure as a coded error (`what` names the operation). */
  mapError(e: unknown, what: string): MonsoonError {
    if (e instanceof MonsoonError) return e;
    const msg = (e as Error)?.message ?? String(e);
    if (e instanceof JetStreamApiError && e.code === 10059) return new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `NATS bus ${this.url}: ${what}: the stream does not exist (the topic was deleted)`, { cause: e });
    if (e instanceof PublishError && e.code === 10054) return new MonsoonError(ErrorCodes.BUS_RECORD_TOO_LARGE, `NATS bus ${this.url}: ${what}: ${msg}`, { cause: e });
    if (e instanceof JetStreamApiError && e.code === 10074) return new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `NATS bus ${this.url}: ${what}: ${msg}; replicas=${this.replicas} needs a JetStream cluster of at least that many servers`, { cause: e });
    if (e instanceof JetStreamApiError && e.code === 10054) return new MonsoonError(ErrorCodes.BUS_RECORD_TOO_LARGE, `NATS bus ${this.url}: ${what}: ${msg}`, { cause: e });
    if (this.closed) return new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.url} is closed`, { cause: e });
    const hint = e instanceof PublishError && e.code === 408 ? '' : e instanceof TimeoutError ? ' (no answer in time)' : isNoStream(e) || (e instanceof RequestError && e.isNoResponders()) ? ' (no JetStream server answered: down, electing a leader, or the stream is gone)' : '';
    return new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `NATS bus ${this.url}: ${what} failed: ${msg}${hint}`, { retriable: true, cause: e });
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
      e = await this.topics.get(layout.key(topic));
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

  private streamConfig(t: TopicMeta, p: number): Partial<StreamConfig> & { name: string } {
    return {
      name: layout.stream(this.prefix, t, p),
      description: `Monsoon topic ${t.name} partition ${p}`,
      subjects: [layout.subject(this.prefix, t, p)],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: t.retentionMs > 0 ? nanos(t.retentionMs) : 0,
      max_bytes: t.retentionBytes > 0 ? t.retentionBytes : -1,
      num_replicas: t.replicas,
    };
  }

  private async createTopic(name: string, cfg: TopicConfig): Promise<void> {
    this.check();
    validateTopicName(name);
    const c = normalizeTopicConfig(name, cfg);
    const meta: TopicMeta = { name, id: newTopicId(), partitions: c.partitions, retentionMs: c.retentionMs, retentionBytes: c.retentionBytes, replicas: this.replicas };
    // The KV entry claims the name atomically; the streams follow. A crash in between leaves a topic
    // whose missing streams read as "unknown topic" until it is deleted and created again.
    try {
      await this.topics.create(layout.key(name), json(meta));
    } catch (e) {
      if (e instanceof JetStreamApiError && (e.code === 10071 || e.code === 10164)) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
      if (/wrong last sequence|key exists/i.test((e as Error).message)) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
      throw this.mapError(e, `create topic ${name}`);
    }
    try {
      await forEachLimited(c.partitions, CREATE_CONCURRENCY, (p) => this.jsm.streams.add(this.streamConfig(meta, p)));
    } catch (e) {
      await forEachLimited(c.partitions, CREATE_CONCURRENCY, (p) => this.jsm.streams.delete(layout.stream(this.prefix, meta, p)).catch(() => {}));
      await this.topics.delete(layout.key(name)).catch(() => {});
      throw this.mapError(e, `create the streams of topic ${name}`);
    }
    this.metas.set(name, meta);
  }

  private async describeTopic(name: string): Promise<TopicDescription> {
    this.check();
    const m = await this.meta(name, true);
    const partitions = await Promise.all(Array.from({ length: m.partitions }, async (_, p) => ({ partition: p, ...(await this.bounds(name, p)) })));
    return { name, partitions, retentionMs: m.retentionMs, retentionBytes: m.retentionBytes };
  }

  private async listTopics(): Promise<string[]> {
    this.check();
    const out: string[] = [];
    try {
      for await (const k of await this.topics.keys()) out.push(layout.nameOfKey(k));
    } catch (e) {
      throw this.mapError(e, 'list topics');
    }
    return out.sort();
  }

  private async deleteTopic(name: string): Promise<void> {
    this.check();
    const m = await this.meta(name, true);
    try {
      await this.topics.delete(layout.key(name));
    } catch (e) {
      throw this.mapError(e, `delete topic ${name}`);
    }
    this.metas.delete(name);
    await forEachLimited(m.partitions, CREATE_CONCURRENCY, async (p) => {
      try {
        await this.jsm.streams.delete(layout.stream(this.prefix, m, p));
      } catch (e) {
        if (!(e instanceof JetStreamApiError && e.code === 10059)) throw this.mapError(e, `delete the streams of topic ${name}`);
      }
    });
    // Committed offsets of the topic go with it, so a topic created again under the name starts afresh.
    const groups: string[] = [];
    try {
      for await (const g of await this.offsets.keys()) groups.push(layout.nameOfKey(g));
    } catch (e) {
      throw this.mapError(e, `list the groups of topic ${name}`);
    }
    for (const g of groups) {
      await this.updateOffsets(g, (doc) => {
        for (const k of Object.keys(doc)) if (k.slice(0, k.lastIndexOf('/')) === name) delete doc[k];
      });
    }
    await this.groups.topicGone(name);
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

  private encode(topic: string, r: BusRecord, i: number, now: number, maxPayload: number): { h: MsgHdrs; size: number } {
    const bad = (what: string, code?: typeof ErrorCodes.BUS_RECORD_TOO_LARGE) => recordError(topic, i, what, code);
    checkRecordShape(topic, r, i);
    const h = headers();
    const ts = String(r.timestamp === undefined ? now : Math.trunc(r.timestamp));
    h.set(HEADER_TS, ts);
    let size = r.value.length + 16 + HEADER_TS.length + ts.length + 4;
    if (r.key) {
      const k = r.key.toString('base64');
      h.set(HEADER_KEY, k);
      size += HEADER_KEY.length + k.length + 4;
    }
    for (const [k, v] of Object.entries(r.headers ?? {})) {
      if (typeof v !== 'string') throw bad(`has header ${JSON.stringify(k)} whose value is not a string`);
      let name: string, value: string;
      try {
        name = encodeHeaderName(k);
        value = encodeHeaderValue(v);
      } catch {
        throw bad(`has header ${JSON.stringify(k)} that is not well-formed Unicode`);
      }
      h.set(name, value);
      size += name.length + value.length + 4;
    }
    if (size > maxPayload) throw bad(`is ${size} bytes as a NATS message (value, key and headers); the server's max_payload is ${maxPayload}`, ErrorCodes.BUS_RECORD_TOO_LARGE);
    return { h, size };
  }

  async produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]> {
    this.check();
    const meta = await this.meta(topic);
    if (records.length === 0) return [];
    const now = Date.now();
    const maxPayload = this.nc.info?.max_payload ?? 1024 * 1024;
    const encoded = records.map((r, i) => this.encode(topic, r, i, now, maxPayload));
    const parts = this.partitioner.assign(topic, meta.partitions, records);
    const result: ProducedOffset[] = new Array(records.length);
    const acks: Promise<void>[] = [];
    const tokens: string[] = [];
    const streams: string[] = [];
    const subjects: string[] = [];
    // Fails what is unanswered after `timeout` without progress (the window freeing up counts as progress).
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        expired = true;
        this.publisher.expire(tokens, this.timeout);
      }, this.timeout);
    };
    const all = (async () => {
      arm();
      for (let i = 0; i < records.length && !expired; i++) {
        const { h, size } = encoded[i]!;
        if (!this.window.tryAcquire(size)) {
          do await this.window.room();
          while (!this.window.tryAcquire(size));
          arm();
        }
        const p = parts[i]!;
        const stream = (streams[p] ??= layout.stream(this.prefix, meta, p));
        acks.push(
          this.publisher
            .publish((subjects[p] ??= layout.subject(this.prefix, meta, p)), records[i]!.value, h, tokens)
            .then((ack) => {
              if (ack.stream !== stream) throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `produce to ${topic}: stream ${ack.stream} acknowledged a record meant for ${stream}`, { retriable: true });
              result[i] = { partition: p, offset: ack.seq - 1 };
            })
            .finally(() => this.window.release(size)),
        );
      }
      arm();
      const settled = await Promise.allSettled(acks);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      if (acks.length < records.length) throw new PublishError(`no room among the bus's unacknowledged records within ${this.timeout} ms; ${acks.length} of ${records.length} records were sent`, 408);
    })();
    this.inflight.add(all);
    try {
      await all;
    } catch (e) {
      throw await this.produceError(topic, meta, e);
    } finally {
      if (timer) clearTimeout(timer);
      this.inflight.delete(all);
    }
    return result;
  }

  /** Why a produce failed: the topic gone or re-created, or the server's reason. */
  private async produceError(topic: string, meta: TopicMeta, e: unknown): Promise<MonsoonError> {
    if (e instanceof PublishError && (e.code === 503 || e.code === 10059)) {
      this.metas.delete(topic);
      const now = await this.meta(topic, true).catch((err: unknown) => err);
      if (now instanceof MonsoonError && now.code === ErrorCodes.BUS_UNKNOWN_TOPIC) return unknownTopic(topic);
      if (!(now instanceof Error) && (now as TopicMeta).id !== meta.id) {
        return new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `produce to ${topic}: the topic was deleted and created again; retry to use it`, { retriable: true, cause: e });
      }
    }
    return this.mapError(e, `produce to ${topic}`);
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

  private readonly consumerHost: NatsConsumerHost;

  private async committedOffsets(group: string): Promise<Record<string, number>> {
    try {
      const e = await this.offsets.get(layout.key(group));
      return e && e.operation === 'PUT' ? e.json<Record<string, number>>() : {};
    } catch (err) {
      throw this.mapError(err, `read the committed offsets of group ${group}`);
    }
  }

  /** Read, change, compare-and-set: one write carries every offset of a commit, or none does. */
  private async updateOffsets(group: string, change: (doc: Record<string, number>) => void): Promise<void> {
    const key = layout.key(group);
    for (let attempt = 0; attempt < 50; attempt++) {
      let e;
      try {
        e = await this.offsets.get(key);
      } catch (err) {
        throw this.mapError(err, `read the committed offsets of group ${group}`);
      }
      const doc = e && e.operation === 'PUT' ? e.json<Record<string, number>>() : {};
      change(doc);
      try {
        if (e) await this.offsets.update(key, json(doc), e.revision);
        else await this.offsets.create(key, json(doc));
        return;
      } catch (err) {
        if (isCasConflict(err)) continue;
        throw this.mapError(err, `commit offsets of group ${group}`);
      }
    }
    throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `commit offsets of group ${group}: the offsets kept changing under 50 attempts`, { retriable: true });
  }

  private commitOffsets(group: string, entries: OffsetCommit[]): Promise<void> {
    return this.updateOffsets(group, (doc) => {
      for (const e of entries) doc[layout.committedField(e.topic, e.partition)] = e.offset;
    });
  }

  private readonly membersStore: MembersStore = {
    get: async (group) => {
      const e = await this.members.get(layout.key(group));
      return e ? { doc: e.operation === 'PUT' ? e.json<MembersDoc>() : {}, revision: e.revision } : null;
    },
    create: async (group, doc) => {
      try {
        await this.members.create(layout.key(group), json(doc));
        return true;
      } catch (e) {
        if (isCasConflict(e)) return false;
        throw e;
      }
    },
    update: async (group, doc, revision) => {
      try {
        await this.members.update(layout.key(group), json(doc), revision);
        return true;
      } catch (e) {
        if (isCasConflict(e)) return false;
        throw e;
      }
    },
  };

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
    const committed = await this.committedOffsets(group);
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
    await Promise.allSettled([...this.inflight]);
    for (const m of this.groups.all()) await (m as NatsConsumer).close();
    this.closed = true;
    this.publisher.close();
    await this.nc.close().catch(() => {});
  }
}

/** A publish or request nobody answered: the client reports it as "JetStream not enabled". */
const isNoStream = (e: unknown) => (e as Error)?.name === 'JetStreamNotEnabled';

function isCasConflict(e: unknown): boolean {
  if (e instanceof JetStreamApiError && (e.code === 10071 || e.code === 10164)) return true;
  return /wrong last sequence/i.test((e as Error)?.message ?? '');
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
