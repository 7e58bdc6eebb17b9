import { mkdir } from 'node:fs/promises';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import type { Bus, BusAdmin, BusRecord, Consumer, ConsumerOptions, PartitionLag, ProducedOffset, TopicConfig, TopicDescription } from '../bus.js';
import { checkConsumerArgs, checkPartition, validateGroupName } from '../names.js';
import { Partitioner } from '../partitioner.js';
import { BATCH_HEADER } from './batch.js';
import { EmbeddedConsumer } from './consumer.js';
import { lockDir } from '../../core/fs.js';
import { DirectSlots } from '../../core/direct-io.js';
import { GroupRegistry } from './group.js';
import { checkEncoded, encodeProduce, producedOffsets, type EncodedPart } from './produce.js';
import { OffsetStore } from './offsets.js';
import type { LogOptions, PartitionLog } from './partition.js';
import { TopicStore } from './topics.js';

/**
 * The embedded log: a Bus in local files, for one machine. Layout under its directory:
 *
 *   bus.lock                        pid of the process that has it open
 *   topics/<topic>/topic.json       partitions, retentionMs, retentionBytes
 *   topics/<topic>/<p>/<base>.log   segments of record batches (batch.ts), <base>.index when sealed
 *   groups/<group>.json             committed offsets
 *
 * Produce resolves after fdatasync; concurrent produces to a partition share one (group commit).
 */
export interface EmbeddedOptions {
  /** A segment is sealed and a new one started once it would exceed this (default 64 MiB). */
  segmentBytes?: number;
  /**
   * A segment is also sealed at the first append once it is this old (default 7 days, Kafka's
   * segment.ms), so time retention can delete the data of a topic that is written slowly.
   */
  segmentMs?: number;
  /** Bytes of batches between sparse index entries (default 4 KiB). */
  indexIntervalBytes?: number;
  /** Largest record accepted, encoded (default 16 MiB). */
  maxRecordBytes?: number;
  /** How often retention runs (default 60 s; 0 = only when `enforceRetention` is called). */
  retentionCheckMs?: number;
  /** Bytes a poll returns at most (beyond its first record; default 16 MiB). */
  maxPollBytes?: number;
  /**
   * true (default): a produce resolves after fdatasync — acknowledged records survive `kill -9` and
   * an OS crash or power loss. false: it resolves once the records are written to the OS (page
   * cache) — they survive `kill -9` of the process but not an OS crash; the durability of Kafka's
   * default flush settings and of NATS JetStream's default sync_interval.
   */
  fsync?: boolean;
  /**
   * Bytes of just-appended batches kept in memory for readers that keep up (all partitions
   * together; a partition caches only while it is being read; default 64 MiB, 0: none).
   */
  readCacheBytes?: number;
  /**
   * true (default): the whole blocks of an append are written with direct I/O (O_DIRECT) where the
   * log's filesystem takes it, bypassing the page cache (see core/direct-io.ts); the bytes before
   * the first and after the last block boundary still go through it. The files are the same either way.
   */
  directIo?: boolean;
  log?: Logger;
}

/** Direct memory of one embedded log: this many partitions append directly at once, each append's blocks copied through its slot in parts of this size. */
const DIRECT_SLOTS = 4;
const DIRECT_SLOT_BYTES = 1024 * 1024;

/** No batch is larger (a length field beyond it is damage); maxRecordBytes must stay below it. */
const MAX_BATCH_BYTES = 1024 * 1024 * 1024;

export async function openEmbeddedBus(dir: string, options: EmbeddedOptions = {}): Promise<EmbeddedBus> {
  await mkdir(dir, { recursive: true });
  const unlock = await lockDir(dir, 'bus.lock', (holder, path) =>
    holder === 'this process'
      ? new MonsoonError(ErrorCodes.BUS_LOCKED, `the bus at ${dir} is already open in this process`)
      : new MonsoonError(ErrorCodes.BUS_LOCKED, `the bus at ${dir} is open in process ${holder} (${path}); one process at a time may open an embedded log`),
  );
  try {
    const bus = new EmbeddedBus(dir, options, unlock);
    await bus.open();
    return bus;
  } catch (e) {
    await unlock();
    throw e;
  }
}

