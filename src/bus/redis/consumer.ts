import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { OffsetCommit, PartitionBatch, SeekTarget, TopicPartition } from '../bus.js';
import { GroupConsumer, type OwnedPartition } from '../group-consumer.js';
import { BUFFERS, decodeEntry, keys, type RawEntry } from './layout.js';

/** A connection of the consumer's own: XREAD BLOCK holds it while waiting. */
export interface ReadConnection {
  sendCommand<T>(args: ReadonlyArray<string | Buffer>, options?: typeof BUFFERS): Promise<T>;
  destroy(): void;
  readonly isOpen: boolean;
}

/** What a consumer needs from the bus that made it. */
export interface RedisConsumerHost {
  prefix: string;
  bounds(topic: string, partition: number): Promise<{ earliest: number; latest: number }>;
  committed(group: string, topic: string, partition: number): Promise<number | null>;
  commit(group: string, entries: OffsetCommit[]): Promise<void>;
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number>;
  leave(c: RedisConsumer): Promise<void>;
  /** The longest one XREAD BLOCK waits, so a new assignment is picked up soon after it changes. */
  maxBlockMs: number;
}

interface Owned extends OwnedPartition {
  stream: string;
  /** Bytes per record seen in the last read (0 until one), to bound a read's size. */
  recordBytes: number;
}

/** A read asks each stream for at most this many bytes' worth of entries (by the last sizes seen). */
const MAX_READ_BYTES = 16 * 1024 * 1024;
/** Entries asked of a stream before its record size is known. */
const FIRST_READ = 64;

/**
 * A member of a consumer group of the Redis bus. Reads with XREAD from its positions (the entry IDs
 * encode offsets), so the group's progress is exactly its committed offsets; polls that find nothing
 * wait in XREAD BLOCK on the consumer's own connection. Its partitions come from the group's
 * membership in Redis (membership.ts).
 */
export class RedisConsumer extends GroupConsumer<Owned> {
  constructor(
    id: string,
    group: string,
    topics: readonly string[],
    from: 'earliest' | 'latest',
    private readonly conn: ReadConnection,
    private readonly host: RedisConsumerHost,
  ) {
    super(id, group, topics, from);
  }

  protected newOwned(tp: TopicPartition): Owned {
    return { ...tp, stream: keys.stream(this.host.prefix, tp.topic, tp.partition), position: undefined, recordBytes: 0 };
  }

  /** Starts partitions new to this consumer at the committed offset, or at `from` without one. */
  private async resolvePositions(): Promise<void> {
    await Promise.all(
      [...this.owned.values()]
        .filter((o) => o.position === undefined)
        .map(async (o) => {
          const [committed, b] = await Promise.all([this.host.committed(this.group, o.topic, o.partition), this.host.bounds(o.topic, o.partition)]);
          if (o.position !== undefined) return;
          o.position = committed !== null ? Math.min(committed, b.latest) : this.from === 'earliest' ? b.earliest : b.latest;
        }),
    );
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<PartitionBatch[]> {
    this.checkPoll(maxRecords);
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      await this.resolvePositions();
      const left = deadline - Date.now();
      const got = await this.read(maxRecords, left >= 1 ? Math.min(left, this.host.maxBlockMs) : 0);
      if (got.length > 0 || this.closed || deadline - Date.now() <= 0) return got;
    }
  }

  private async read(maxRecords: number, blockMs: number): Promise<PartitionBatch[]> {
    const all = [...this.owned.values()].filter((o) => o.position !== undefined);
    if (all.length === 0) {
      if (blockMs > 0) await new Promise<void>((resolve) => {
        const timer = setTimeout(() => ((this.wakeUp = undefined), resolve()), blockMs);
        this.wakeUp = () => (clearTimeout(timer), (this.wakeUp = undefined), resolve());
      });
      return [];
    }
    const parts = all.map((_, i) => all[(this.turn + i) % all.length]!);
    this.turn++;
    const asked = parts.map((o) => o.position!);
    // XREAD takes one COUNT for all streams: the smallest any stream needs to stay within its bytes.
    let per = Math.max(1, Math.ceil(maxRecords / parts.length));
    for (const o of parts) per = Math.min(per, o.recordBytes === 0 ? FIRST_READ : Math.max(1, Math.floor(MAX_READ_BYTES / o.recordBytes)));
    const args = ['XREAD', 'COUNT', String(per), ...(blockMs > 0 ? ['BLOCK', String(Math.ceil(blockMs))] : []), 'STREAMS', ...parts.map((o) => o.stream), ...asked.map((p) => `${p}-0`)];
    let reply: Array<[Buffer, RawEntry[]]> | null;
    try {
      reply = await this.conn.sendCommand<Array<[Buffer, RawEntry[]]> | null>(args, BUFFERS);
    } catch (e) {
      if (this.closed) return [];
      throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `consumer ${this.id} of group ${this.group}: XREAD failed: ${(e as Error).message}`, { retriable: true, cause: e });
    }
    if (!reply) return [];
    const byStream = new Map(reply.map(([k, entries]) => [k.toString(), entries]));
    const out: PartitionBatch[] = [];
    let left = maxRecords;
    parts.forEach((o, i) => {
      const entries = byStream.get(o.stream);
      // Drop what arrived for a partition handed over or sought while the read was in flight.
      if (!entries || entries.length === 0 || left === 0 || !this.stillOwned(o) || o.position !== asked[i]) return;
      const records = entries.slice(0, left).map((e) => decodeEntry(o.topic, o.partition, e));
      let bytes = 0;
      for (const r of records) bytes += r.value.length + (r.key?.length ?? 0) + 64;
      o.recordBytes = Math.ceil(bytes / records.length);
      o.position = records[records.length - 1]!.offset + 1;
      left -= records.length;
      out.push({ topic: o.topic, partition: o.partition, records });
    });
    return out;
  }

  async commit(offsets?: OffsetCommit[]): Promise<void> {
    const entries = await this.commitEntries(offsets, async (tp) => (await this.host.bounds(tp.topic, tp.partition)).latest);
    if (entries.length > 0) await this.host.commit(this.group, entries);
  }

  async seek(tp: TopicPartition, target: SeekTarget): Promise<void> {
    this.checkOpen();
    const o = this.ownedOrThrow(tp, 'seek');
    const b = await this.host.bounds(tp.topic, tp.partition);
    const at = await this.seekTarget(tp, target, b, (ts) => this.host.offsetForTimestamp(tp.topic, tp.partition, ts));
    o.position = typeof target === 'number' ? Math.min(Math.max(at, b.earliest), b.latest) : at;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owned = new Map();
    this.wakeUp?.();
    if (this.conn.isOpen) this.conn.destroy();
    await this.host.leave(this);
  }
}
