import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { Bus, BusRecord, OffsetCommit } from '../../bus/bus.js';
import { acquireBus, displayUrl, type BusHandle } from '../../bus/shared.js';
import { ChannelFullError, ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import { batchBytes, type Event } from '../../core/event.js';
import { lockDir } from '../../core/fs.js';
import type { Logger } from '../../core/log.js';
import { prop } from '../../core/config/props.js';
import { encodeAvroEvent } from '../bus/avro-event.js';
import { checkUrl, kafkaUrl, MONSOON_TYPES, ZOOKEEPER_IGNORED } from '../bus/location.js';
import { defineChannel, type Channel, type ChannelContext, type ChannelTx } from '../contracts.js';
import { MARKER_HEADER, emptyState, markerHeader, readState, scanMarkers, writeState, type ChannelState, type Marker } from './bus/state.js';
import { TakeQueue } from './bus/takes.js';
import { BusTx, type Taken } from './bus/tx.js';
import { Signal } from './signal.js';

/**
 * Bus channel: the events live in a bus topic — Flume's KafkaChannel (`type = kafka`), and the same
 * channel on Monsoon's own buses (`bus`, `embedded`/`monsoon`, `redis`, `nats`; registered at the end
 * of this file). A put commit is one produce that resolves
 * once the bus holds the records durably; a take reads the topic as consumer group `group` and its
 * commit commits the group's offsets. With no sink the channel is how a source writes straight to
 * a topic (Flume's "source and channel, no sink" use of the Kafka channel), one durable write per
 * event instead of a channel's log plus the topic.
 *
 * Each put transaction goes to one partition (defaultPartitionId, else the next one in turn), so it
 * is one produce there: the embedded log keeps it all or none after a crash (Kafka, within one
 * producer batch; on Redis and NATS a crash in the middle of a produce can leave a part of it, which a
 * source's replay then writes again — at-least-once). Its markers ride in a header of its last
 * record (state.ts) and are read back from the topic at start, from where the state file's scan
 * offsets say they may be; markers of commits that write no record (takes, marker-only commits) are
 * written to that state file before the commit returns. With partitionIdHeader, a transaction whose
 * events name several partitions is produced partition by partition, markers last (a crash between
 * them leaves the first parts without markers: a source's replay writes them again).
 *
 * Takes: records are handed out in offset order per partition; a rolled-back take returns them to the
 * front; a commit advances the group's offset of a partition to its first record not yet committed.
 * Order across partitions is not kept (as with Kafka). Delivery to sinks is at-least-once; a sink's
 * markers are exact because the taken offsets are written with them. size() is the topic's records
 * this channel's group has not committed, as this channel sees them.
 */
export interface BusChannelOptions {
  url: string;
  topic: string;
  group: string;
  parseAsFlumeEvent: boolean;
  pollTimeout: number;
  partitionIdHeader?: string | undefined;
  defaultPartitionId?: number | undefined;
  from: 'earliest' | 'latest';
  /** Partitions of the topic when the channel creates it. */
  partitions: number;
  capacity: number;
  transactionCapacity: number;
  checkpointDir: string;
  checkpointInterval: number;
  /** Writes the state file after this many bytes of puts, bounding the scan at start. */
  checkpointBytes: number;
}

const STATE_FILE = 'bus-channel.json';

export class BusChannel implements Channel {
  readonly durable = true;
  readonly capacity: number;
  readonly transactionCapacity: number;
  /** Names this channel in its marker headers (kept in the state file from the first start on). */
  private owner: string;
  private readonly statePath: string;
  private readonly log: Logger;
  private readonly counters: ChannelContext['counters'];
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private handle: BusHandle | undefined;
  private unlock: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly markers = new Map<string, Marker>();
  private seq = 0;
  private partitionCount = 0;
  private turn = 0;
  /** Per partition: the next offset as this channel knows it. */
  private end: number[] = [];
  /** Per partition: the offset after the records of every produce of this channel that resolved. */
  private applied: number[] = [];
  /**
   * Per partition: for each produce in flight, `applied` when it was issued — it lands at or after
   * that offset, so below the lowest of them every record of this channel has its markers applied.
   */
  private floors: number[][] = [];
  private putBytes = 0;
  private saving: Promise<void> = Promise.resolve();
  private readonly running = new Set<Promise<unknown>>();
  private takes: TakeQueue | undefined;
  private readonly dataSignal = new Signal();
  private readonly spaceSignal = new Signal();

  constructor(
    readonly name: string,
    private readonly o: BusChannelOptions,
    ctx: ChannelContext,
  ) {
    this.capacity = o.capacity;
    this.transactionCapacity = o.transactionCapacity;
    this.owner = `${ctx.agentId}/${name}`;
    this.statePath = join(resolve(o.checkpointDir), STATE_FILE);
    this.log = ctx.log;
    this.counters = ctx.counters;
    this.counters.gauge('ChannelSize', () => this.size());
    // unlimited capacity (the default) reports 0 and fills 0%
    const limited = Number.isFinite(o.capacity);
    this.counters.gauge('ChannelCapacity', () => (limited ? this.capacity : 0));
    this.counters.gauge('ChannelFillPercentage', () => (limited ? (this.size() * 100) / this.capacity : 0));
    for (const c of ['RollbackCount', 'CorruptRecordCount', 'KafkaEventSendTimer', 'KafkaCommitTimer', 'KafkaCommitErrorCount']) this.counters.inc(c, 0);
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new MonsoonError(ErrorCodes.CHANNEL_CLOSED, `channel ${this.name} was already started`);
    this.state = 'starting';
    try {
      const dir = resolve(this.o.checkpointDir);
      await mkdir(dir, { recursive: true });
      this.unlock = await lockDir(dir, 'in_use.lock', (holder, path) =>
        new MonsoonError(ErrorCodes.CHANNEL_LOCKED, `channel ${this.name}: ${dir} is in use by ${holder === 'this process' ? 'another channel of this process' : `process ${holder} (${path})`}; two channels must not share a checkpointDir`),
      );
      this.handle = await acquireBus(this.o.url, this.log);
      await this.recover(this.handle.bus);
    } catch (e) {
      await this.release();
      this.state = 'stopped';
      throw e instanceof MonsoonError ? e : new MonsoonError(ErrorCodes.IO, `channel ${this.name} cannot start on bus ${displayUrl(this.o.url)}: ${errorMessage(e)}`, { retriable: true, cause: e });
    }
    this.timer = setInterval(() => void this.save().catch((e) => this.log.error({ channel: this.name, err: errorMessage(e) }, `channel ${this.name}: state file not written`)), this.o.checkpointInterval);
    this.timer.unref();
    this.state = 'running';
  }

  private async recover(bus: Bus): Promise<void> {
    const desc = await this.describe(bus);
    const n = desc.length;
    if (this.o.defaultPartitionId !== undefined && this.o.defaultPartitionId >= n) {
      throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `channel ${this.name}: defaultPartitionId ${this.o.defaultPartitionId} is not a partition of topic ${this.o.topic} (it has ${n})`);
    }
    let st: ChannelState | undefined;
    let scanFrom: number[];
    try {
      st = await readState(this.statePath);
      // no state file: this channel never ran here, so the topic holds no markers of it
      scanFrom = desc.map((p, i) => (st ? Math.max(st.scan[i] ?? p.earliest, p.earliest) : p.latest));
    } catch (e) {
      this.log.warn({ channel: this.name, err: errorMessage(e) }, `channel ${this.name}: unreadable state file; reading its markers back from the whole topic`);
      scanFrom = desc.map((p) => p.earliest);
    }
    st ??= emptyState(this.owner);
    this.owner = st.owner;
    for (const [k, m] of st.markers) this.markers.set(k, m);
    const latest = desc.map((p) => p.latest);
    const scanned = await scanMarkers(bus, this.o.topic, `monsoon-markers.${this.owner.replace(/[^a-zA-Z0-9._-]/g, '_')}`.slice(0, 240), this.owner, scanFrom, latest, this.markers, this.log);
    this.seq = Math.max(st.seq, scanned);
    for (const m of this.markers.values()) this.seq = Math.max(this.seq, m.s);
    this.partitionCount = n;
    this.end = [...latest];
    this.applied = [...latest];
    this.floors = desc.map(() => []);
    const takesAt = desc.map((_, i) => st!.takes[i] ?? null);
    const lag = (await bus.lag(this.o.group)).filter((l) => l.topic === this.o.topic);
    const base = desc.map((p, i) => {
      const c = lag.find((l) => l.partition === i)?.committed ?? null;
      const from = c ?? (this.o.from === 'earliest' ? p.earliest : p.latest);
      return Math.max(from, takesAt[i] ?? 0);
    });
    const { topic, group, from, parseAsFlumeEvent, transactionCapacity, pollTimeout } = this.o;
    const takeOptions = { channel: this.name, topic, group, from, parseAsFlumeEvent, transactionCapacity, pollTimeout, counters: this.counters, log: this.log };
    this.takes = new TakeQueue(bus, takeOptions, base, takesAt, this.end);
    await this.save(true);
  }

  private async describe(bus: Bus): Promise<Array<{ earliest: number; latest: number }>> {
    try {
      return (await bus.admin.describeTopic(this.o.topic)).partitions;
    } catch (e) {
      if (!(e instanceof MonsoonError) || e.code !== ErrorCodes.BUS_UNKNOWN_TOPIC) throw e;
    }
    await bus.admin.createTopic(this.o.topic, { partitions: this.o.partitions }).catch((e: unknown) => {
      if (!(e instanceof MonsoonError && e.code === ErrorCodes.BUS_TOPIC_EXISTS)) throw e;
    });
    this.log.info({ topic: this.o.topic, partitions: this.o.partitions }, `channel ${this.name}: created topic ${this.o.topic}`);
    return (await bus.admin.describeTopic(this.o.topic)).partitions;
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    clearInterval(this.timer);
    try {
      while (this.running.size > 0) await Promise.allSettled([...this.running]);
      await this.save(true);
    } finally {
      await this.release();
      this.state = 'stopped';
      this.counters.stopTime = Date.now();
      this.dataSignal.notify();
      this.spaceSignal.notify();
    }
  }

  /** @internal Stops without writing the state file or waiting for commits, as a crash would (tests only). */
  async halt(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopped';
    clearInterval(this.timer);
    await this.saving.catch(() => {});
    await this.release();
  }

  private async release(): Promise<void> {
    await this.takes?.close();
    const h = this.handle;
    this.handle = undefined;
    await h?.release().catch(() => {});
    const u = this.unlock;
    this.unlock = undefined;
    await u?.();
  }

  size(): number {
    const base = this.takes?.base;
    if (!base) return 0;
    let n = 0;
    for (let p = 0; p < this.partitionCount; p++) n += Math.max(0, this.end[p]! - base[p]!);
    return n;
  }

  marker(key: string): string | undefined {
    return this.markers.get(key)?.v;
  }

  waitForData(ms: number): Promise<void> {
    if (this.state !== 'running' || this.takes!.waiting > 0) return Promise.resolve();
    return this.takes!.fill(Math.min(ms, this.o.pollTimeout)).catch((e: unknown) => {
      this.log.warn({ channel: this.name, err: errorMessage(e) }, `channel ${this.name}: reading topic ${this.o.topic} failed; retrying`);
      return this.dataSignal.wait(Math.min(ms, 1000));
    });
  }

  waitForSpace(ms: number): Promise<void> {
    return this.size() < this.capacity ? Promise.resolve() : this.spaceSignal.wait(ms);
  }

  transaction(): ChannelTx {
    return new BusTx(this);
  }

  /** @internal */ ensureRunning(): void {
    if (this.state !== 'running') throw new MonsoonError(ErrorCodes.CHANNEL_CLOSED, `channel ${this.name} is not running`);
  }

  /** @internal */ count(name: string, n: number): void {
    this.counters.inc(name, n);
  }

  /** @internal Runs a commit so that stop() waits for it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    const forget = () => this.running.delete(p);
    p.then(forget, forget);
    return p;
  }

  // ---- puts ----

  /** @internal Produces the events (markers on the last record) and applies the markers once the bus holds them. */
  async commitPuts(puts: readonly Event[], markers: Readonly<Record<string, string>> | undefined): Promise<void> {
    if (this.size() + puts.length > this.capacity) {
      throw new ChannelFullError(`channel ${this.name} is full: cannot commit ${puts.length} event(s) (${this.size()}/${this.capacity} events); the sinks are not keeping up`);
    }
    const hasMarkers = markers !== undefined && Object.keys(markers).length > 0;
    const seq = hasMarkers ? ++this.seq : 0;
    const parts = this.route(puts);
    const t0 = performance.now();
    const last = parts.length - 1;
    if (last > 0) await Promise.all(parts.slice(0, last).map(([p, events]) => this.produceTo(p, events)));
    await this.produceTo(parts[last]![0], parts[last]![1], hasMarkers ? { seq, markers } : undefined);
    this.counters.inc('KafkaEventSendTimer', Math.round(performance.now() - t0));
    this.counters.inc('EventPutSuccessCount', puts.length);
    this.dataSignal.notify();
    this.putBytes += batchBytes(puts);
    if (this.putBytes >= this.o.checkpointBytes) void this.save().catch((e) => this.log.error({ channel: this.name, err: errorMessage(e) }, `channel ${this.name}: state file not written`));
  }

  /** The partition(s) of a transaction, in one or more groups of its events. */
  private route(puts: readonly Event[]): Array<[number, Event[]]> {
    const h = this.o.partitionIdHeader;
    const fallback = () => this.o.defaultPartitionId ?? (this.turn = (this.turn + 1) % this.partitionCount);
    if (h === undefined) return [[fallback(), puts as Event[]]];
    const groups = new Map<number, Event[]>();
    let dflt: number | undefined;
    for (const e of puts) {
      const v = e.headers[h];
      let p: number;
      if (v === undefined) p = dflt ??= fallback();
      else {
        p = Number(v);
        if (!/^\d+$/.test(v.trim()) || p >= this.partitionCount) {
          throw new MonsoonError(ErrorCodes.CHANNEL_TX, `channel ${this.name}: header ${h} (partitionIdHeader) is ${JSON.stringify(v)}, not a partition of topic ${this.o.topic} (0..${this.partitionCount - 1})`);
        }
      }
      const g = groups.get(p);
      if (g) g.push(e);
      else groups.set(p, [e]);
    }
    return [...groups];
  }

  /**
   * Produces `events` to partition `p`, the markers (if any) in a header of the last record. They are
   * applied in the same step that moves the scan start past the records, so no state file can hold
   * one without the other.
   */
  private async produceTo(p: number, events: readonly Event[], withMarkers?: { seq: number; markers: Readonly<Record<string, string>> }): Promise<void> {
    const marker = withMarkers && markerHeader(this.owner, withMarkers.seq, withMarkers.markers);
    const n = events.length;
    const records: BusRecord[] = new Array<BusRecord>(n);
    for (let i = 0; i < n; i++) {
      const e = events[i]!;
      const m = i === n - 1 ? marker : undefined;
      records[i] = this.o.parseAsFlumeEvent
        ? { value: encodeAvroEvent(e), partition: p, ...(m === undefined ? {} : { headers: { [MARKER_HEADER]: m } }) }
        : { value: e.body, headers: m === undefined ? e.headers : { ...e.headers, [MARKER_HEADER]: m }, partition: p };
    }
    const floors = this.floors[p]!;
    const floor = this.applied[p]!;
    floors.push(floor);
    let next: number;
    try {
      const offsets = await this.handle!.bus.produce(this.o.topic, records);
      next = offsets[offsets.length - 1]!.offset + 1;
    } finally {
      floors.splice(floors.indexOf(floor), 1);
    }
    if (next > this.applied[p]!) this.applied[p] = next;
    if (next > this.end[p]!) this.end[p] = next;
    if (withMarkers) this.setMarkers(withMarkers.seq, withMarkers.markers, this.markers);
  }

  /** Sets markers of commit `seq` into `into`, unless a later commit already set the key. */
  private setMarkers(seq: number, markers: Readonly<Record<string, string>>, into: Map<string, Marker>): void {
    for (const k in markers) {
      const had = into.get(k);
      if (!had || had.s < seq) into.set(k, { s: seq, v: markers[k]! });
    }
  }

  /** Per partition, where the next recovery must start reading markers back. */
  private scanStart(): number[] {
    return this.applied.map((a, p) => Math.min(a, ...this.floors[p]!));
  }

  /** @internal A commit with markers and nothing else: they are durable once the state file is. */
  async commitMarkers(markers: Readonly<Record<string, string>>): Promise<void> {
    const s = ++this.seq;
    await this.save(true, { seq: s, markers });
    this.setMarkers(s, markers, this.markers);
  }

  /**
   * Writes the state file: markers, scan offsets (where no produce is in flight), take offsets.
   * Periodic and size-triggered writes skip when nothing changed since the last; `force` writes anyway.
   */
  private save(force = false, pending?: { seq: number; markers: Readonly<Record<string, string>>; takes?: OffsetCommit[] }): Promise<void> {
    this.saving = this.saving.catch(() => {}).then(async () => {
      if (this.state === 'stopped' || (!force && this.putBytes === 0)) return; // halted: as after a crash, nothing more is written
      this.putBytes = 0;
      const st: ChannelState = { owner: this.owner, seq: this.seq, scan: this.scanStart(), takes: [...(this.takes?.takesAt ?? [])], markers: new Map(this.markers) };
      // a commit's markers and offsets are adopted only once this file holds them
      if (pending) this.setMarkers(pending.seq, pending.markers, st.markers);
      for (const c of pending?.takes ?? []) st.takes[c.partition] = c.offset;
      await writeState(this.statePath, st);
    });
    return this.saving;
  }

  // ---- takes ----

  /** @internal */ takeEntries(n: number): Promise<Taken[]> {
    return this.takes!.take(n);
  }

  /** @internal Puts rolled-back takes back at the front, in their order. */
  returnEntries(taken: readonly Taken[]): void {
    if (taken.length === 0) return;
    this.counters.inc('RollbackCount', 1);
    this.takes!.giveBack(taken);
    this.dataSignal.notify();
  }

  /** @internal Commits taken records: markers (with the offsets they cover) to the state file first, then the group's offsets. */
  async commitTakes(taken: readonly Taken[], markers: Readonly<Record<string, string>> | undefined): Promise<void> {
    if (markers !== undefined && Object.keys(markers).length > 0) {
      const s = ++this.seq;
      await this.save(true, { seq: s, markers, takes: this.takes!.done(taken, true) });
      this.setMarkers(s, markers, this.markers);
    }
    const commits = this.takes!.done(taken);
    this.counters.inc('EventTakeSuccessCount', taken.length);
    this.spaceSignal.notify();
    await this.takes!.commit(commits);
  }
}

