import { randomUUID } from 'node:crypto';
import type { TopologyConfig, TopologyContext } from '../../compute/api.js';
import type { Tuple } from '../../compute/tuple.js';
import type { BusRecord, TopicPartition } from '../../bus/bus.js';
import { acquireBus, type BusHandle } from '../../bus/shared.js';
import { crc32 } from '../../core/crc32.js';
import { BatchingStoreBolt } from '../../store/bolts/batching.js';

/** The header of a dead letter naming the record it was made from (`<topic>/<partition>/<offset>`). */
export const DEAD_SOURCE_HEADER = 'cdr.source';
/** Dead letters remembered per source partition: replays are of recent records. */
const MAX_SOURCES_PER_PARTITION = 100_000;
/** How many of the newest records of each dead-letter partition the bolt reads when it opens. */
const REBUILD_TAIL = 2 * MAX_SOURCES_PER_PARTITION;
/** How long that read may take before the bolt goes on with what it read (and warns). */
const REBUILD_TIMEOUT_MS = 120_000;
/** Polls in a row that find nothing before the partitions not read to their end are given up. */
const EMPTY_POLLS = 5;

/**
 * Writes dead-letter tuples (fields value, field, reason, source) to a bus topic, acking after the
 * produce; headers name the rejected field, why, and the source record. A dead letter already sent
 * is not sent again: a batch replayed because a store write failed, or read again after a restart,
 * rejects its malformed records again, and the topic is counted.
 *
 * The bolt keeps what it sent — source and a CRC-32 of the record, so that a re-created source
 * topic, whose offsets start again, is not mistaken for a replay — for the last
 * MAX_SOURCES_PER_PARTITION sources of each source partition (the oldest noted go first; with a
 * dead-letter topic of several partitions, "oldest" is only roughly the order sent). When it opens,
 * and after a produce that failed (it may have stored part of its records), it learns them again
 * from the topic itself, reading the newest REBUILD_TAIL records of each partition: the topic stays
 * the one record of what was sent. Exact as long as a produce is all or nothing (the embedded log,
 * a one-partition topic); otherwise, and past the window or the topic's retention, at least once.
 */
export class DeadLetterBolt extends BatchingStoreBolt<BusRecord> {
  private handle: BusHandle | undefined;
  /** Keys (`<source>#<crc>`) sent, per `<topic>/<partition>` of the source, in the order noted. */
  private readonly sent = new Map<string, Set<string>>();
  /** A produce failed: what the topic holds is learnt again before the next one. */
  private stale = false;
  private group = '';
  /** Dead letters not sent again because they had been. */
  duplicates = 0;

  constructor(private readonly o: { bus: string; topic: string; partitions?: number }) {
    super({ maxBatch: 1000 });
  }

  protected async open(_conf: TopologyConfig, ctx: TopologyContext): Promise<void> {
    this.handle = await acquireBus(this.o.bus);
    try {
      const admin = this.handle.bus.admin;
      if (!(await admin.listTopics()).includes(this.o.topic)) {
        await admin.createTopic(this.o.topic, { partitions: this.o.partitions ?? 1 }).catch(async (e: unknown) => {
          if (!(await admin.listTopics()).includes(this.o.topic)) throw e;
        });
      }
      // never committed, so nothing of it stays behind; unique, so no other reader shares its partitions
      this.group = `${ctx.getThisComponentId()}-${ctx.getThisTaskIndex()}-sent-${randomUUID().slice(0, 8)}`;
      await this.learn();
    } catch (e) {
      const h = this.handle;
      this.handle = undefined;
      await h.release();
      throw e;
    }
  }

