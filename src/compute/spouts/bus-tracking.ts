/**
 * What the bus spout tracks of the records it polled: message ids (one record, or a batch of a
 * partition's records) and, per partition, the window of records not yet done that decides the
 * commit point.
 */
import type { ConsumedRecord } from '../../bus/bus.js';

/** What a message id knows of its partition's spout state. */
export interface SpoutPartition {
  /** The partition's offset committed to the bus: records below it are never replayed. */
  readonly lastCommitted: number;
}

/**
 * A record's message id. It is also a sequenced id (seqKey/seq/seqFloor) so stateful bolts can tell a
 * replayed record from a new one and apply each exactly once across crashes.
 */
export class BusMessageId {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    /** @internal The spout's state of the partition when the record was emitted, and the record's place in it. */
    readonly part: SpoutPartition | null = null,
    /** @internal */ readonly index = -1,
  ) {}
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

/**
 * The message id of a batch tuple: records at poll indexes [index, index + count), kept for a replay.
 * It is not a sequenced id: where a batch ends depends on what the log held at the poll, so a replay
 * may group records differently, and a stateful bolt fed by batches is at-least-once.
 */
export class BusBatchMessageId {
  constructor(
    readonly topic: string,
    readonly partition: number,
    /** @internal */ readonly part: SpoutPartition,
    /** @internal */ readonly index: number,
    readonly offsets: number[],
    readonly values: unknown[],
  ) {}
  get count(): number {
    return this.offsets.length;
  }
  toString(): string {
    return `${this.topic}-${this.partition}@${this.offsets[0]}..${this.offsets[this.offsets.length - 1]}`;
  }
}

export type TrackedId = BusMessageId | BusBatchMessageId;

/** What a batch-mode spout keeps in a record's slot: the data lives in the batch's message id. */
export const IN_BATCH = Symbol('in batch') as unknown as ConsumedRecord;

/**
 * A partition's polled records that are not yet done (acked or given up), in poll order: a window of
 * indexes [head, tail) over ring arrays, each record at `index & mask`, so tracking a record costs no
 * hashing, and tracking allocates nothing per record (the message id aside). The commit point is the offset of the first record not
 * done (or the end of what was polled), so gaps in a partition's offsets (a compacted Kafka topic,
 * transaction markers) never hold the commit back.
 */
export class PartitionState implements SpoutPartition {
  /** The offset after the last one polled. */
  polledEnd: number;
  lastCommitted: number;
  /** False once a rebalance took the partition away or a new poll position replaced this state. */
  current = true;
  /** Poll indexes of the first record not done and of the next record polled. */
  private head = 0;
  private tail = 0;
  private mask = 63;
  private offsets = new Float64Array(64);
  private records: (ConsumedRecord | undefined)[] = new Array<ConsumedRecord | undefined>(64);
  /** Retries so far of failed records, by poll index (rare: a Map). */
  readonly retries = new Map<number, number>();
  constructor(readonly topic: string, readonly partition: number, first: number) {
    this.polledEnd = first;
    this.lastCommitted = first;
  }

  /** The next offset to commit: every record polled below it is done. */
  get committed(): number {
    return this.head < this.tail ? this.offsets[this.head & this.mask]! : this.polledEnd;
  }

  /** Adds a polled record, keeping `keep` in its slot until it is done; returns its index. */
  add(r: ConsumedRecord, keep: ConsumedRecord): number {
    if (this.tail - this.head > this.mask) this.grow();
    const i = this.tail++;
    this.offsets[i & this.mask] = r.offset;
    this.records[i & this.mask] = keep;
    this.polledEnd = r.offset + 1;
    return i;
  }

  /** Records polled and not yet done. */
  get pending(): number {
    return this.tail - this.head;
  }

  /** Replaced or taken away: acks for it are ignored from now on, and it lets go of its records. */
  retire(): void {
    this.current = false;
    this.head = this.tail;
    this.records = [];
    this.offsets = new Float64Array(0);
    this.retries.clear();
  }

  /** The record at index `i` while it is not done. */
  record(i: number): ConsumedRecord | undefined {
    return i >= this.head && i < this.tail ? this.records[i & this.mask] : undefined;
  }

  done(i: number): void {
    if (i < this.head || i >= this.tail) return;
    const m = this.mask;
    this.records[i & m] = undefined;
    if (this.retries.size > 0) this.retries.delete(i);
    if (i !== this.head) return;
    // move the head past every record done
    while (this.head < this.tail && this.records[this.head & m] === undefined) this.head++;
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const offsets = new Float64Array(cap);
    const records = new Array<ConsumedRecord | undefined>(cap);
    for (let i = this.head; i < this.tail; i++) {
      offsets[i & (cap - 1)] = this.offsets[i & this.mask]!;
      records[i & (cap - 1)] = this.records[i & this.mask];
    }
    this.offsets = offsets;
    this.records = records;
    this.mask = cap - 1;
  }
}
