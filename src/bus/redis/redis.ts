import { createClient } from 'redis';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import type { Bus, BusAdmin, BusRecord, Consumer, ConsumerOptions, OffsetCommit, PartitionLag, ProducedOffset, TopicConfig, TopicDescription } from '../bus.js';
import { checkConsumerArgs, checkedRecordSize, normalizeTopicConfig, validateGroupName, validateTopicName } from '../names.js';
import { Partitioner } from '../partitioner.js';
import { RedisConsumer, type ReadConnection } from './consumer.js';
import { BUFFERS, CREATE_LUA, keys, offsetOf, PRODUCE_LUA } from './layout.js';
import { RedisMembership } from './membership.js';
import { enforceRetention, firstOffsetAtOrAfter, type RetentionHost } from './retention.js';

/**
 * The Redis Streams bus: each partition is a stream whose entry IDs are `<offset+1>-0`, so the
 * contract's dense integer offsets are the stream's own order (see layout.ts). Produce runs one Lua
 * script per partition per chunk of a batch, pipelined on one connection, and resolves once Redis
 * replied to every one. Durability is the server's: with `appendonly yes` and `appendfsync always`
 * a reply follows the fsync; with `everysec` up to a second of acknowledged records can be lost on a
 * crash; without AOF, everything since the last snapshot. `waitReplicas` adds WAIT for replicas.
 *
 * Committed offsets and group membership (heartbeats, membership.ts) live in Redis, so consumers of
 * one group in several processes split the partitions and take over those of a crashed process.
 */
export interface RedisBusOptions {
  /** Key prefix (default "monsoon"). */
  prefix?: string;
  /** After each produce, WAIT until this many replicas have the writes (default 0: no WAIT). */
  waitReplicas?: number;
  /** WAIT timeout (default 5000 ms); fewer replicas in time fails the produce (retriable). */
  waitTimeoutMs?: number;
  /** Largest record accepted (value + key + headers; default 16 MiB). */
  maxRecordBytes?: number;
  /** How often retention runs (default 60 s; 0 = only when `enforceRetention` is called). */
  retentionCheckMs?: number;
  /** A consumer whose heartbeats stop (a crashed process) leaves its group after this (default 10 s). */
  sessionTimeoutMs?: number;
  /** How often consumers heartbeat and pick up rebalances (default 1 s; below sessionTimeoutMs). */
  heartbeatMs?: number;
  log?: Logger;
}

type Client = ReturnType<typeof createClient>;
const CHUNK_RECORDS = 1000;
const CHUNK_BYTES = 8 * 1024 * 1024;

export async function openRedisBus(url: string, options: RedisBusOptions = {}): Promise<RedisBus> {
  const log = options.log ?? silentLogger;
  let connected = false;
  // The first connection gives up after a few tries (a wrong URL fails fast); once connected, the
  // client reconnects for as long as the bus is open. Commands sent while it is disconnected fail at
  // once (no offline queue), so a produce reports a retriable error instead of waiting unbounded.
  const client: Client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries: number, cause: Error) => (!connected && retries >= 3 ? cause : Math.min(50 * 2 ** retries, 2000)) },
  });
  client.on('error', (e: unknown) => log.warn({ err: e }, `Redis bus ${url}: connection error.`));
  try {
    await client.connect();
    connected = true;
  } catch (e) {
    if (client.isOpen) client.destroy();
    throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `cannot reach the Redis bus at ${url}: ${(e as Error).message}`, { retriable: true, cause: e });
  }
  return new RedisBus(url, client, options);
}

const unknownTopic = (topic: string) => new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `topic ${topic} does not exist`);

export class RedisBus implements Bus {
  readonly admin: BusAdmin;
  readonly prefix: string;
  private readonly groups: RedisMembership;
  private readonly heartbeatMs: number;
  private readonly partitionCounts = new Map<string, number>();
  private readonly partitioner = new Partitioner();
  private readonly log: Logger;
  private readonly retentionTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private inflight = new Set<Promise<unknown>>();

