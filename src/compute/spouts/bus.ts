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
 *
 * With `batch: true` the spout emits one tuple per partition per poll instead (a micro-batch, as a
 * Trident spout does): fields topic, partition, offsets (number[]) and values (Buffer[], or strings
 * with `encoding: 'utf8'`), tracked as one message; acked, failed, retried and counted against
 * `topology.max.spout.pending` as one. Commits still move record by record, and
 * maxUncommittedOffsets still counts records. Batch message ids are not sequenced (a replay may
 * group records differently), so stateful bolts downstream are at-least-once.
 */
import { errorMessage } from '../../core/errors.js';
import type { Bus, ConsumedRecord, Consumer, PartitionBatch } from '../../bus/bus.js';
import { acquireBus } from '../../bus/shared.js';
import type { OutputFieldsDeclarer, Spout, SpoutOutputCollector, TopologyConfig, TopologyContext } from '../api.js';
import { DEFAULT_STREAM } from '../tuple.js';
import { BusBatchMessageId, BusMessageId, IN_BATCH, PartitionState, type SpoutPartition, type TrackedId } from './bus-tracking.js';

export { BusBatchMessageId, BusMessageId, type SpoutPartition } from './bus-tracking.js';

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
  /** One tuple per partition per poll (fields topic, partition, offsets, values) instead of one per record. */
  batch?: boolean;
  /** Milliseconds clock for back-off (tests). */
  now?: () => number;
}