/** The keys every bus channel type shares besides those naming the bus, the topic and the group. */
const common = {
  pollTimeout: prop.int(500, 1),
  partitionIdHeader: prop.optionalString(),
  defaultPartitionId: prop.optionalInt(0),
  /** Partitions of the topic when the channel creates it. */
  partitions: prop.int(1, 1),
  /** Events the channel may hold (records of the topic its group has not committed); unlimited unless set. */
  capacity: prop.optionalInt(1),
  transactionCapacity: prop.int(100_000, 1),
  /** Where the channel keeps its state file (default: under the agent's data directory). */
  checkpointDir: prop.optionalString(),
  checkpointInterval: prop.int(30_000, 100),
  checkpointBytes: prop.int(64 * 1024 * 1024, 1),
};
type Common = { [K in keyof typeof common]: z.infer<(typeof common)[K]> };

const options = (c: Common, ctx: ChannelContext, o: Pick<BusChannelOptions, 'url' | 'topic' | 'group' | 'parseAsFlumeEvent' | 'from'>): BusChannelOptions => ({
  ...o,
  pollTimeout: c.pollTimeout,
  partitionIdHeader: c.partitionIdHeader,
  defaultPartitionId: c.defaultPartitionId,
  partitions: c.partitions,
  capacity: c.capacity ?? Number.POSITIVE_INFINITY,
  transactionCapacity: c.transactionCapacity,
  checkpointDir: c.checkpointDir ?? join(ctx.dataDir, ctx.name),
  checkpointInterval: c.checkpointInterval,
  checkpointBytes: c.checkpointBytes,
});