  constructor(
    readonly url: string,
    private readonly client: Client,
    private readonly options: RedisBusOptions,
  ) {
    this.prefix = options.prefix ?? 'monsoon';
    this.log = options.log ?? silentLogger;
    this.retentionHost.prefix = this.prefix;
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? Math.min(1000, Math.floor(sessionTimeoutMs / 3));
    if (!(sessionTimeoutMs > 0 && this.heartbeatMs > 0 && this.heartbeatMs < sessionTimeoutMs)) {
      throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `Redis bus: heartbeatMs (${this.heartbeatMs}) must be positive and below sessionTimeoutMs (${sessionTimeoutMs})`);
    }
    this.groups = new RedisMembership({
      prefix: this.prefix,
      sessionTimeoutMs,
      heartbeatMs: this.heartbeatMs,
      cmd: (args) => this.cmd(args),
      partitionsOf: (t) => this.partitionCounts.get(t) ?? 0,
      log: this.log,
    });
    this.admin = {
      createTopic: (name, cfg) => this.createTopic(name, cfg),
      describeTopic: (name) => this.describeTopic(name),
      listTopics: async () => {
        this.check();
        return ((await this.cmd<string[]>(['SMEMBERS', keys.topics(this.prefix)])) ?? []).sort();
      },
      deleteTopic: (name) => this.deleteTopic(name),
    };
    const every = options.retentionCheckMs ?? 60_000;
    if (every > 0) {
      this.retentionTimer = setInterval(() => {
        this.enforceRetention().catch((e: unknown) => this.log.error({ err: e }, 'Redis bus retention failed; old entries stay until the next run.'));
      }, every);
      this.retentionTimer.unref();
    }
  }

  private readonly retentionHost: RetentionHost = {
    prefix: '',
    cmd: (args, buffers) => this.cmd(args, buffers),
    bounds: (t, p) => this.bounds(t, p),
  };

  private check(): void {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.url} is closed`);
  }

  /** One command; Redis errors and lost connections become coded, retriable errors. */
  private async cmd<T>(args: ReadonlyArray<string | Buffer>, buffers = false): Promise<T> {
    try {
      return await this.client.sendCommand<T>(args, buffers ? BUFFERS : undefined);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (msg.includes('MONSOON_UNKNOWN_TOPIC')) throw new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, 'topic does not exist');
      if (msg.includes('MONSOON_TOPIC_EXISTS')) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, 'topic already exists');
      throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `Redis bus ${this.url}: ${args[0]?.toString()} failed: ${msg}`, { retriable: true, cause: e });
    }
  }

  private async partitions(topic: string): Promise<number> {
    validateTopicName(topic);
    const n = await this.cmd<string | null>(['HGET', keys.meta(this.prefix, topic), 'partitions']);
    if (n === null) {
      this.partitionCounts.delete(topic);
      throw unknownTopic(topic);
    }
    this.partitionCounts.set(topic, Number(n));
    return Number(n);
  }

  private async createTopic(name: string, cfg: TopicConfig): Promise<void> {
    this.check();
    validateTopicName(name);
    const c = normalizeTopicConfig(name, cfg);
    try {
      await this.cmd(['EVAL', CREATE_LUA, '2', keys.meta(this.prefix, name), keys.topics(this.prefix), name, String(c.partitions), String(c.retentionMs), String(c.retentionBytes)]);
    } catch (e) {
      if (e instanceof MonsoonError && e.code === ErrorCodes.BUS_TOPIC_EXISTS) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
      throw e;
    }
    this.partitionCounts.set(name, c.partitions);
  }

  private async describeTopic(name: string): Promise<TopicDescription> {
    this.check();
    validateTopicName(name);
    const meta = await this.cmd<string[]>(['HGETALL', keys.meta(this.prefix, name)]);
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < meta.length; i += 2) m.set(meta[i]!, meta[i + 1]!);
    if (!m.has('partitions')) throw unknownTopic(name);
    const n = Number(m.get('partitions'));
    const partitions = await Promise.all(Array.from({ length: n }, async (_, p) => ({ partition: p, ...(await this.bounds(name, p)) })));
    return { name, partitions, retentionMs: Number(m.get('retentionMs')), retentionBytes: Number(m.get('retentionBytes')) };
  }

  private async deleteTopic(name: string): Promise<void> {
    this.check();
    const n = await this.partitions(name);
    const streams = Array.from({ length: n }, (_, p) => keys.stream(this.prefix, name, p));
    await this.cmd(['DEL', keys.meta(this.prefix, name), ...streams]);
    await this.cmd(['SREM', keys.topics(this.prefix), name]);
    this.partitionCounts.delete(name);
    const fields = Array.from({ length: n }, (_, p) => keys.committedField(name, p));
    for (const g of (await this.cmd<string[]>(['SMEMBERS', keys.groups(this.prefix)])) ?? []) await this.cmd(['HDEL', keys.group(this.prefix, g), ...fields]);
    await this.groups.topicGone(name);
  }

  /** The first stored offset and the next offset to be written. */
  async bounds(topic: string, partition: number): Promise<{ earliest: number; latest: number }> {
    const [next, first] = await Promise.all([
      this.cmd<string | null>(['HGET', keys.meta(this.prefix, topic), `next.${partition}`]),
      this.cmd<Array<[string, string[]]>>(['XRANGE', keys.stream(this.prefix, topic, partition), '-', '+', 'COUNT', '1']),
    ]);
    const latest = Number(next ?? 0);
    return { earliest: first[0] ? Math.min(offsetOf(first[0][0]), latest) : latest, latest };
  }

  async produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]> {
    this.check();
    // The script checks the partition count, so a cached one saves a round trip per produce.
    const n = this.partitionCounts.get(topic) ?? (await this.partitions(topic));
    if (records.length === 0) return [];
    const sizes = records.map((r, i) => this.validateRecord(topic, r, i));
    const parts = this.partitioner.assign(topic, n, records);
    const byPartition = new Map<number, number[]>();
    for (let i = 0; i < records.length; i++) {
      const list = byPartition.get(parts[i]!);
      if (list) list.push(i);
      else byPartition.set(parts[i]!, [i]);
    }
    const now = String(Date.now());
    const meta = keys.meta(this.prefix, topic);
    const result: ProducedOffset[] = new Array(records.length);
    const calls: Promise<void>[] = [];
    for (const [p, idxs] of byPartition) {
      const stream = keys.stream(this.prefix, topic, p);
      for (let start = 0; start < idxs.length; ) {
        let end = start;
        let bytes = 0;
        while (end < idxs.length && end - start < CHUNK_RECORDS && (end === start || bytes + sizes[idxs[end]!]! <= CHUNK_BYTES)) bytes += sizes[idxs[end++]!]!;
        const chunk = idxs.slice(start, end);
        const args: Array<string | Buffer> = ['EVAL', PRODUCE_LUA, '2', meta, stream, String(p), String(chunk.length), String(n)];
        for (const i of chunk) {
          const r = records[i]!;
          const hasHeaders = r.headers && Object.keys(r.headers).length > 0;
          args.push(r.timestamp === undefined ? now : String(Math.trunc(r.timestamp)), r.value, r.key ?? '', r.key ? '1' : '0', hasHeaders ? JSON.stringify(r.headers) : '');
        }
        // Sent without waiting: the connection pipelines the chunks and keeps their order.
        calls.push(
          this.cmd<string>(args).then((base) => {
            for (let k = 0; k < chunk.length; k++) result[chunk[k]!] = { partition: p, offset: Number(base) + k };
          }),
        );
        start = end;
      }
    }
    const all = Promise.all(calls).then(() => this.waitForReplicas(topic));
    this.inflight.add(all);
    try {
      await all;
    } catch (e) {
      if (e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNKNOWN_TOPIC) {
        this.partitionCounts.delete(topic);
        throw unknownTopic(topic);
      }
      if (e instanceof MonsoonError && e.message.includes('MONSOON_PARTITIONS')) {
        this.partitionCounts.delete(topic);
        throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `produce to ${topic}: the topic was re-created with another partition count; retry to use it`, { retriable: true, cause: e });
      }
      throw e;
    } finally {
      this.inflight.delete(all);
    }
    return result;
  }

  private async waitForReplicas(topic: string): Promise<void> {
    const want = this.options.waitReplicas ?? 0;
    if (want <= 0) return;
    const got = await this.cmd<number>(['WAIT', String(want), String(this.options.waitTimeoutMs ?? 5000)]);
    if (got < want) throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `produce to ${topic}: only ${got} of ${want} replicas confirmed the records in time; they may or may not survive a failover`, { retriable: true });
  }

  private validateRecord(topic: string, r: BusRecord, i: number): number {
    return checkedRecordSize(topic, r, i, this.options.maxRecordBytes ?? 16 * 1024 * 1024);
  }

  async consumer(group: string, topics: string[], opts: ConsumerOptions = {}): Promise<Consumer> {
    this.check();
    const from = checkConsumerArgs(group, topics, opts);
    for (const t of topics) await this.partitions(t);
    const conn = this.client.duplicate();
    conn.on('error', (e: unknown) => this.log.warn({ err: e }, `Redis bus ${this.url}: consumer connection error.`));
    await conn.connect();
    const c = new RedisConsumer(this.groups.nextMemberId(group), group, [...new Set(topics)], from, conn as unknown as ReadConnection, {
      prefix: this.prefix,
      bounds: (t, p) => this.bounds(t, p),
      committed: async (g, t, p) => {
        const v = await this.cmd<string | null>(['HGET', keys.group(this.prefix, g), keys.committedField(t, p)]);
        return v === null ? null : Number(v);
      },
      commit: (g, entries) => this.commitOffsets(g, entries),
      offsetForTimestamp: (t, p, ts) => this.offsetForTimestamp(t, p, ts),
      leave: (m) => this.groups.leave(group, m),
      maxBlockMs: this.heartbeatMs,
    });
    try {
      await this.groups.join(group, c);
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** One HSET: every offset of the commit lands, or none does. */
  private async commitOffsets(group: string, entries: OffsetCommit[]): Promise<void> {
    const args = ['HSET', keys.group(this.prefix, group)];
    for (const e of entries) args.push(keys.committedField(e.topic, e.partition), String(e.offset));
    await Promise.all([this.cmd(['SADD', keys.groups(this.prefix), group]), this.cmd(args)]);
  }

  /** The first offset whose record timestamp is at or after `ts` (a scan from the log start), or the end. */
  offsetForTimestamp(topic: string, partition: number, ts: number): Promise<number> {
    return firstOffsetAtOrAfter(this.retentionHost, topic, partition, ts);
  }

  async lag(group: string): Promise<PartitionLag[]> {
    this.check();
    validateGroupName(group);
    const flat = (await this.cmd<string[]>(['HGETALL', keys.group(this.prefix, group)])) ?? [];
    const committed = new Map<string, number>();
    const topics = new Set<string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      committed.set(flat[i]!, Number(flat[i + 1]));
      topics.add(flat[i]!.slice(0, flat[i]!.lastIndexOf('/')));
    }
    for (const m of this.groups.members(group)) for (const t of m.topics) topics.add(t);
    const out: PartitionLag[] = [];
    for (const topic of [...topics].sort()) {
      const n = await this.partitions(topic).catch(() => 0);
      const rows = await Promise.all(
        Array.from({ length: n }, async (_, partition) => {
          const { earliest, latest } = await this.bounds(topic, partition);
          const c = committed.get(keys.committedField(topic, partition)) ?? null;
          const lag = c === null ? latest - earliest : Math.max(0, latest - Math.max(c, earliest));
          return { topic, partition, committed: c, latest, lag };
        }),
      );
      out.push(...rows);
    }
    return out;
  }

  /** Trims every topic to its retention; returns how many entries were removed. */
  async enforceRetention(now = Date.now()): Promise<number> {
    this.check();
    return enforceRetention(this.retentionHost, now);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.inflight]);
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const m of this.groups.all()) await (m as RedisConsumer).close();
    if (this.client.isOpen) await this.client.close().catch(() => this.client.destroy());
  }
}