export class BusSpout implements Spout {
  protected collector!: SpoutOutputCollector;
  private consumer: Consumer | null = null;
  private bus: Bus | null = null;
  /** Set when this spout opened the bus from a URL (shared per process, see bus/shared.ts). */
  private releaseBus: (() => Promise<void>) | undefined;
  private readonly parts = new Map<string, PartitionState>();
  /** Records polled and not yet emitted, with their partitions' states and poll indexes. */
  private buffer: ConsumedRecord[] = [];
  private bufParts: PartitionState[] = [];
  private bufIdx: number[] = [];
  private bufPos = 0;
  /** Batch mode: polled partition batches not yet emitted. */
  private chunks: { p: PartitionState; index: number; records: ConsumedRecord[] }[] = [];
  private retryQueue: { due: number; id: TrackedId }[] = [];
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
      batch: opts.batch ?? false,
      retry: { initialDelayMs: 100, multiplier: 2, maxDelayMs: 10_000, maxRetries: -1, ...opts.retry },
    };
    this.now = opts.now ?? Date.now;
  }

  /** The consumer group and topics (for lag reports). */
  get subscription(): { group: string; topics: readonly string[] } {
    return { group: this.o.group, topics: this.o.topics };
  }

  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declareStream(this.opts.stream ?? DEFAULT_STREAM, this.opts.batch ? ['topic', 'partition', 'offsets', 'values'] : ['topic', 'partition', 'offset', 'key', 'value']);
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

  /** Polled records not yet done (acked or given up) over all partitions. */
  uncommitted(): number {
    let n = 0;
    for (const p of this.parts.values()) n += p.pending;
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
    while (this.chunks.length > 0) {
      const c = this.chunks.shift()!;
      if (!c.p.current) continue;
      this.emitBatch(c.p, c.index, c.records.map((r) => r.offset), c.records.map((r) => (this.o.encoding === 'utf8' ? r.value.toString('utf8') : r.value)));
      return;
    }
    while (this.bufPos < this.buffer.length) {
      const at = this.bufPos++;
      const r = this.buffer[at]!;
      const p = this.bufParts[at]!;
      const i = this.bufIdx[at]!;
      if (this.bufPos === this.buffer.length) {
        this.buffer = [];
        this.bufParts = [];
        this.bufIdx = [];
        this.bufPos = 0;
      }
      if (!p.current) continue; // the partition moved to another consumer, or is read again from an earlier offset
      this.emitTracked(r, p, i);
      return;
    }
    if (!this.polling && !this.closed && this.uncommitted() < this.o.maxUncommittedOffsets) this.startPoll();
  }

  /**
   * Emits one record as a tuple anchored to its message id (the repartition spout decodes instead);
   * `p` and `index` go into the message id (BusMessageId's part and index).
   */
  protected emit(r: ConsumedRecord, p: SpoutPartition, index: number): void {
    this.counters.emitted++;
    const k = r.key === null ? null : this.o.encoding === 'utf8' ? r.key.toString('utf8') : r.key;
    const v = this.o.encoding === 'utf8' ? r.value.toString('utf8') : r.value;
    this.collector.emit(this.o.stream, [r.topic, r.partition, r.offset, k, v], new BusMessageId(r.topic, r.partition, r.offset, p, index));
  }

  /**
   * Emits the records at poll indexes [index, index + offsets.length) of `p` as one tuple; an emit
   * that throws gives them up, as emitTracked does for one record.
   */
  private emitBatch(p: PartitionState, index: number, offsets: number[], values: unknown[]): void {
    try {
      this.collector.emit(this.o.stream, [p.topic, p.partition, offsets, values], new BusBatchMessageId(p.topic, p.partition, p, index, offsets, values));
      this.counters.emitted += offsets.length;
    } catch (e) {
      this.counters.givenUp += offsets.length;
      this.collector.reportError(new Error(`bus spout: ${p.topic}-${p.partition}@${offsets[0]}..${offsets[offsets.length - 1]} could not be emitted; given up: ${errorMessage(e)}`));
      for (let i = 0; i < offsets.length; i++) p.done(index + i);
    }
  }

  /** The current partition state a message id of this spout points into, or undefined. */
  private stateOf(id: TrackedId): PartitionState | undefined {
    const p = id.part;
    return p instanceof PartitionState && p.current ? p : undefined;
  }

  private emitDueRetry(now: number): boolean {
    const tracked = (id: TrackedId) => this.stateOf(id)?.record(id.index) !== undefined;
    const q = this.retryQueue;
    let best = -1;
    for (let i = 0; i < q.length; i++) if (q[i]!.due <= now && (best < 0 || q[i]!.due < q[best]!.due)) best = i;
    if (best < 0) return false;
    if (!tracked(q[best]!.id)) {
      // retries of records no longer tracked (their partition moved, or they were given up) are dropped, all at once
      this.retryQueue = q.filter((e) => tracked(e.id));
      return this.emitDueRetry(now);
    }
    const { id } = q.splice(best, 1)[0]!;
    const p = this.stateOf(id)!;
    this.counters.retried++;
    if (id instanceof BusBatchMessageId) this.emitBatch(p, id.index, id.offsets, id.values);
    else this.emitTracked(p.record(id.index)!, p, id.index);
    return true;
  }

  /**
   * emit(), for a record in `p`'s window: an emit that throws (e.g. a record the spout cannot decode)
   * gives the record up — reported, and done so the commit does not wait for it forever.
   */
  private emitTracked(r: ConsumedRecord, p: PartitionState, index: number): void {
    try {
      this.emit(r, p, index);
    } catch (e) {
      this.counters.givenUp++;
      this.collector.reportError(new Error(`bus spout: ${r.topic}-${r.partition}@${r.offset} could not be emitted; given up: ${errorMessage(e)}`));
      p.done(index);
    }
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
    for (const [k, p] of this.parts) {
      if (owned.has(k)) continue;
      p.retire();
      this.parts.delete(k);
    }
    for (const b of batches) {
      if (b.records.length === 0) continue;
      const k = key(b.topic, b.partition);
      let p = this.parts.get(k);
      const first = b.records[0]!.offset;
      if (!p || first < p.committed) {
        if (p) p.retire();
        p = new PartitionState(b.topic, b.partition, first);
        this.parts.set(k, p);
      }
      if (this.o.batch) {
        const records = b.records.filter((r) => r.offset >= p.polledEnd); // already tracked by this state (a consumer that delivers again)
        if (records.length === 0) continue;
        const index = p.add(records[0]!, IN_BATCH);
        for (let i = 1; i < records.length; i++) p.add(records[i]!, IN_BATCH);
        this.chunks.push({ p, index, records });
        continue;
      }
      for (const r of b.records) {
        if (r.offset < p.polledEnd) continue; // already tracked by this state (a consumer that delivers again)
        this.bufIdx.push(p.add(r, r));
        this.buffer.push(r);
        this.bufParts.push(p);
      }
    }
  }

  ack(msgId: unknown): void {
    const id = msgId as TrackedId;
    const p = this.stateOf(id);
    if (p && id instanceof BusBatchMessageId) for (let i = 0; i < id.count; i++) p.done(id.index + i);
    else p?.done(id.index);
    // acks keep arriving while the spout is deactivated (no nextTuple calls): commit from here too
    if (this.now() - this.lastCommitAt >= this.o.commitIntervalMs) this.commitSoon();
  }

  fail(msgId: unknown): void {
    const id = msgId as TrackedId;
    const p = this.stateOf(id);
    if (!p || !p.record(id.index)) return;
    const n = (p.retries.get(id.index) ?? 0) + 1;
    const r = this.o.retry;
    if (r.maxRetries >= 0 && n > r.maxRetries) {
      const count = id instanceof BusBatchMessageId ? id.count : 1;
      this.counters.givenUp += count;
      this.collector.reportError(new Error(`bus spout: ${id.toString()} failed ${n} times; given up (maxRetries ${r.maxRetries})`));
      for (let i = 0; i < count; i++) p.done(id.index + i);
      return;
    }
    p.retries.set(id.index, n);
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
