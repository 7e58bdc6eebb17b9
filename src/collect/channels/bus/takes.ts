import type { Bus, ConsumedRecord, Consumer, OffsetCommit } from '../../../bus/bus.js';
import { errorMessage } from '../../../core/errors.js';
import type { Event } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import type { ChannelContext } from '../../contracts.js';
import { decodeAvroEvent } from '../../bus/avro-event.js';
import { Deque } from '../deque.js';
import { MARKER_HEADER } from './state.js';
import type { Taken } from './tx.js';

/** Records asked for per poll when no take said how many it wants. */
const DEFAULT_POLL = 100;

export interface TakeOptions {
  channel: string;
  topic: string;
  group: string;
  from: 'earliest' | 'latest';
  parseAsFlumeEvent: boolean;
  transactionCapacity: number;
  /** How long a take waits for records the channel knows are committed but has not read yet. */
  pollTimeout: number;
  counters: ChannelContext['counters'];
  log: Logger;
}

/**
 * The take side of a bus channel: reads the topic as a member of the channel's group and hands records
 * out in offset order per partition. A rolled-back take puts its records back at the front; a
 * committed take advances the group's offset of a partition over its prefix of committed records.
 * `base` is where the group is done per partition, as this channel sees it (it sizes the channel).
 */
export class TakeQueue {
  private consumer: Consumer | undefined;
  private closed = false;
  private polling: Promise<void> | undefined;
  private wanted = DEFAULT_POLL;
  private readonly ready = new Deque<Taken>();
  private readonly positioned = new Set<number>();
  /** Per partition: offsets handed out at least once and not committed, ascending. */
  private readonly outstanding = new Map<number, Deque<number>>();
  private readonly committed = new Map<number, Set<number>>();
  /** Per partition: the offset after the last record read. */
  private readonly polled = new Map<number, number>();

  constructor(
    private readonly bus: Bus,
    private readonly o: TakeOptions,
    /** Per partition: the group is done below this offset. */
    readonly base: number[],
    /** Per partition: the offset `base` had at the last commit this channel made (null: none yet). */
    readonly takesAt: Array<number | null>,
    /** Per partition: the next offset as the channel knows it (its own writes included). */
    private readonly end: readonly number[],
  ) {}

  get waiting(): number {
    return this.ready.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.polling?.catch(() => {});
    const c = this.consumer;
    this.consumer = undefined;
    await c?.close().catch(() => {});
  }

