/**
 * The bus spout: reads records of a consumer group from the bus (any Bus implementation) and emits
 * one tuple per record, tracked for acking — what Storm's KafkaSpout does:
 *
 * - Commits, per partition, only the contiguous prefix of acked offsets: with 5, 6, 8 acked and 7
 *   pending, the committed offset stays at 7 (the next to read) until 7 is acked. A crash therefore
 *   replays from the first unfinished record: at-least-once, never a gap.
 * - A failed tuple is emitted again after an exponential back-off (initialDelayMs × multiplier^(n-1),
 *   capped at maxDelayMs), from the copy the spout keeps; after maxRetries (−1: forever) it is given
 *   up — counted, logged, and treated as done so the commit can move on.
 * - Stops polling while maxUncommittedOffsets records are polled but not committed, so a slow or
 *   failing topology holds a bounded amount in memory.
 * - Commits every commitIntervalMs and on deactivate/close.
 *
 * Tuple fields are Storm's KafkaSpout defaults: topic, partition, offset, key, value (key and value as
 * UTF-8 strings, or Buffers with `encoding: 'buffer'`).
 */
import { errorMessage } from '../../core/errors.js';
import type { Bus, ConsumedRecord, Consumer, PartitionBatch } from '../../bus/bus.js';
import { acquireBus, type BusHandle } from '../../bus/shared.js';
import type { OutputFieldsDeclarer, Spout, SpoutOutputCollector, TopologyConfig, TopologyContext } from '../api.js';
import { DEFAULT_STREAM } from '../tuple.js';

export interface BusSpoutOptions {
  /** A bus, or a bus URL opened (and closed) by each spout task (a directory path is the embedded log). */
  bus: Bus | string;
  topics: string[];
  group: string;
  /** Where partitions without a committed offset start (default 'earliest'). */
  from?: 'earliest' | 'latest';
  /** Records per poll (default 500, Kafka's max.poll.records). */
  pollRecords?: number;
  /** How long one poll waits for records (default 100 ms). */
  pollTimeoutMs?: number;
  /** Polled but not committed records at most before polling pauses (default 10,000). */
  maxUncommittedOffsets?: number;
  commitIntervalMs?: number;
  retry?: { initialDelayMs?: number; multiplier?: number; maxDelayMs?: number; maxRetries?: number };
  encoding?: 'utf8' | 'buffer';
  stream?: string;
  /** Milliseconds clock for back-off (tests). */
  now?: () => number;
}

/**
 * A record's message id. It is also a sequenced id (seqKey/seq/seqFloor) so stateful bolts can tell a
 * replayed record from a new one and apply each exactly once across crashes.
 */
export class BusMessageId {
  constructor(readonly topic: string, readonly partition: number, readonly offset: number, private readonly part: { lastCommitted: number } | null = null) {}
  get seqKey(): string {
    return `${this.topic}/${this.partition}`;
  }
  get seq(): number {
    return this.offset;
  }
  /** The partition's offset committed to the bus: records below it are never replayed. */
  seqFloor(): number {
    return this.part?.lastCommitted ?? 0;
  }
  toString(): string {
    return `${this.topic}-${this.partition}@${this.offset}`;
  }
}

class PartitionState {
  /** The next offset to commit: every offset below it is acked (or given up). */
  committed: number;
  /** The offset after the last one polled. */
  polledEnd: number;
  /** Offsets at or above `committed` acked out of order. */
  readonly acked = new Set<number>();
  /** Records emitted and not yet acked, kept for retries. */
  readonly inflight = new Map<number, ConsumedRecord>();
  readonly retries = new Map<number, number>();
  lastCommitted: number;
  constructor(readonly topic: string, readonly partition: number, first: number) {
    this.committed = first;
    this.polledEnd = first;
    this.lastCommitted = first;
  }
  done(offset: number): void {
    if (offset < this.committed) return;
    this.inflight.delete(offset);
    this.retries.delete(offset);
    this.acked.add(offset);
    while (this.acked.delete(this.committed)) this.committed++;
  }
}

