import { z } from 'zod';
import type { BusRecord } from '../../bus/bus.js';
import { prop } from '../../core/config/props.js';
import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { encodeAvroEvent } from '../bus/avro-event.js';
import { checkUrl, kafkaUrl, MONSOON_TYPES } from '../bus/location.js';
import { acquireBus, displayUrl, type BusHandle } from '../../bus/shared.js';
import { defineSink, type Sink, type SinkContext, type SinkStatus } from '../contracts.js';
import { drainBatch } from './transaction.js';

/**
 * Bus sink: writes each channel batch to a bus topic — Flume's KafkaSink (`type = kafka`) and the same
 * sink for Monsoon's own buses (`bus`, `embedded`/`monsoon`, `redis`, `nats`), which differ only in how
 * they name the bus.
 *
 * Delivery is at-least-once: the batch taken from the channel is produced with one `produce` per
 * topic (all in flight together), and the take is committed only after every produce resolved, i.e.
 * the bus acknowledged the records as durable. A failed produce rolls the take back and the batch is
 * sent again; records a failed produce did store are then on the bus twice, with the same identity
 * headers (monsoon.origin/monsoon.seq), so a deduplicating reader drops the second copy.
 *
 * Record mapping: value = the body (or the whole event as Flume's Avro datum with
 * useFlumeEventFormat); every event header becomes a record header; the `key` header becomes the
 * record key; partitionIdHeader/defaultPartitionId pick the partition; the topic comes from the
 * topic header when allowTopicOverride is on, else from the configured topic, in which `%{name}`
 * is replaced by the event's header `name`. A topic the bus does not have is created with
 * `partitions` partitions.
 */
export interface BusSinkOptions {
  url: string;
  topic: string;
  batchSize: number;
  allowTopicOverride: boolean;
  topicHeader: string;
  partitionIdHeader?: string;
  defaultPartitionId?: number;
  timestampHeader?: string;
  useFlumeEventFormat: boolean;
  partitions: number;
}

const KEY_HEADER = 'key';

/** The keys every bus sink type shares besides those naming the bus (and Kafka's own batch size). */
const common = {
  useFlumeEventFormat: prop.bool(false),
  topicHeader: prop.string('topic'),
  partitionIdHeader: prop.optionalString(),
  defaultPartitionId: prop.optionalInt(0),
  timestampHeader: prop.optionalString(),
  /** Partitions of a topic this sink creates because the bus does not have it. */
  partitions: prop.int(1, 1),
};

export class BusSink implements Sink {
  private handle: BusHandle | undefined;
  private readonly topicParts: string[];
  /** Topics known to exist, so a missing one is created once. */
  private readonly known = new Set<string>();

