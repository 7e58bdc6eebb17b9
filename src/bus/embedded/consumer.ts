import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Consumer, ConsumedRecord, OffsetCommit, PartitionBatch, SeekTarget, TopicPartition } from '../bus.js';
import type { GroupMember } from './group.js';
import type { OffsetStore } from './offsets.js';
import type { PartitionLog } from './partition.js';

/** What a consumer needs from the bus that made it. */
export interface ConsumerHost {
  log(topic: string, partition: number): PartitionLog | undefined;
  offsets: OffsetStore;
  maxPollBytes: number;
  leave(c: EmbeddedConsumer): void;
}

interface Owned {
  topic: string;
  partition: number;
  /** The next offset to return; undefined until resolved from the committed offset or `from`. */
  position: number | undefined;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class EmbeddedConsumer implements Consumer, GroupMember {
  private owned = new Map<string, Owned>();
  private closed = false;
  private turn = 0;
  private wakeUp: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly group: string,
    readonly topics: readonly string[],
    private readonly from: 'earliest' | 'latest',
    private readonly host: ConsumerHost,
  ) {}

  assign(partitions: TopicPartition[]): void {
    const next = new Map<string, Owned>();
    for (const tp of partitions) {
      const k = keyOf(tp.topic, tp.partition);
      next.set(k, this.owned.get(k) ?? { ...tp, position: undefined });
    }
    this.owned = next;
    this.wakeUp?.();
  }

  assignment(): TopicPartition[] {
    return [...this.owned.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  private check(): void {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `consumer ${this.id} of group ${this.group} is closed`);
  }

  private ownedOrThrow(tp: TopicPartition, what: string): { o: Owned; log: PartitionLog } {
    const o = this.owned.get(keyOf(tp.topic, tp.partition));
    const log = this.host.log(tp.topic, tp.partition);
    if (!o || !log) throw new MonsoonError(ErrorCodes.BUS_NOT_ASSIGNED, `cannot ${what} ${tp.topic}-${tp.partition}: it is not assigned to consumer ${this.id} of group ${this.group}`);
    return { o, log };
  }

  /** The position of a partition, starting it from the committed offset or `from`, and reset to the log start when retention passed it. */
  private position(o: Owned, log: PartitionLog): number {
    if (o.position === undefined) {
      const committed = this.host.offsets.get(this.group, o.topic, o.partition);
      o.position = committed ?? (this.from === 'earliest' ? log.earliest : log.latest);
    }
    if (o.position < log.earliest) o.position = this.from === 'earliest' ? log.earliest : log.latest;
    if (o.position > log.latest) o.position = log.latest;
    return o.position;
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<PartitionBatch[]> {
    this.check();
    if (!Number.isInteger(maxRecords) || maxRecords < 1) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `poll: maxRecords must be a positive integer, got ${String(maxRecords)}`);
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      const got = await this.fetch(maxRecords);
      if (got.length > 0 || this.closed) return got;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await this.waitForData(left);
    }
  }

  private async fetch(maxRecords: number): Promise<PartitionBatch[]> {
    const parts = [...this.owned.values()];
    const out: PartitionBatch[] = [];
    let left = maxRecords;
    let bytes = this.host.maxPollBytes;
    for (let i = 0; i < parts.length && left > 0 && bytes > 0; i++) {
      const o = parts[(this.turn + i) % parts.length]!;
      const log = this.host.log(o.topic, o.partition);
      if (!log) continue;
      const pos = this.position(o, log);
      if (pos >= log.latest) continue;
      const records: ConsumedRecord[] = await log.read(pos, left, bytes);
      if (records.length === 0 || this.owned.get(keyOf(o.topic, o.partition)) !== o) continue;
      o.position = records[records.length - 1]!.offset + 1;
      left -= records.length;
      for (const r of records) bytes -= r.value.length + (r.key?.length ?? 0);
      out.push({ topic: o.topic, partition: o.partition, records });
    }
    this.turn++;
    return out;
  }

  private waitForData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const offs: Array<() => void> = [];
      const done = () => {
        clearTimeout(timer);
        for (const off of offs) off();
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
      for (const o of this.owned.values()) {
        const log = this.host.log(o.topic, o.partition);
        if (log) offs.push(log.onData(done));
      }
    });
  }

  async commit(offsets?: OffsetCommit[]): Promise<void> {
    this.check();
    const entries: OffsetCommit[] = [];
    if (offsets === undefined) {
      for (const o of this.owned.values()) if (o.position !== undefined) entries.push({ topic: o.topic, partition: o.partition, offset: o.position });
    } else {
      for (const e of offsets) {
        const { log } = this.ownedOrThrow(e, 'commit');
        if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset > log.latest) {
          throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `commit ${e.topic}-${e.partition}: offset ${String(e.offset)} is outside 0..${log.latest}`);
        }
        entries.push({ topic: e.topic, partition: e.partition, offset: e.offset });
      }
    }
    await this.host.offsets.commit(this.group, entries);
  }

  async seek(tp: TopicPartition, target: SeekTarget): Promise<void> {
    this.check();
    const { o, log } = this.ownedOrThrow(tp, 'seek');
    if (target === 'earliest') o.position = log.earliest;
    else if (target === 'latest') o.position = log.latest;
    else if (typeof target === 'number') {
      if (!Number.isInteger(target) || target < 0) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `seek ${tp.topic}-${tp.partition}: offset must be a non-negative integer, got ${String(target)}`);
      o.position = target;
    } else {
      if (!Number.isFinite(target.timestamp)) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `seek ${tp.topic}-${tp.partition}: timestamp must be a number of milliseconds`);
      o.position = await log.offsetForTimestamp(target.timestamp);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.leave(this);
    this.owned = new Map();
    this.wakeUp?.();
  }
}