export class BusSpout implements Spout {
  protected collector!: SpoutOutputCollector;
  private consumer: Consumer | null = null;
  private bus: Bus | null = null;
  /** Set when this spout opened the bus from a URL (shared per process, see bus/shared.ts). */
  private releaseBus: (() => Promise<void>) | undefined;
  private readonly parts = new Map<string, PartitionState>();
  private buffer: ConsumedRecord[] = [];
  private bufPos = 0;
  private retryQueue: { due: number; id: BusMessageId }[] = [];
  private polling = false;
  private committing: Promise<void> | null = null;
  private lastCommitAt = 0;
  private closed = false;
  private readonly o: Required<Omit<BusSpoutOptions, 'bus' | 'retry' | 'now'>> & { retry: Required<NonNullable<BusSpoutOptions['retry']>> };
  private readonly now: () => number;
  /** Counters for tests and metrics. */
  readonly counters = { emitted: 0, retried: 0, givenUp: 0, commits: 0, pollErrors: 0, commitErrors: 0 };
  lastError: string | null = null;

  constructor(private readonly opts: BusSpoutOptions) {
    this.o = {
      topics: opts.topics,
      group: opts.group,
      from: opts.from ?? 'earliest',
      pollRecords: opts.pollRecords ?? 500,
      pollTimeoutMs: opts.pollTimeoutMs ?? 100,
      maxUncommittedOffsets: opts.maxUncommittedOffsets ?? 10_000,
      commitIntervalMs: opts.commitIntervalMs ?? 1000,
      encoding: opts.encoding ?? 'utf8',
      stream: opts.stream ?? DEFAULT_STREAM,
      retry: { initialDelayMs: 100, multiplier: 2, maxDelayMs: 10_000, maxRetries: -1, ...opts.retry },
    };
    this.now = opts.now ?? Date.now;
  }

  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declareStream(this.opts.stream ?? DEFAULT_STREAM, ['topic', 'partition', 'offset', 'key', 'value']);
  }

  async open(_conf: TopologyConfig, _ctx: TopologyContext, collector: SpoutOutputCollector): Promise<void> {
    this.collector = collector;
    if (typeof this.opts.bus === 'string') {
      const handle = await acquireBus(this.opts.bus);
      this.bus = handle.bus;
      this.releaseBus = handle.release;
    } else this.bus = this.opts.bus;
    this.consumer = await this.bus.consumer(this.o.group, this.o.topics, { from: this.o.from });
    this.lastCommitAt = this.now();
  }

  /** Polled but uncommitted records over all partitions. */
  uncommitted(): number {
    let n = 0;
    for (const p of this.parts.values()) n += p.polledEnd - p.committed;
    return n;
  }

  /** The next offset to commit per partition ("topic/partition" → offset). */
  committedOffsets(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.parts.values()) out[`${p.topic}/${p.partition}`] = p.committed;
    return out;
  }

  nextTuple(): void {
    const now = this.now();
    if (now - this.lastCommitAt >= this.o.commitIntervalMs) this.commitSoon();
    if (this.retryQueue.length > 0 && this.emitDueRetry(now)) return;
    if (this.bufPos < this.buffer.length) {
      const r = this.buffer[this.bufPos++]!;
      if (this.bufPos === this.buffer.length) {
        this.buffer = [];
        this.bufPos = 0;
      }
      const p = this.parts.get(key(r.topic, r.partition));
      if (!p) return this.nextTuple(); // partition moved to another consumer meanwhile
      p.inflight.set(r.offset, r);
      this.emit(r, p);
      return;
    }
    if (!this.polling && !this.closed && this.uncommitted() < this.o.maxUncommittedOffsets) this.startPoll();
  }

  /** Emits one record as a tuple anchored to its message id (the repartition spout decodes instead). */
  protected emit(r: ConsumedRecord, p?: { lastCommitted: number }): void {
    this.counters.emitted++;
    const k = r.key === null ? null : this.o.encoding === 'utf8' ? r.key.toString('utf8') : r.key;
    const v = this.o.encoding === 'utf8' ? r.value.toString('utf8') : r.value;
    this.collector.emit(this.o.stream, [r.topic, r.partition, r.offset, k, v], new BusMessageId(r.topic, r.partition, r.offset, p ?? null));
  }

  private emitDueRetry(now: number): boolean {
    let best = -1;
    for (let i = 0; i < this.retryQueue.length; i++) if (this.retryQueue[i]!.due <= now && (best < 0 || this.retryQueue[i]!.due < this.retryQueue[best]!.due)) best = i;
    if (best < 0) return false;
    const { id } = this.retryQueue.splice(best, 1)[0]!;
    const p = this.parts.get(key(id.topic, id.partition));
    const r = p?.inflight.get(id.offset);
    if (!r) return this.emitDueRetry(now);
    this.counters.retried++;
    this.emit(r, p);
    return true;
  }

  private startPoll(): void {
    const consumer = this.consumer;
    if (!consumer) return;
    this.polling = true;
    consumer
      .poll(this.o.pollRecords, this.o.pollTimeoutMs)
      .then((batches) => this.polled(batches, consumer))
      .catch((e: unknown) => {
        this.counters.pollErrors++;
        this.lastError = errorMessage(e);
        this.collector.reportError(e);
      })
      .finally(() => {
        this.polling = false;
      });
  }

  private polled(batches: PartitionBatch[], consumer: Consumer): void {
    // drop the state of partitions this consumer no longer owns (a rebalance moved them away)
    const owned = new Set(consumer.assignment().map((tp) => key(tp.topic, tp.partition)));
    for (const k of [...this.parts.keys()]) if (!owned.has(k)) this.parts.delete(k);
    for (const b of batches) {
      if (b.records.length === 0) continue;
      const k = key(b.topic, b.partition);
      let p = this.parts.get(k);
      const first = b.records[0]!.offset;
      if (!p || first < p.committed) {
        p = new PartitionState(b.topic, b.partition, first);
        this.parts.set(k, p);
      }
      p.polledEnd = b.records[b.records.length - 1]!.offset + 1;
      for (const r of b.records) this.buffer.push(r);
    }
  }

  ack(msgId: unknown): void {
    const id = msgId as BusMessageId;
    this.parts.get(key(id.topic, id.partition))?.done(id.offset);
    // acks keep arriving while the spout is deactivated (no nextTuple calls): commit from here too
    if (this.now() - this.lastCommitAt >= this.o.commitIntervalMs) this.commitSoon();
  }

  fail(msgId: unknown): void {
    const id = msgId as BusMessageId;
    const p = this.parts.get(key(id.topic, id.partition));
    if (!p || !p.inflight.has(id.offset)) return;
    const n = (p.retries.get(id.offset) ?? 0) + 1;
    const r = this.o.retry;
    if (r.maxRetries >= 0 && n > r.maxRetries) {
      this.counters.givenUp++;
      this.collector.reportError(new Error(`bus spout: ${id.toString()} failed ${n} times; given up (maxRetries ${r.maxRetries})`));
      p.done(id.offset);
      return;
    }
    p.retries.set(id.offset, n);
    const delay = Math.min(r.maxDelayMs, r.initialDelayMs * r.multiplier ** (n - 1));
    this.retryQueue.push({ due: this.now() + delay, id });
  }

  /** Commits every partition's contiguous acked prefix that moved since the last commit. */
  commit(): Promise<void> {
    if (this.committing) return this.committing.then(() => this.commit());
    const consumer = this.consumer;
    if (!consumer) return Promise.resolve();
    const entries = [...this.parts.values()].filter((p) => p.committed > p.lastCommitted).map((p) => ({ topic: p.topic, partition: p.partition, offset: p.committed, p }));
    this.lastCommitAt = this.now();
    if (entries.length === 0) return Promise.resolve();
    this.committing = consumer
      .commit(entries.map(({ topic, partition, offset }) => ({ topic, partition, offset })))
      .then(() => {
        this.counters.commits++;
        for (const e of entries) e.p.lastCommitted = Math.max(e.p.lastCommitted, e.offset);
      })
      .catch((e: unknown) => {
        this.counters.commitErrors++;
        this.lastError = errorMessage(e);
        this.collector.reportError(e);
      })
      .finally(() => {
        this.committing = null;
      });
    return this.committing;
  }

  private commitSoon(): void {
    if (!this.committing) void this.commit();
  }

  deactivate(): void {
    this.commitSoon();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.commit();
    await this.consumer?.close();
    this.consumer = null;
    const release = this.releaseBus;
    this.releaseBus = undefined;
    await release?.();
    this.bus = null;
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * The compute runtime's handles on shared buses (src/bus/shared.ts: one open bus per URL per process,
 * which the embedded log needs): each acquireSharedBus(url) is paired with a releaseSharedBus(url).
 */
const held = new Map<string, BusHandle[]>();

export async function acquireSharedBus(url: string): Promise<Bus> {
  const h = await acquireBus(url);
  const list = held.get(url) ?? [];
  list.push(h);
  held.set(url, list);
  return h.bus;
}

export async function releaseSharedBus(url: string): Promise<void> {
  const list = held.get(url);
  const h = list?.pop();
  if (list && list.length === 0) held.delete(url);
  await h?.release();
}
