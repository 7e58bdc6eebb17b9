import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { ConsumedRecord, OffsetCommit, PartitionBatch, SeekTarget, TopicPartition } from '../bus.js';
import { GroupConsumer, type OwnedPartition } from '../group-consumer.js';
import type { OffsetStore } from './offsets.js';
import type { PartitionLog } from './partition.js';

/** What a consumer needs from the bus that made it. */
export interface ConsumerHost {
  log(topic: string, partition: number): PartitionLog | undefined;
  offsets: OffsetStore;
  maxPollBytes: number;
  leave(c: EmbeddedConsumer): void;
}

type Owned = OwnedPartition;

export class EmbeddedConsumer extends GroupConsumer<Owned> {
  constructor(id: string, group: string, topics: readonly string[], from: 'earliest' | 'latest', private readonly host: ConsumerHost) {
    super(id, group, topics, from);
  }

  protected newOwned(tp: TopicPartition): Owned {
    return { ...tp, position: undefined };
  }

  private ownedWithLog(tp: TopicPartition, what: string): { o: Owned; log: PartitionLog } {
    const o = this.ownedOrThrow(tp, what);
    const log = this.host.log(tp.topic, tp.partition);
    if (!log) throw new MonsoonError(ErrorCodes.BUS_NOT_ASSIGNED, `cannot ${what} ${tp.topic}-${tp.partition}: it is not assigned to consumer ${this.id} of group ${this.group}`);
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
    this.checkPoll(maxRecords);
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
      log.noteReader();
      if (pos >= log.latest) continue;
      const records: ConsumedRecord[] = await log.read(pos, left, bytes);
      if (records.length === 0 || !this.stillOwned(o)) continue;
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
    const entries = await this.commitEntries(offsets, (tp) => this.ownedWithLog(tp, 'commit').log.latest);
    await this.host.offsets.commit(this.group, entries);
  }

  async seek(tp: TopicPartition, target: SeekTarget): Promise<void> {
    this.checkOpen();
    const { o, log } = this.ownedWithLog(tp, 'seek');
    o.position = await this.seekTarget(tp, target, log, (ts) => log.offsetForTimestamp(ts));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.leave(this);
    this.owned = new Map();
    this.wakeUp?.();
  }
}
