/**
 * The two ends of a repartition topic (Kafka Streams' repartition topics), used by the distributed
 * runtime where a fields (or global) grouping crosses processes:
 *
 * - `RepartitionSink` is a bolt that writes each input tuple to `<topology>-<component>-repartition`,
 *   keyed by the JSON of the grouping fields' values (so the bus's murmur2 partitioner puts every
 *   tuple of one key in one partition). Records are produced in batches; a batch's produce
 *   acknowledgement acks its input tuples — the upstream tuple tree ends there — and a rejected produce
 *   fails them, so the upstream spout replays.
 * - `RepartitionSpout` is a bus spout over that topic in the downstream component's consumer group
 *   (`<topology>-<component>`): each record becomes the original tuple again (same stream fields and
 *   values) and starts a new tree, committed once the downstream tree completes.
 *
 * Record layout: key = JSON array of the grouping fields' values (null for a global grouping); value
 * = the tuple's values in V8's structured-clone serialisation (strings, numbers, Buffers, plain
 * objects survive); header `s` = the index of the original stream in the spout's stream list.
 */
import { deserialize, serialize } from 'node:v8';
import type { Bus, BusRecord, ConsumedRecord } from '../../bus/bus.js';
import { errorMessage } from '../../core/errors.js';
import type { OutputCollector, OutputFieldsDeclarer, TopologyConfig, TopologyContext } from '../api.js';
import { BaseRichBolt } from '../api.js';
import { BusSpout, BusMessageId, type SpoutPartition } from '../spouts/bus.js';
import { acquireSharedBus, releaseSharedBus } from '../spouts/shared-bus.js';
import type { Tuple } from '../tuple.js';

/** One repartitioned input of a component: the original (component, stream), its fields and key fields. */
export interface RepartitionedInput {
  component: string;
  stream: string;
  fields: string[];
  /** Positions of the grouping fields in `fields`; empty for a global grouping (one partition). */
  keyIndex: number[];
  /** The stream id the repartition spout emits it on. */
  spoutStream: string;
}

export interface RepartitionSinkOptions {
  bus: string;
  topic: string;
  inputs: RepartitionedInput[];
  /** A batch is produced at this many records or bytes, or at the end of the current turn (defaults 1000, 256 KiB). */
  batchRecords?: number;
  batchBytes?: number;
  /** Produce calls in flight at most; later batches wait their turn (default 4). */
  maxInflight?: number;
}

export class RepartitionSink extends BaseRichBolt {
  private c!: OutputCollector;
  private bus: Bus | null = null;
  private byStream = new Map<string, { index: number; keyIndex: number[] }>();
  private records: BusRecord[] = [];
  private tuples: Tuple[] = [];
  private bytes = 0;
  private ready: { records: BusRecord[]; tuples: Tuple[] }[] = [];
  private inflight = 0;
  private scheduled = false;
  private closed = false;
  private idle: (() => void) | null = null;
  constructor(private readonly o: RepartitionSinkOptions) {
    super();
  }
  async prepare(_conf: TopologyConfig, _ctx: TopologyContext, c: OutputCollector): Promise<void> {
    this.c = c;
    this.byStream = new Map(this.o.inputs.map((inp, index) => [`${inp.component}\u0000${inp.stream}`, { index, keyIndex: inp.keyIndex }]));
    this.bus = await acquireSharedBus(this.o.bus);
  }
  execute(t: Tuple): void {
    const route = this.byStream.get(`${t.getSourceComponent()}\u0000${t.getSourceStreamId()}`);
    if (route === undefined || this.closed) {
      this.c.fail(t);
      return;
    }
    const values = t.getValues();
    const key = route.keyIndex.length ? Buffer.from(JSON.stringify(route.keyIndex.map((i) => values[i] ?? null))) : null;
    const value = serialize(values);
    this.records.push({ key, value, headers: { s: String(route.index) } });
    this.tuples.push(t);
    this.bytes += value.length + (key?.length ?? 0);
    if (this.records.length >= (this.o.batchRecords ?? 1000) || this.bytes >= (this.o.batchBytes ?? 256 * 1024)) this.cut();
    else if (!this.scheduled) {
      // the executor hands over a batch of tuples in one turn: produce what it gave once the turn ends
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.cut();
      });
    }
  }
  private cut(): void {
    if (this.records.length === 0) return;
    this.ready.push({ records: this.records, tuples: this.tuples });
    this.records = [];
    this.tuples = [];
    this.bytes = 0;
    this.pump();
  }
  private pump(): void {
    while (this.inflight < (this.o.maxInflight ?? 4) && this.ready.length > 0) {
      const b = this.ready.shift()!;
      this.inflight++;
      this.bus!.produce(this.o.topic, b.records).then(
        () => {
          for (const t of b.tuples) this.c.ack(t);
        },
        (e: unknown) => {
          this.c.reportError(new Error(`repartition topic ${this.o.topic}: produce failed, ${b.tuples.length} tuples failed for replay: ${errorMessage(e)}`));
          for (const t of b.tuples) this.c.fail(t);
        },
      ).finally(() => {
        this.inflight--;
        this.pump();
        if (this.inflight === 0 && this.ready.length === 0) this.idle?.();
      });
    }
  }
  async cleanup(): Promise<void> {
    this.cut();
    if (this.inflight > 0) await new Promise<void>((r) => (this.idle = r));
    this.closed = true;
    if (this.bus) await releaseSharedBus(this.o.bus);
    this.bus = null;
  }
  declareOutputFields(_d: OutputFieldsDeclarer): void {}
}

export interface RepartitionSpoutOptions {
  bus: string;
  topic: string;
  group: string;
  inputs: RepartitionedInput[];
  maxUncommittedOffsets?: number;
  commitIntervalMs?: number;
}

export class RepartitionSpout extends BusSpout {
  constructor(private readonly r: RepartitionSpoutOptions) {
    super({ bus: r.bus, topics: [r.topic], group: r.group, from: 'earliest', encoding: 'buffer', ...(r.maxUncommittedOffsets ? { maxUncommittedOffsets: r.maxUncommittedOffsets } : {}), ...(r.commitIntervalMs ? { commitIntervalMs: r.commitIntervalMs } : {}) });
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    for (const inp of this.r.inputs) d.declareStream(inp.spoutStream, inp.fields);
  }
  protected override emit(rec: ConsumedRecord, p: SpoutPartition, index: number): void {
    this.counters.emitted++;
    const inp = this.r.inputs[Number(rec.headers.s ?? 0)];
    const id = new BusMessageId(rec.topic, rec.partition, rec.offset, p, index);
    if (!inp) {
      // a record this topology version cannot place: given up (acked) so the partition moves on
      this.collector.reportError(new Error(`repartition topic ${rec.topic}: record ${id.toString()} names stream index ${String(rec.headers.s)}, which this topology does not have`));
      this.ack(id);
      return;
    }
    this.collector.emit(inp.spoutStream, deserialize(rec.value) as unknown[], id);
  }
}
