import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { MonsoonError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { ConsumedRecord, OffsetCommit, PartitionBatch, SeekTarget, TopicPartition } from '../bus.js';
import { GroupConsumer, type OwnedPartition } from '../group-consumer.js';
import { decodeMessage, streamSeqOf } from './layout.js';

/** What a consumer needs from the bus that made it. */
export interface NatsConsumerHost {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** The stream of a partition (throws BUS_UNKNOWN_TOPIC when the topic is gone). */
  streamOf(topic: string, partition: number): Promise<string>;
  bounds(topic: string, partition: number): Promise<{ earliest: number; latest: number }>;
  committed(group: string, topic: string, partition: number): Promise<number | null>;
  commit(group: string, entries: OffsetCommit[]): Promise<void>;
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number>;
  /** A NATS or JetStream failure as a coded Monsoon error. */
  mapError(e: unknown, what: string): MonsoonError;
  leave(c: NatsConsumer): Promise<void>;
  /** The longest one poll waits before looking at its assignment again. */
  maxWaitMs: number;
  /** The server's max_payload: a pull must allow at least one message this large. */
  maxPayload: number;
  log: Logger;
}

interface Owned extends OwnedPartition {
  reader: PartitionReader | undefined;
}

/** Records a consumer may hold read ahead, over all its partitions. */
const READ_AHEAD_BYTES = 32 * 1024 * 1024;
const READ_AHEAD_RECORDS = 20_000;
/** How long one pull request waits on the server for records to arrive. */
const PULL_EXPIRES_MS = 5000;
/** A pull that neither delivered nor ended this long after it expired is lost (its server died). */
const PULL_GRACE_MS = 5000;
/** A partition's consumer on the server goes away this long after its last pull (a crashed process). */
const INACTIVE_MS = 60_000;
/** Times a reader starts over at the same offset because records seemed skipped, before it accepts the gap. */
const GAP_CHECKS = 3;

/**
 * Reads one partition ahead of the application: an ephemeral JetStream pull consumer (no acks, in
 * memory, one replica) starting at the stream sequence of the next offset, and pull requests on this
 * process's own inbox, each bounded in records and bytes by what the read-ahead buffer has room for.
 * Records arrive in stream order; one that is not past the last one (a redelivery after a reset) is
 * dropped. Whatever goes wrong on the server side — a consumer removed, a pull that never ends because
 * its server died, a leader change — resets the reader, which starts over at the next offset it needs.
 */
class PartitionReader {
  readonly records: ConsumedRecord[] = [];
  head = 0;
  bytes = 0;
  /** The next offset expected from the server (past everything buffered). */
  next: number;
  private consumer: string | undefined;
  private starting: Promise<void> | undefined;
  private sub: Subscription | undefined;
  private pullLeft = 0;
  private pullTimer: NodeJS.Timeout | undefined;
  private closed = false;
  failure: MonsoonError | undefined;

  constructor(
    readonly owner: Owned,
    private readonly host: NatsConsumerHost,
    private readonly limits: { records: number; bytes: number },
    private readonly notify: () => void,
  ) {
    this.next = owner.position!;
  }

  get buffered(): number {
    return this.records.length - this.head;
  }

  /** Makes sure a server-side consumer exists and a pull is outstanding when there is room. */
  async ensure(): Promise<void> {
    if (this.closed) return;
    if (this.checking) await this.checking;
    if (!this.consumer) {
      this.starting ??= this.start().finally(() => (this.starting = undefined));
      await this.starting;
    }
    this.maybePull();
  }

  private async start(): Promise<void> {
    const { topic, partition } = this.owner;
    const stream = await this.host.streamOf(topic, partition);
    let name: string;
    try {
      const info = await this.host.jsm.consumers.add(stream, {
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: this.next + 1,
        inactive_threshold: nanos(INACTIVE_MS),
        mem_storage: true,
        num_replicas: 1,
      });
      name = info.name;
    } catch (e) {
      throw this.host.mapError(e, `read ${topic}-${partition}`);
    }
    if (this.closed) {
      this.host.jsm.consumers.delete(stream, name).catch(() => {});
      return;
    }
    const inbox = createInbox();
    const pullSubject = `$JS.API.CONSUMER.MSG.NEXT.${stream}.${name}`;
    this.sub = this.host.nc.subscribe(inbox, { callback: (err, m) => (err ? this.reset() : this.onMessage(m)) });
    this.consumer = name;
    this.pull = () => {
      const room = this.limits.records - this.buffered;
      const roomBytes = Math.max(this.limits.bytes - this.bytes, this.host.maxPayload + 65_536);
      this.pullLeft = room;
      this.host.nc.publish(pullSubject, JSON.stringify({ batch: room, max_bytes: roomBytes, expires: nanos(PULL_EXPIRES_MS) }), { reply: inbox });
      this.pullTimer = setTimeout(() => {
        this.host.log.warn(`NATS bus: a pull of ${topic}-${partition} got no answer; reading it again from offset ${this.next}.`);
        this.reset();
      }, PULL_EXPIRES_MS + PULL_GRACE_MS);
      this.pullTimer.unref();
    };
    this.drop = () => {
      this.host.jsm.consumers.delete(stream, name).catch(() => {});
    };
  }

  private pull: (() => void) | undefined;
  private drop: (() => void) | undefined;

  private maybePull(): void {
    if (this.closed || !this.pull || this.pullLeft > 0) return;
    if (this.buffered > this.limits.records / 2 || this.bytes > this.limits.bytes / 2) return;
    this.pull();
  }

  private endPull(): void {
    this.pullLeft = 0;
    if (this.pullTimer) clearTimeout(this.pullTimer);
    this.pullTimer = undefined;
    this.maybePull();
  }

  private onMessage(m: Msg): void {
    if (this.closed) return;
    const code = m.headers?.code ?? 0;
    if (code !== 0 && m.data.length === 0) {
      const why = m.headers?.description ?? '';
      // 408: the pull expired; 404: nothing to pull; 409 on byte or waiting limits: the pull ended.
      if (code === 408 || code === 404 || (code === 409 && /Exceeds MaxBytes|Exceeded Max/i.test(why))) return this.endPull();
      if (code === 100) return;
      this.host.log.warn(`NATS bus: reading ${this.owner.topic}-${this.owner.partition}: ${code} ${why}; reading it again from offset ${this.next}.`);
      return this.reset();
    }
    const seq = streamSeqOf(m.reply);
    if (!(seq >= 1)) return;
    this.pullLeft--;
    const offset = seq - 1;
    if (offset > this.next && !(this.gapAt === this.next && this.gapChecks >= GAP_CHECKS)) return this.onGap(offset);
    if (offset >= this.next) {
      const r = decodeMessage(this.owner.topic, this.owner.partition, offset, m);
      this.records.push(r);
      this.bytes += r.value.length + (r.key?.length ?? 0) + 64;
      this.next = offset + 1;
      this.notify();
    }
    if (this.pullLeft <= 0) this.endPull();
  }

  /**
   * A record past the next offset. Retention explains it when the stream's first record is past the
   * next offset; otherwise the server-side consumer skipped records (seen on a replica while the
   * stream's leader changed), so the reader starts over at the next offset. A gap the stream keeps
   * showing (records deleted from its middle by hand) is accepted after GAP_CHECKS tries.
   */
  private onGap(offset: number): void {
    const at = this.next;
    if (this.gapAt !== at) {
      this.gapAt = at;
      this.gapChecks = 0;
    }
    this.gapChecks++;
    this.host.log.warn(`NATS bus: ${this.owner.topic}-${this.owner.partition} delivered offset ${offset} where ${at} was next; checking the stream and reading again from ${at}.`);
    this.reset();
    this.checking = this.host
      .bounds(this.owner.topic, this.owner.partition)
      .then((b) => {
        if (b.earliest > this.next) this.next = b.earliest;
      })
      .catch(() => {})
      .finally(() => (this.checking = undefined));
  }

  private gapAt = -1;
  private gapChecks = 0;
  private checking: Promise<void> | undefined;

  /** Takes up to `n` buffered records. */
  take(n: number): ConsumedRecord[] {
    const end = Math.min(this.records.length, this.head + n);
    const out = this.records.slice(this.head, end);
    this.head = end;
    for (const r of out) this.bytes -= r.value.length + (r.key?.length ?? 0) + 64;
    if (this.head === this.records.length) {
      this.records.length = 0;
      this.head = 0;
    } else if (this.head > 4096) {
      this.records.splice(0, this.head);
      this.head = 0;
    }
    this.maybePull();
    return out;
  }

  /** Forgets the server-side consumer; the next `ensure` makes a new one from `next`. */
  reset(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.drop?.();
    this.drop = undefined;
    this.pull = undefined;
    this.consumer = undefined;
    this.pullLeft = 0;
    if (this.pullTimer) clearTimeout(this.pullTimer);
    this.pullTimer = undefined;
    this.notify();
  }

  close(): void {
    this.reset();
    this.closed = true;
  }
}

/**
 * A member of a consumer group of the NATS JetStream bus. Reads its partitions from its own positions
 * (offset o is stream sequence o + 1) through one PartitionReader each, so the group's progress is
 * exactly its committed offsets; its partitions come from the group's membership in the KV bucket
 * (membership.ts).
 */
export class NatsConsumer extends GroupConsumer<Owned> {
  private readers = new Set<PartitionReader>();
  private waiting: (() => void) | undefined;

  constructor(id: string, group: string, topics: readonly string[], from: 'earliest' | 'latest', private readonly host: NatsConsumerHost) {
    super(id, group, topics, from);
  }

  protected newOwned(tp: TopicPartition): Owned {
    return { ...tp, position: undefined, reader: undefined };
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

  /** Readers for the owned partitions; readers of partitions handed over or sought are closed. */
  private async syncReaders(): Promise<PartitionReader[]> {
    for (const r of this.readers) {
      if (!this.stillOwned(r.owner) || r.owner.reader !== r) {
        r.close();
        this.readers.delete(r);
      }
    }
    const owned = [...this.owned.values()].filter((o) => o.position !== undefined);
    const limits = {
      records: Math.max(100, Math.floor(READ_AHEAD_RECORDS / Math.max(1, owned.length))),
      bytes: Math.max(this.host.maxPayload * 2, Math.floor(READ_AHEAD_BYTES / Math.max(1, owned.length))),
    };
    for (const o of owned) {
      if (!o.reader) {
        o.reader = new PartitionReader(o, this.host, limits, () => this.waiting?.());
        this.readers.add(o.reader);
      }
    }
    const readers = owned.map((o) => o.reader!);
    const settled = await Promise.allSettled(readers.map((r) => r.ensure()));
    for (const [i, s] of settled.entries()) {
      if (s.status === 'fulfilled') continue;
      // A server down or a leader being elected: the reader tries again on the next round of the poll.
      const e = s.reason as MonsoonError;
      if (!(e instanceof MonsoonError && e.retriable)) throw e;
      const r = readers[i]!;
      this.host.log.warn({ err: e }, `NATS bus: consumer ${this.id} cannot read ${r.owner.topic}-${r.owner.partition} yet; trying again.`);
    }
    return readers;
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<PartitionBatch[]> {
    this.checkPoll(maxRecords);
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      await this.resolvePositions();
      const readers = await this.syncReaders();
      if (this.closed) return [];
      const got = this.take(readers, maxRecords);
      const left = deadline - Date.now();
      if (got.length > 0 || left <= 0) return got;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiting = undefined;
          this.wakeUp = undefined;
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, this.host.maxWaitMs));
        this.waiting = done;
        this.wakeUp = done;
      });
    }
  }

  private take(readers: PartitionReader[], maxRecords: number): PartitionBatch[] {
    const out: PartitionBatch[] = [];
    let left = maxRecords;
    const n = readers.length;
    const start = this.turn++;
    for (let i = 0; i < n && left > 0; i++) {
      const r = readers[(start + i) % n]!;
      if (r.buffered === 0) continue;
      const records = r.take(left);
      r.owner.position = records[records.length - 1]!.offset + 1;
      left -= records.length;
      out.push({ topic: r.owner.topic, partition: r.owner.partition, records });
    }
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
    // The read-ahead belongs to the old position: the next poll starts a new reader.
    o.reader = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owned = new Map();
    for (const r of this.readers) r.close();
    this.readers.clear();
    this.waiting?.();
    await this.host.leave(this);
  }
}