export class EmbeddedBus implements Bus {
  readonly admin: BusAdmin;
  private readonly topics: TopicStore;
  private readonly logOptions: LogOptions;
  private readonly offsets: OffsetStore;
  private readonly groups: GroupRegistry;
  private readonly partitioner = new Partitioner();
  private readonly maxRecordBytes: number;
  private readonly maxPollBytes: number;
  private readonly log: Logger;
  private retentionTimer: NodeJS.Timeout | undefined;
  private adminChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private inflight = new Set<Promise<unknown>>();

  constructor(
    readonly dir: string,
    private readonly options: EmbeddedOptions,
    private readonly unlock: () => Promise<void>,
  ) {
    this.maxRecordBytes = options.maxRecordBytes ?? 16 * 1024 * 1024;
    if (!Number.isInteger(this.maxRecordBytes) || this.maxRecordBytes < 1 || this.maxRecordBytes > MAX_BATCH_BYTES - BATCH_HEADER) {
      throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `maxRecordBytes must be an integer from 1 to ${MAX_BATCH_BYTES - BATCH_HEADER}`);
    }
    this.maxPollBytes = options.maxPollBytes ?? 16 * 1024 * 1024;
    this.log = options.log ?? silentLogger;
    this.logOptions = {
      segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024,
      segmentMs: options.segmentMs ?? 7 * 24 * 3600 * 1000,
      indexIntervalBytes: options.indexIntervalBytes ?? 4096,
      // A fixed bound, not derived from maxRecordBytes: reopening with a smaller limit must not make
      // recovery mistake an acknowledged large batch for damage.
      maxBatchBytes: MAX_BATCH_BYTES,
      fsync: options.fsync ?? true,
      readCache: { limit: options.readCacheBytes ?? 64 * 1024 * 1024, used: 0 },
      log: this.log,
    };
    this.topics = new TopicStore(dir, this.logOptions);
    this.offsets = new OffsetStore(dir);
    this.groups = new GroupRegistry((t) => this.topics.topics.get(t)?.config.partitions ?? 0);
    const serial = <T>(fn: () => Promise<T>): Promise<T> => {
      const run = this.adminChain.then(() => {
        this.check();
        return fn();
      });
      this.adminChain = run.catch(() => {});
      return run;
    };
    this.admin = {
      createTopic: (name: string, cfg: TopicConfig) => serial(() => this.topics.create(name, cfg)),
      describeTopic: async (name: string) => this.describe(name),
      listTopics: async () => {
        this.check();
        return [...this.topics.topics.keys()].sort();
      },
      deleteTopic: (name: string) =>
        serial(async () => {
          await this.topics.delete(name);
          this.groups.topicGone(name);
          await this.offsets.dropTopic(name);
        }),
    };
  }

  async open(): Promise<void> {
    if (this.options.directIo ?? true) {
      const slots = await DirectSlots.for(this.dir, DIRECT_SLOTS, DIRECT_SLOT_BYTES);
      if (typeof slots === 'string') this.log.info({ dir: this.dir }, `The embedded log appends through the page cache: ${slots}.`);
      else this.logOptions.direct = slots;
    }
    await this.topics.open();
    await this.offsets.open();
    await this.enforceRetention();
    const every = this.options.retentionCheckMs ?? 60_000;
    if (every > 0) {
      this.retentionTimer = setInterval(() => {
        this.enforceRetention().catch((e: unknown) => this.log.error({ err: e }, 'Retention failed; old segments stay until the next run.'));
      }, every);
      this.retentionTimer.unref();
    }
  }

  private check(): void {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.dir} is closed`);
  }

  private partitionLog(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.topics.get(topic)?.partitions[partition];
  }

  async produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]> {
    this.check();
    const t = this.topics.get(topic);
    if (records.length === 0) return [];
    const parts = encodeProduce(topic, t.config.partitions, records, this.partitioner, this.maxRecordBytes, Date.now());
    return producedOffsets(parts, await this.append(topic, parts), records.length);
  }

  /** The largest record (encoded) this bus accepts. */
  get recordLimit(): number {
    return this.maxRecordBytes;
  }

  /**
   * Appends batches encoded elsewhere (encodeProduce in a thread feeding this bus): each part to its
   * partition; resolves with each part's first offset once all of them are durable.
   */
  async appendEncoded(topic: string, parts: ReadonlyArray<Pick<EncodedPart, 'partition' | 'batches' | 'counts'>>): Promise<number[]> {
    this.check();
    const t = this.topics.get(topic);
    for (const p of parts) {
      checkPartition(topic, p.partition, t.config.partitions);
      checkEncoded(topic, p.partition, p.batches, p.counts);
    }
    return this.append(topic, parts);
  }

  private async append(topic: string, parts: ReadonlyArray<Pick<EncodedPart, 'partition' | 'batches' | 'counts'>>): Promise<number[]> {
    const t = this.topics.get(topic);
    const all = Promise.all(parts.map((p) => t.partitions[p.partition]!.append(p.batches, p.counts)));
    this.inflight.add(all);
    try {
      return await all;
    } finally {
      this.inflight.delete(all);
    }
  }

  async consumer(group: string, topics: string[], opts: ConsumerOptions = {}): Promise<Consumer> {
    this.check();
    const from = checkConsumerArgs(group, topics, opts);
    for (const t of topics) this.topics.get(t);
    const c = new EmbeddedConsumer(this.groups.nextMemberId(group), group, [...new Set(topics)], from, {
      log: (t, p) => this.partitionLog(t, p),
      offsets: this.offsets,
      maxPollBytes: this.maxPollBytes,
      leave: (m) => this.groups.leave(group, m),
    });
    this.groups.join(group, c);
    return c;
  }

  async lag(group: string): Promise<PartitionLag[]> {
    this.check();
    validateGroupName(group);
    const topics = new Set(this.offsets.topicsOf(group));
    for (const m of this.groups.members(group)) for (const t of m.topics) topics.add(t);
    const out: PartitionLag[] = [];
    for (const topic of [...topics].sort()) {
      const t = this.topics.topics.get(topic);
      if (!t) continue;
      for (const log of t.partitions) {
        const committed = this.offsets.get(group, topic, log.partition) ?? null;
        const latest = log.latest;
        const lag = committed === null ? latest - log.earliest : Math.max(0, latest - Math.max(committed, log.earliest));
        out.push({ topic, partition: log.partition, committed, latest, lag });
      }
    }
    return out;
  }

  private describe(name: string): TopicDescription {
    this.check();
    const t = this.topics.get(name);
    return {
      name,
      partitions: t.partitions.map((p) => ({ partition: p.partition, earliest: p.earliest, latest: p.latest })),
      retentionMs: t.config.retentionMs,
      retentionBytes: t.config.retentionBytes,
    };
  }

  /** Deletes whole segments past each topic's retention; returns how many were deleted. */
  async enforceRetention(now = Date.now()): Promise<number> {
    let n = 0;
    for (const t of this.topics.topics.values()) {
      const { retentionMs, retentionBytes } = t.config;
      if (retentionMs < 0 && retentionBytes < 0) continue;
      for (const p of t.partitions) n += await p.enforceRetention(retentionMs, retentionBytes, now);
    }
    return n;
  }

  /** fdatasync calls made by every partition (for tests of group commit). */
  syncCount(): number {
    let n = 0;
    for (const t of this.topics.topics.values()) for (const p of t.partitions) n += p.syncs;
    return n;
  }

  /** Bytes every partition wrote with direct I/O (see EmbeddedOptions.directIo). */
  directBytes(): number {
    let n = 0;
    for (const t of this.topics.topics.values()) for (const p of t.partitions) n += p.directBytes;
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.inflight]);
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const m of this.groups.all()) await (m as EmbeddedConsumer).close();
    await this.adminChain;
    await this.topics.close();
    await this.unlock();
  }
}