  constructor(
    readonly name: string,
    private readonly o: BusSinkOptions,
    private readonly ctx: SinkContext,
  ) {
    this.topicParts = o.topic.split(/%\{([^}]*)\}/);
  }

  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      if (err instanceof MonsoonError && err.retriable) {
        this.ctx.log.warn({ bus: displayUrl(this.o.url), err: err.message }, 'Bus sink cannot reach its bus yet; it keeps trying while events wait in the channel.');
        return;
      }
      throw new MonsoonError(err instanceof MonsoonError ? err.code : ErrorCodes.SINK_CONNECT, `sink ${this.name} cannot open bus ${displayUrl(this.o.url)}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.release();
    this.ctx.counters.stopTime = Date.now();
  }

  process(): Promise<SinkStatus> {
    return drainBatch(this.ctx, this.o.batchSize, { write: (events) => this.write(events) });
  }

  private async connect(): Promise<BusHandle> {
    if (!this.handle) {
      try {
        this.handle = await acquireBus(this.o.url, this.ctx.log);
        this.ctx.counters.inc('ConnectionCreatedCount', 1);
      } catch (err) {
        this.ctx.counters.inc('ConnectionFailedCount', 1);
        throw err;
      }
    }
    return this.handle;
  }

  private async write(events: Event[]): Promise<undefined> {
    await this.connect();
    const byTopic = new Map<string, BusRecord[]>();
    for (const e of events) {
      const topic = this.topicOf(e);
      const r: BusRecord = { value: this.o.useFlumeEventFormat ? encodeAvroEvent(e) : e.body, headers: e.headers };
      const key = e.headers[KEY_HEADER];
      if (key !== undefined) r.key = Buffer.from(key);
      const partition = this.partitionOf(e);
      if (partition !== undefined) r.partition = partition;
      if (this.o.timestampHeader !== undefined) {
        const ts = Number(e.headers[this.o.timestampHeader]);
        if (e.headers[this.o.timestampHeader] && Number.isFinite(ts)) r.timestamp = ts;
      }
      const list = byTopic.get(topic);
      if (list) list.push(r);
      else byTopic.set(topic, [r]);
    }
    await Promise.all([...byTopic].map(([topic, records]) => this.produce(topic, records)));
    return undefined;
  }

  private async produce(topic: string, records: BusRecord[]): Promise<void> {
    const { bus } = await this.connect();
    try {
      await bus.produce(topic, records);
    } catch (err) {
      if (!(err instanceof MonsoonError) || err.code !== ErrorCodes.BUS_UNKNOWN_TOPIC || this.known.has(topic)) throw err;
      try {
        await bus.admin.createTopic(topic, { partitions: this.o.partitions });
        this.ctx.log.info({ topic, partitions: this.o.partitions }, 'Created a topic the bus did not have.');
      } catch (e) {
        if (!(e instanceof MonsoonError) || e.code !== ErrorCodes.BUS_TOPIC_EXISTS) throw e;
      }
      await bus.produce(topic, records);
    }
    this.known.add(topic);
  }

  private topicOf(e: Event): string {
    if (this.o.allowTopicOverride) {
      const t = e.headers[this.o.topicHeader];
      if (t) return t;
    }
    const p = this.topicParts;
    if (p.length === 1) return p[0]!;
    let out = '';
    for (let i = 0; i < p.length; i++) out += i % 2 === 0 ? p[i]! : (e.headers[p[i]!] ?? '');
    return out;
  }

  private partitionOf(e: Event): number | undefined {
    const h = this.o.partitionIdHeader;
    const v = h === undefined ? undefined : e.headers[h];
    if (v === undefined) return this.o.defaultPartitionId;
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
      throw new MonsoonError(ErrorCodes.SINK_WRITE, `sink ${this.name}: header ${h} (partitionIdHeader) is ${JSON.stringify(v)}, not a partition number`);
    }
    return n;
  }
}

const kafkaSchema = z.object({
  'kafka.bootstrap.servers': prop.requiredString(),
  'kafka.topic': prop.string('default-flume-topic'),
  flumeBatchSize: prop.int(100, 1),
  'kafka.producer.acks': prop.oneOf(['-1', '0', '1', 'all'], '1'),
  allowTopicOverride: prop.bool(true),
  ...common,
});
type KafkaSinkConfig = z.infer<typeof kafkaSchema>;

const kafkaOptions = (c: KafkaSinkConfig): BusSinkOptions => ({
  url: kafkaUrl(c['kafka.bootstrap.servers'], { acks: c['kafka.producer.acks'] }),
  topic: c['kafka.topic'],
  batchSize: c.flumeBatchSize,
  allowTopicOverride: c.allowTopicOverride,
  topicHeader: c.topicHeader,
  partitionIdHeader: c.partitionIdHeader,
  defaultPartitionId: c.defaultPartitionId,
  timestampHeader: c.timestampHeader,
  useFlumeEventFormat: c.useFlumeEventFormat,
  partitions: c.partitions,
});

defineSink({
  type: 'kafka',
  aliases: ['org.apache.flume.sink.kafka.KafkaSink'],
  description:
    "Flume's KafkaSink on Monsoon's kafka:// bus: each channel batch is produced, and its take committed once Kafka acknowledged it (at-least-once; replays carry the same event identity). kafka.producer.acks is passed to the bus; other kafka.producer.* properties are not supported yet and are reported.",
  schema: kafkaSchema,
  deprecated: { brokerList: 'kafka.bootstrap.servers', requiredAcks: 'kafka.producer.acks', topic: 'kafka.topic', batchSize: 'flumeBatchSize' },
  batchSize: (c) => c.flumeBatchSize,
  check: (c) => checkUrl(kafkaOptions(c).url, 'kafka.bootstrap.servers'),
  create: (c, ctx) => new BusSink(ctx.name, kafkaOptions(c), ctx),
});

for (const t of MONSOON_TYPES) {
  const schema = z.object({
    ...t.keys,
    topic: prop.requiredString(),
    batchSize: prop.int(100, 1),
    allowTopicOverride: prop.bool(false),
    ...common,
  });
  type Config = z.infer<typeof schema> & Record<string, unknown>;
  const options = (c: Config): BusSinkOptions => ({
    url: t.url(c),
    topic: c.topic,
    batchSize: c.batchSize,
    allowTopicOverride: c.allowTopicOverride,
    topicHeader: c.topicHeader,
    partitionIdHeader: c.partitionIdHeader,
    defaultPartitionId: c.defaultPartitionId,
    timestampHeader: c.timestampHeader,
    useFlumeEventFormat: c.useFlumeEventFormat,
    partitions: c.partitions,
  });
  defineSink<Config>({
    type: t.type,
    aliases: t.aliases,
    description: `Writes each channel batch to a topic of ${t.what}; the take commits once the bus acknowledged the records (at-least-once; replays carry the same event identity). allowTopicOverride is off by default, since a bus source sets the topic header to the topic it read.`,
    schema: schema as unknown as z.ZodType<Config>,
    batchSize: (c) => c.batchSize,
    check: (c) => checkUrl(t.url(c), t.urlKey),
    create: (c, ctx) => new BusSink(ctx.name, options(c), ctx),
  });
}