const checkCommon = (c: Common): Array<[string, string]> =>
  c.capacity !== undefined && c.transactionCapacity > c.capacity ? [['transactionCapacity', `(${c.transactionCapacity}) must not exceed capacity (${c.capacity})`]] : [];

const kafkaSchema = z.object({
  'kafka.bootstrap.servers': prop.requiredString(),
  'kafka.topic': prop.string('flume-channel'),
  'kafka.consumer.group.id': prop.string('flume'),
  'kafka.consumer.auto.offset.reset': prop.oneOf(['earliest', 'latest', 'none'], 'earliest'),
  'kafka.producer.acks': prop.oneOf(['-1', '0', '1', 'all'], 'all'),
  parseAsFlumeEvent: prop.bool(true),
  ...common,
});
type KafkaChannelConfig = z.infer<typeof kafkaSchema>;
const kafkaBusUrl = (c: KafkaChannelConfig) => kafkaUrl(c['kafka.bootstrap.servers'], { acks: c['kafka.producer.acks'] });

defineChannel({
  type: 'kafka',
  aliases: ['org.apache.flume.channel.kafka.KafkaChannel'],
  description:
    "Flume's KafkaChannel on Monsoon's kafka:// bus: puts are produced to kafka.topic and acknowledged by Kafka before the commit returns; takes read it as group kafka.consumer.group.id. Works without a sink (a source writing straight to a topic) or without a source.",
  schema: kafkaSchema,
  deprecated: { brokerList: 'kafka.bootstrap.servers', topic: 'kafka.topic', groupId: 'kafka.consumer.group.id' },
  ignored: { migrateZookeeperOffsets: ZOOKEEPER_IGNORED, zookeeperConnect: ZOOKEEPER_IGNORED },
  check: (c) => [
    ...checkCommon(c),
    ...(c['kafka.consumer.auto.offset.reset'] === 'none' ? ([['kafka.consumer.auto.offset.reset', '"none" (fail when the group has no offset) is not supported; use earliest or latest']] as Array<[string, string]>) : []),
    ...checkUrl(kafkaBusUrl(c), 'kafka.bootstrap.servers'),
  ],
  create: (c, ctx) =>
    new BusChannel(ctx.name, options(c, ctx, { url: kafkaBusUrl(c), topic: c['kafka.topic'], group: c['kafka.consumer.group.id'], parseAsFlumeEvent: c.parseAsFlumeEvent, from: c['kafka.consumer.auto.offset.reset'] === 'latest' ? 'latest' : 'earliest' }), ctx),
});

for (const t of MONSOON_TYPES) {
  const schema = z.object({
    ...t.keys,
    topic: prop.requiredString(),
    group: prop.string('flume'),
    from: prop.oneOf(['earliest', 'latest'], 'earliest'),
    parseAsFlumeEvent: prop.bool(false),
    ...common,
  });
  type Config = z.infer<typeof schema> & Record<string, unknown>;
  defineChannel<Config>({
    type: t.type,
    aliases: t.aliases,
    description: `Keeps the channel's events in a topic of ${t.what}: a put commit returns once the bus holds the records durably; takes read the topic as a consumer group. Works without a sink (a source writing straight to a topic).`,
    schema: schema as unknown as z.ZodType<Config>,
    check: (c) => [...checkCommon(c), ...checkUrl(t.url(c), t.urlKey)],
    create: (c, ctx) => new BusChannel(ctx.name, options(c, ctx, { url: t.url(c), topic: c.topic, group: c.group, parseAsFlumeEvent: c.parseAsFlumeEvent, from: c.from }), ctx),
  });
}
