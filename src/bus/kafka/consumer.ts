import type { Consumer as KafkaJsConsumer, EachBatchPayload } from 'kafkajs';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { ConsumedRecord, OffsetCommit, PartitionBatch, SeekTarget, TopicPartition } from '../bus.js';
import { GroupConsumer, partitionKey, type OwnedPartition } from '../group-consumer.js';
import { kafkaError } from './errors.js';

/** What a consumer needs from the bus that made it. */
export interface KafkaConsumerHost {
  bounds(topic: string, partition: number): Promise<{ earliest: number; latest: number }>;
  /** The group's committed offsets for the topics (partitions without one are absent). */
  committed(group: string, topics: readonly string[]): Promise<Map<string, number>>;
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number | null>;
  forget(c: KafkaConsumer): void;
  log: Logger;
  /** Most bytes of fetched records waiting for poll (the fetch loop pauses above it). */
  maxQueuedBytes: number;
  /** Longest wait for the first assignment in `start`. */
  joinTimeoutMs: number;
}

interface Owned extends OwnedPartition {
  /** Bumped by every seek: a fetched batch from before it is dropped. */
  epoch: number;
}

interface Queued {
  o: Owned;
  epoch: number;
  records: ConsumedRecord[];
  /** Records before this index were returned already. */
  next: number;
  bytes: number;
}

const headerValue = (v: Buffer | string | Array<Buffer | string> | undefined): string | undefined => (v === undefined ? undefined : Array.isArray(v) ? headerValue(v[v.length - 1]) : v.toString());

/** A SyncGroup answered INVALID_REQUEST (the error or its innermost cause). */
function isSyncRace(e: unknown): boolean {
  let c = e as { cause?: unknown; type?: string } | undefined;
  while (c && c.cause) c = c.cause as typeof c;
  return c?.type === 'INVALID_REQUEST';
}

/**
 * A member of a Kafka consumer group: the broker runs the group protocol (join, sync, heartbeats,
 * rebalances), kafkajs fetches, and this class turns its push of batches into the contract's poll. A
 * fetched batch waits in a queue bounded in bytes; while the queue is full the fetch loop waits
 * (heartbeating), so nothing more is fetched. Positions are this consumer's: on every assignment each
 * partition is sought to where it should continue (its position, else the committed offset, else
 * `from`), so a rebalance never rewinds or skips what poll already returned.
 */
export class KafkaConsumer extends GroupConsumer<Owned> {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private spaceWaiters: Array<() => void> = [];
  private joins: Promise<void> = Promise.resolve();
  private joined: (() => void) | undefined;
  private joinFailed: Error | undefined;
  /** Counts assignments, so a retried one is dropped once a newer one arrived. */
  private generation = 0;
  /** Times the fetch loop was started again after a SyncGroup race (bounded). */
  private reruns = 0;

  constructor(
    id: string,
    group: string,
    topics: readonly string[],
    from: 'earliest' | 'latest',
    private readonly kc: KafkaJsConsumer,
    private readonly host: KafkaConsumerHost,
  ) {
    super(id, group, topics, from);
  }

  protected newOwned(tp: TopicPartition): Owned {
    return { ...tp, position: undefined, epoch: 0 };
  }