  /**
   * Up to `n` records from the front: returned ones first, then read ones. Records committed to the
   * topic that the consumer has not fetched yet are waited for (up to pollTimeout): a take sees what
   * the channel holds, whatever the bus's fetch latency.
   */
  async take(n: number): Promise<Taken[]> {
    this.wanted = Math.max(1, n);
    if (this.ready.length < n) await this.fill(0);
    const deadline = Date.now() + this.o.pollTimeout;
    while (this.ready.length < n && this.behind()) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.fill(left);
    }
    return this.ready.shiftMany(n);
  }

  /** True while a partition this channel reads has records it knows of beyond what was read. */
  private behind(): boolean {
    const mine = this.consumer?.assignment();
    if (!mine) return this.end.some((e, p) => e > this.base[p]!);
    for (const tp of mine) if (tp.topic === this.o.topic && this.end[tp.partition]! > (this.polled.get(tp.partition) ?? this.base[tp.partition]!)) return true;
    return false;
  }

  /** Puts rolled-back takes back at the front, in their order. */
  giveBack(taken: readonly Taken[]): void {
    this.ready.unshiftAll(taken);
  }

  /** Reads what the topic has (waiting up to `timeoutMs`); one poll at a time. */
  fill(timeoutMs: number): Promise<void> {
    this.polling ??= this.pollOnce(timeoutMs).finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    const c = (this.consumer ??= await this.bus.consumer(this.o.group, [this.o.topic], { from: this.o.from }));
    await this.position(c);
    const t0 = performance.now();
    const batches = await c.poll(Math.min(this.wanted, this.o.transactionCapacity), timeoutMs);
    this.o.counters.inc('KafkaEventGetTimer', Math.round(performance.now() - t0));
    for (const b of batches) {
      const p = b.partition;
      if (!this.positioned.has(p)) continue; // assigned during this poll: read again after its seek
      let out = this.outstanding.get(p);
      if (!out) this.outstanding.set(p, (out = new Deque<number>()));
      const taken: Taken[] = [];
      const offsets: number[] = [];
      const from = this.polled.get(p) ?? 0;
      for (const r of b.records) {
        if (r.offset < from) continue;
        offsets.push(r.offset);
        const e = this.toEvent(r);
        if (e) taken.push({ p, o: r.offset, e });
        else this.doneSet(p).add(r.offset); // skipped: nothing to take, done with the next commit
      }
      if (b.records.length > 0) this.polled.set(p, b.records[b.records.length - 1]!.offset + 1);
      out.pushAll(offsets);
      this.ready.pushAll(taken);
    }
    await this.position(c);
  }

  /**
   * Follows the group's assignment: a partition given to another member is forgotten (its records not
   * yet committed here go back to the group: the new owner reads them again — at-least-once), and
   * one newly assigned is moved to where this channel's takes stand (base) before it is read.
   */
  private async position(c: Consumer): Promise<void> {
    const mine = new Set(c.assignment().filter((tp) => tp.topic === this.o.topic).map((tp) => tp.partition));
    for (const p of [...this.positioned]) {
      if (mine.has(p)) continue;
      this.positioned.delete(p);
      this.outstanding.delete(p);
      this.committed.delete(p);
      this.polled.delete(p);
      const keep = this.ready.shiftMany(this.ready.length).filter((t) => t.p !== p);
      this.ready.pushAll(keep);
    }
    const fresh = c.assignment().filter((tp) => tp.topic === this.o.topic && !this.positioned.has(tp.partition));
    if (fresh.length === 0) return;
    // another member may have committed past what this channel knew; this channel's own take
    // commits may be ahead of the group's (written to its state file first): the later of the two
    const lag = await this.bus.lag(this.o.group);
    for (const tp of fresh) {
      const committed = lag.find((l) => l.topic === tp.topic && l.partition === tp.partition)?.committed ?? null;
      const at = Math.max(this.base[tp.partition] ?? 0, committed ?? 0);
      this.base[tp.partition] = at;
      await c.seek(tp, at);
      this.polled.set(tp.partition, at);
      this.positioned.add(tp.partition);
    }
  }

  private doneSet(p: number): Set<number> {
    let s = this.committed.get(p);
    if (!s) this.committed.set(p, (s = new Set()));
    return s;
  }

  private toEvent(r: ConsumedRecord): Event | undefined {
    if (this.o.parseAsFlumeEvent) {
      try {
        return decodeAvroEvent(r.value, `record ${r.offset} of ${r.topic}/${r.partition}`);
      } catch (e) {
        this.o.counters.inc('CorruptRecordCount', 1);
        this.o.log.warn(
          { channel: this.o.channel, topic: r.topic, partition: r.partition, offset: r.offset, err: errorMessage(e) },
          `channel ${this.o.channel}: skipping a record that is not a Flume event (parseAsFlumeEvent = true)`,
        );
        return undefined;
      }
    }
    const h = r.headers;
    if (h[MARKER_HEADER] === undefined) return { headers: h, body: r.value };
    const headers: Record<string, string> = {};
    for (const k in h) if (k !== MARKER_HEADER) headers[k] = h[k]!;
    return { headers, body: r.value };
  }

  /**
   * Marks taken records committed; returns the group offsets that advance (base and takesAt follow).
   * With `dry`, only computes them.
   */
  done(taken: readonly Taken[], dry = false): OffsetCommit[] {
    const byPartition = new Map<number, number[]>();
    for (const t of taken) {
      const list = byPartition.get(t.p);
      if (list) list.push(t.o);
      else byPartition.set(t.p, [t.o]);
    }
    const commits: OffsetCommit[] = [];
    for (const [p, offsets] of byPartition) {
      const out = this.outstanding.get(p);
      if (!out) continue; // a partition given up since (rebalance): its records were handed back
      const done = this.doneSet(p);
      const now = new Set(offsets);
      const items = out.toArray();
      let n = 0;
      while (n < items.length && (now.has(items[n]!) || done.has(items[n]!))) n++;
      const next = items[n] ?? this.polled.get(p) ?? this.base[p]!;
      const advances = next > this.base[p]!;
      if (advances) commits.push({ topic: this.o.topic, partition: p, offset: next });
      if (dry) continue;
      for (let i = 0; i < n; i++) done.delete(items[i]!);
      // taken records behind one not yet committed wait in `done` until the gap closes
      if (n < items.length) for (const o of offsets) if (o >= items[n]!) done.add(o);
      out.shiftMany(n);
      if (advances) {
        this.base[p] = next;
        this.takesAt[p] = next;
      }
    }
    return commits;
  }

  /** Commits group offsets on the bus; a failure is counted and logged, the next commit covers it. */
  async commit(commits: OffsetCommit[]): Promise<void> {
    commits = commits.filter((c) => this.positioned.has(c.partition)); // still this member's
    if (commits.length === 0 || !this.consumer) return;
    const t0 = performance.now();
    try {
      await this.consumer.commit(commits);
    } catch (e) {
      // the records are done here; after a crash before the next commit they are read again
      this.o.counters.inc('KafkaCommitErrorCount', 1);
      this.o.log.warn({ channel: this.o.channel, err: errorMessage(e) }, `channel ${this.o.channel}: committing the group's offsets failed; the next commit retries`);
    }
    this.o.counters.inc('KafkaCommitTimer', Math.round(performance.now() - t0));
  }
}
