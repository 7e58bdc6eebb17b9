import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { Consumer, OffsetCommit, PartitionBatch, SeekTarget, TopicPartition } from './bus.js';
import type { GroupMember } from './embedded/group.js';

/**
 * What every bus's group consumer shares, whatever the engine: the partitions it owns and their
 * positions, its closed state, and the contract's checks of poll, commit and seek arguments. An
 * implementation supplies how it reads, where committed offsets live and a partition's bounds.
 */
export interface OwnedPartition {
  topic: string;
  partition: number;
  /** The next offset to return; undefined until resolved from the committed offset or `from`. */
  position: number | undefined;
}

export const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export abstract class GroupConsumer<O extends OwnedPartition> implements Consumer, GroupMember {
  protected owned = new Map<string, O>();
  protected closed = false;
  /** Rotates which partition is read first, so one busy partition cannot starve the others. */
  protected turn = 0;
  protected wakeUp: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly group: string,
    readonly topics: readonly string[],
    protected readonly from: 'earliest' | 'latest',
  ) {}

  /** The state of a partition newly assigned to this consumer. */
  protected abstract newOwned(tp: TopicPartition): O;

  abstract poll(maxRecords: number, timeoutMs: number): Promise<PartitionBatch[]>;
  abstract commit(offsets?: OffsetCommit[]): Promise<void>;
  abstract seek(tp: TopicPartition, target: SeekTarget): Promise<void>;
  abstract close(): Promise<void>;

  assign(partitions: TopicPartition[]): void {
    const next = new Map<string, O>();
    for (const tp of partitions) {
      const k = partitionKey(tp.topic, tp.partition);
      next.set(k, this.owned.get(k) ?? this.newOwned(tp));
    }
    this.owned = next;
    this.wakeUp?.();
  }

  assignment(): TopicPartition[] {
    return [...this.owned.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** True while `o` is still this consumer's state for its partition (not handed over meanwhile). */
  protected stillOwned(o: O): boolean {
    return this.owned.get(partitionKey(o.topic, o.partition)) === o;
  }

  protected checkOpen(): void {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `consumer ${this.id} of group ${this.group} is closed`);
  }

  protected checkPoll(maxRecords: number): void {
    this.checkOpen();
    if (!Number.isInteger(maxRecords) || maxRecords < 1) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `poll: maxRecords must be a positive integer, got ${String(maxRecords)}`);
  }

  protected ownedOrThrow(tp: TopicPartition, what: string): O {
    const o = this.owned.get(partitionKey(tp.topic, tp.partition));
    if (!o) throw new MonsoonError(ErrorCodes.BUS_NOT_ASSIGNED, `cannot ${what} ${tp.topic}-${tp.partition}: it is not assigned to consumer ${this.id} of group ${this.group}`);
    return o;
  }

  /**
   * The offsets a commit stores: the given ones, each checked to be owned and within 0..latest, or
   * without arguments the current position of every owned partition that has one.
   */
  protected async commitEntries(offsets: OffsetCommit[] | undefined, latestOf: (tp: TopicPartition) => number | Promise<number>): Promise<OffsetCommit[]> {
    this.checkOpen();
    const entries: OffsetCommit[] = [];
    if (offsets === undefined) {
      for (const o of this.owned.values()) if (o.position !== undefined) entries.push({ topic: o.topic, partition: o.partition, offset: o.position });
      return entries;
    }
    for (const e of offsets) {
      this.ownedOrThrow(e, 'commit');
      const latest = await latestOf(e);
      if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset > latest) {
        throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `commit ${e.topic}-${e.partition}: offset ${String(e.offset)} is outside 0..${latest}`);
      }
      entries.push({ topic: e.topic, partition: e.partition, offset: e.offset });
    }
    return entries;
  }

  /** The position a seek asks for (an offset is returned as given, after its check). */
  protected async seekTarget(tp: TopicPartition, target: SeekTarget, bounds: { earliest: number; latest: number }, byTime: (timestamp: number) => Promise<number>): Promise<number> {
    if (target === 'earliest') return bounds.earliest;
    if (target === 'latest') return bounds.latest;
    if (typeof target === 'number') {
      if (!Number.isInteger(target) || target < 0) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `seek ${tp.topic}-${tp.partition}: offset must be a non-negative integer, got ${String(target)}`);
      return target;
    }
    if (!Number.isFinite(target.timestamp)) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `seek ${tp.topic}-${tp.partition}: timestamp must be a number of milliseconds`);
    return byTime(target.timestamp);
  }
}