  /** Reads the newest REBUILD_TAIL records of each partition of the topic up to its end as of now. */
  private async learn(): Promise<void> {
    const bus = this.handle!.bus;
    const parts = (await bus.admin.describeTopic(this.o.topic)).partitions;
    const ends = new Map(parts.map((p) => [p.partition, p.latest]));
    const starts = new Map(parts.map((p) => [p.partition, Math.max(p.earliest, p.latest - REBUILD_TAIL)]));
    const done = new Set(parts.filter((p) => starts.get(p.partition)! >= p.latest).map((p) => p.partition));
    if (done.size === ends.size) return;
    const consumer = await bus.consumer(this.group, [this.o.topic], { from: 'earliest' });
    try {
      const moved = new Set<number>();
      const deadline = Date.now() + REBUILD_TIMEOUT_MS;
      let empty = 0;
      while (done.size < ends.size && empty < EMPTY_POLLS) {
        if (Date.now() > deadline) {
          process.emitWarning(`dead-letter bolt: topic ${this.o.topic} was not read to its end within ${REBUILD_TIMEOUT_MS / 1000} s; dead letters of replayed records may be sent again`);
          break;
        }
        // start each partition at its tail once it is assigned (some buses assign on the first poll)
        for (const tp of consumer.assignment()) await this.seekOnce(consumer, tp, starts, moved);
        const batches = await consumer.poll(5000, 500);
        empty = batches.some((b) => b.records.length > 0) ? 0 : empty + 1;
        for (const b of batches) {
          if (!moved.has(b.partition)) continue; // read before its seek: read again from the tail
          for (const r of b.records) this.note(r.headers[DEAD_SOURCE_HEADER], r.value);
          const last = b.records[b.records.length - 1];
          if (last && last.offset + 1 >= (ends.get(b.partition) ?? 0)) done.add(b.partition);
        }
      }
      // what is left was deleted (retention) or compacted away after the snapshot
    } finally {
      await consumer.close();
    }
  }

  private async seekOnce(consumer: { seek(tp: TopicPartition, target: number): Promise<void> }, tp: TopicPartition, starts: Map<number, number>, moved: Set<number>): Promise<void> {
    if (moved.has(tp.partition)) return;
    await consumer.seek(tp, starts.get(tp.partition) ?? 0);
    moved.add(tp.partition);
  }

  /** `<source>#<crc of the value>` for a dead letter with a source; undefined without one. */
  private static keyOf(source: string | undefined, value: Buffer): string | undefined {
    return source === undefined ? undefined : `${source}#${crc32(value).toString(16)}`;
  }

  /** The source partition of a key (`<topic>/<partition>`). */
  private static originOf(key: string): string {
    return key.slice(0, key.lastIndexOf('/'));
  }

  private note(source: string | undefined, value: Buffer): void {
    const key = DeadLetterBolt.keyOf(source, value);
    if (key === undefined) return;
    const origin = DeadLetterBolt.originOf(key);
    let set = this.sent.get(origin);
    if (!set) this.sent.set(origin, (set = new Set()));
    if (set.has(key)) return;
    set.add(key);
    if (set.size > MAX_SOURCES_PER_PARTITION) set.delete(set.values().next().value!);
  }

  protected item(t: Tuple): BusRecord {
    const v = t.getValueByField('value') as Buffer | string;
    const headers: Record<string, string> = { 'cdr.field': String(t.getValueByField('field')), 'cdr.reason': String(t.getValueByField('reason')) };
    const source = t.getValueByField('source') as string | undefined;
    if (source !== undefined) headers[DEAD_SOURCE_HEADER] = source;
    return { value: typeof v === 'string' ? Buffer.from(v) : v, headers };
  }

  protected async write(records: BusRecord[]): Promise<void> {
    if (this.stale) {
      await this.learn();
      this.stale = false;
    }
    const fresh: BusRecord[] = [];
    const batch = new Set<string>();
    for (const r of records) {
      const key = DeadLetterBolt.keyOf(r.headers?.[DEAD_SOURCE_HEADER], r.value);
      if (key !== undefined && (batch.has(key) || this.sent.get(DeadLetterBolt.originOf(key))?.has(key))) {
        this.duplicates++;
        continue;
      }
      if (key !== undefined) batch.add(key);
      fresh.push(r);
    }
    if (fresh.length > 0) {
      try {
        await this.handle!.bus.produce(this.o.topic, fresh);
      } catch (e) {
        this.stale = true;
        throw e;
      }
    }
    for (const r of fresh) this.note(r.headers?.[DEAD_SOURCE_HEADER], r.value);
  }

  protected async closeStore(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.release();
  }
}