  /** Subscribes, starts the fetch loop and waits for the first assignment. */
  async start(): Promise<void> {
    const first = new Promise<void>((resolve) => (this.joined = resolve));
    this.kc.on(this.kc.events.GROUP_JOIN, (e) => this.queueJoin(++this.generation, e.payload.memberAssignment as Record<string, number[]>));
    this.kc.on(this.kc.events.CRASH, (e) => {
      const { error, restart } = e.payload as { error: Error; restart?: boolean };
      this.host.log.warn({ err: error }, `Kafka consumer ${this.id} of group ${this.group} ${restart ? 'failed and restarts' : 'stopped'}.`);
      if (restart) return; // kafkajs rejoins the group; the next GROUP_JOIN assigns again
      if (!this.closed && isSyncRace(error) && this.reruns++ < 5) {
        // librdkafka's mock cluster answers a SyncGroup that crossed a membership change with
        // INVALID_REQUEST (a broker answers REBALANCE_IN_PROGRESS, which kafkajs retries): join again.
        setTimeout(() => void this.rerun(), 500).unref();
        return;
      }
      this.joinFailed = error;
      this.joined?.();
      this.wakeUp?.();
    });
    try {
      await this.kc.connect();
      await this.kc.subscribe({ topics: [...this.topics], fromBeginning: this.from === 'earliest' });
      await this.runLoop();
    } catch (e) {
      throw kafkaError(e, `consumer of group ${this.group} on ${this.topics.join(', ')}`);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.host.joinTimeoutMs)));
    await Promise.race([first, timeout]);
    clearTimeout(timer);
    if (this.joinFailed) throw kafkaError(this.joinFailed, `consumer of group ${this.group}`);
    if (this.owned.size === 0 && this.joined) {
      throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `consumer of group ${this.group}: no assignment from the group coordinator within ${this.host.joinTimeoutMs} ms`, { retriable: true });
    }
  }

  private runLoop(): Promise<void> {
    return this.kc.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
  }

  /** Connects and runs the fetch loop again after kafkajs stopped it (see isSyncRace). */
  private async rerun(): Promise<void> {
    if (this.closed) return;
    try {
      await this.kc.connect();
      await this.runLoop();
    } catch (e) {
      this.joinFailed = e as Error;
      this.joined?.();
      this.wakeUp?.();
    }
  }

  /**
   * Applies assignments in order. A failed one (the positions could not be read) is retried after a
   * second unless a newer assignment came meanwhile; until then the partitions stay unassigned.
   */
  private queueJoin(generation: number, assignment: Record<string, number[]>): void {
    this.joins = this.joins.then(async () => {
      if (generation !== this.generation || this.closed) return;
      try {
        await this.onJoin(assignment);
      } catch (err) {
        this.host.log.warn({ err }, `Kafka consumer ${this.id} of group ${this.group}: cannot resolve the positions of its new partitions; retrying in 1 s.`);
        setTimeout(() => this.queueJoin(generation, assignment), 1000).unref();
      }
    });
  }

  private async onJoin(assignment: Record<string, number[]>): Promise<void> {
    if (this.closed) return;
    const tps = Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    const fresh = tps.filter((tp) => this.owned.get(partitionKey(tp.topic, tp.partition))?.position === undefined);
    const committed = fresh.length > 0 ? await this.host.committed(this.group, [...new Set(fresh.map((tp) => tp.topic))]) : new Map<string, number>();
    const start = new Map<string, number>();
    await Promise.all(
      fresh.map(async (tp) => {
        const b = await this.host.bounds(tp.topic, tp.partition);
        const c = committed.get(partitionKey(tp.topic, tp.partition));
        start.set(partitionKey(tp.topic, tp.partition), c !== undefined ? Math.min(Math.max(c, b.earliest), b.latest) : this.from === 'earliest' ? b.earliest : b.latest);
      }),
    );
    if (this.closed) return;
    this.assign(tps);
    for (const o of this.owned.values()) {
      o.position ??= start.get(partitionKey(o.topic, o.partition));
      // kafkajs resumes from the committed offset after a rebalance; continue from the position instead.
      if (o.position !== undefined) this.kc.seek({ topic: o.topic, partition: o.partition, offset: String(o.position) });
    }
    this.dropStale();
    this.joined?.();
    this.joined = undefined;
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    const o = this.owned.get(partitionKey(batch.topic, batch.partition));
    if (!o || o.position === undefined || batch.messages.length === 0) return;
    const epoch = o.epoch;
    const records: ConsumedRecord[] = [];
    let bytes = 0;
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < o.position) continue;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.headers ?? {})) {
        const s = headerValue(v);
        if (s !== undefined) headers[k] = s;
      }
      const value = m.value ?? Buffer.alloc(0);
      bytes += value.length + (m.key?.length ?? 0) + 64;
      records.push({ topic: batch.topic, partition: batch.partition, offset, key: m.key ?? null, value, headers, timestamp: Number(m.timestamp) });
    }
    // Wait for room, heartbeating so the group keeps this member while poll catches up.
    while (this.queuedBytes > 0 && this.queuedBytes + bytes > this.host.maxQueuedBytes && !this.closed && isRunning() && !isStale()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.spaceWaiters.push(() => (clearTimeout(timer), resolve()));
      });
      await heartbeat().catch(() => {});
    }
    if (this.closed || !isRunning() || isStale() || !this.stillOwned(o) || o.epoch !== epoch) return;
    if (records.length > 0) {
      this.queue.push({ o, epoch, records, next: 0, bytes });
      this.queuedBytes += bytes;
      this.wakeUp?.();
    }
    resolveOffset(batch.lastOffset());
  }

  /** Drops queued batches of partitions no longer owned or sought since. */
  private dropStale(): void {
    const keep = this.queue.filter((q) => this.stillOwned(q.o) && q.o.epoch === q.epoch);
    if (keep.length === this.queue.length) return;
    this.queue = keep;
    this.queuedBytes = keep.reduce((n, q) => n + q.bytes, 0);
    this.releaseSpace();
  }

  private releaseSpace(): void {
    for (const w of this.spaceWaiters.splice(0)) w();
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<PartitionBatch[]> {
    this.checkPoll(maxRecords);
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      if (this.joinFailed && this.queue.length === 0) throw kafkaError(this.joinFailed, `consumer ${this.id} of group ${this.group}`);
      const got = this.take(maxRecords);
      const left = deadline - Date.now();
      if (got.length > 0 || this.closed || left <= 0) return got;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => ((this.wakeUp = undefined), resolve()), left);
        this.wakeUp = () => (clearTimeout(timer), (this.wakeUp = undefined), resolve());
      });
    }
  }

  private take(maxRecords: number): PartitionBatch[] {
    const out = new Map<Owned, ConsumedRecord[]>();
    let left = maxRecords;
    while (left > 0 && this.queue.length > 0) {
      const q = this.queue[0]!;
      const o = q.o;
      if (this.stillOwned(o) && o.epoch === q.epoch && o.position !== undefined) {
        while (q.next < q.records.length && q.records[q.next]!.offset < o.position) q.next++;
        const end = Math.min(q.records.length, q.next + left);
        if (end > q.next) {
          const taken = q.records.slice(q.next, end);
          const list = out.get(o);
          if (list) list.push(...taken);
          else out.set(o, taken);
          o.position = taken[taken.length - 1]!.offset + 1;
          left -= taken.length;
          q.next = end;
        }
      }
      if (q.next >= q.records.length || !this.stillOwned(o) || o.epoch !== q.epoch) {
        this.queue.shift();
        this.queuedBytes -= q.bytes;
      }
    }
    this.releaseSpace();
    return [...out].map(([o, records]) => ({ topic: o.topic, partition: o.partition, records }));
  }

  async commit(offsets?: OffsetCommit[]): Promise<void> {
    const entries = await this.commitEntries(offsets, async (tp) => (await this.host.bounds(tp.topic, tp.partition)).latest);
    if (entries.length === 0) return;
    try {
      await this.kc.commitOffsets(entries.map((e) => ({ topic: e.topic, partition: e.partition, offset: String(e.offset) })));
    } catch (e) {
      throw kafkaError(e, `consumer ${this.id} of group ${this.group}: commit`);
    }
  }

  async seek(tp: TopicPartition, target: SeekTarget): Promise<void> {
    this.checkOpen();
    const o = this.ownedOrThrow(tp, 'seek');
    const b = await this.host.bounds(tp.topic, tp.partition);
    const at = await this.seekTarget(tp, target, b, async (ts) => (await this.host.offsetForTimestamp(tp.topic, tp.partition, ts)) ?? b.latest);
    o.position = Math.min(Math.max(at, b.earliest), b.latest);
    o.epoch++;
    this.dropStale();
    this.kc.seek({ topic: tp.topic, partition: tp.partition, offset: String(o.position) });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owned = new Map();
    this.queue = [];
    this.queuedBytes = 0;
    this.releaseSpace();
    this.wakeUp?.();
    this.joined?.();
    this.host.forget(this);
    // Leaves the group (LeaveGroup), so the remaining members rebalance at once.
    await this.kc.disconnect().catch((e: unknown) => this.host.log.warn({ err: e }, `Kafka consumer ${this.id} of group ${this.group}: disconnect failed.`));
  }
}
