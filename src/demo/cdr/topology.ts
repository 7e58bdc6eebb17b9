/**
 * The call-record topology of examples/cdr: bus spout (topic `cdr`) → ETL bolt (parseCdr: account,
 * local and remote IPv4, start time, record id; malformed records to the dead-letter topic) → the
 * KV-store bolt (row = reversed account, family `content`, one column `<time>#<recordId>` per
 * record, so a row holds one subscriber's records and a rewrite is idempotent) and the rolled-file
 * archive bolt (CSV lines, rotated every 10 minutes, deduplicated by record id).
 *
 * It runs in batch mode: the spout emits one tuple per partition per poll (up to 2,000 records), the
 * ETL turns it into one RowBatch tuple (src/compute/row-batch.ts) and the store bolts write its rows.
 * Per-record tuples cost the server about a fifth of its CPU in tuple objects, acking and, above all,
 * garbage collection of everything a record kept alive while its tree was pending; a batch is a few
 * objects whatever its size. Acking, replay and dedup work as before, per batch; a batch replayed
 * (a store write failed, or the server restarted) rejects its malformed records again, and the
 * dead-letter bolt sends only those not sent before (DeadLetterBolt).
 *
 * `monsoon server` runs it from its config (`topologies: [{path: dist/src/demo/cdr/topology.js}]`);
 * the function receives the topology configuration, where the server puts `monsoon.bus`,
 * `monsoon.store.kv` and `monsoon.store.archive`. `cdr.*` keys override them: `cdr.bus`,
 * `cdr.store`, `cdr.archive`, `cdr.topic`, `cdr.dead.topic`, `cdr.archive.rotate.minutes` (10),
 * `cdr.store.linger.ms` (1000, at most 15,000) and `cdr.store.max.batch` (50,000) for the KV and
 * archive bolts' batches.
 */
import type { OutputCollector, OutputFieldsDeclarer, TopologyConfig, TopologyContext } from '../../compute/api.js';
import { BaseRichBolt } from '../../compute/api.js';
import type { LoadOptions } from '../../compute/loader.js';
import { BusSpout } from '../../compute/spouts/bus.js';
import { TopologyBuilder, type StormTopology } from '../../compute/topology.js';
import type { Tuple } from '../../compute/tuple.js';
import type { BusRecord } from '../../bus/bus.js';
import { fieldEnd, fieldStart, RowBatchBuilder, type RowBatch } from '../../compute/row-batch.js';
import { acquireBus, type BusHandle } from '../../bus/shared.js';
import type { EventIdentity } from '../../core/event.js';
import { ArchiveBolt } from '../../store/bolts/archive.js';
import { BatchingStoreBolt } from '../../store/bolts/batching.js';
import { KvStoreBolt } from '../../store/bolts/kv.js';
import { cdrEtlInto, cdrEtlOf, ETL_FIELDS, parseCdr } from './etl.js';

export const CDR_TABLE = 'cdr';
export const CDR_FAMILY = 'content';
export const DEAD_STREAM = 'dead';
/** Source offsets the dead-letter bolt remembers per source partition. */
const MAX_SOURCES_PER_PARTITION = 100_000;
/** How long the dead-letter bolt may take to read its topic when it opens. */
const REBUILD_TIMEOUT_MS = 120_000;
export { ETL_FIELDS };
export const ARCHIVE_FIELDS = ['record_id', 'account', 'local_ipv4', 'remote_ipv4', 'time'];

export { cdrQualifier } from './etl.js';

/** A record id `<run>-<seq>` as an identity (origin = run, seq), for the archive's dedup set. */
export function recordIdentity(recordId: string): EventIdentity | undefined {
  const i = recordId.lastIndexOf('-');
  const seq = Number(recordId.slice(i + 1));
  return i > 0 && Number.isSafeInteger(seq) ? { origin: recordId.slice(0, i), seq } : undefined;
}

const RECORD_ID = ETL_FIELDS.indexOf('record_id');

/**
 * recordIdentity of a batch row's record id, read from its bytes; consecutive rows of one run share
 * their origin string.
 */
export function rowIdentity(): (b: RowBatch, r: number) => EventIdentity | undefined {
  let origin = '';
  let originBytes: Uint8Array = new Uint8Array(0);
  return (b, r) => {
    const s = fieldStart(b, r, RECORD_ID);
    const e = fieldEnd(b, r, RECORD_ID);
    const buf = b.buf;
    let dash = e - 1;
    while (dash > s && buf[dash] !== 45) dash--;
    let seq = 0;
    let digits = dash > s && e - dash - 1 >= 1 && e - dash - 1 <= 15;
    for (let i = dash + 1; digits && i < e; i++) {
      const d = buf[i]! - 48;
      digits = d >= 0 && d <= 9;
      seq = seq * 10 + d;
    }
    // anything else as recordIdentity reads it
    if (!digits) return recordIdentity(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8', s, e));
    let same = originBytes.length === dash - s;
    for (let i = 0; same && i < originBytes.length; i++) same = originBytes[i] === buf[s + i];
    if (!same) {
      originBytes = Uint8Array.prototype.slice.call(buf, s, dash); // a copy: a view would keep the batch alive
      origin = Buffer.from(originBytes.buffer, originBytes.byteOffset, originBytes.byteLength).toString('utf8');
    }
    return { origin, seq };
  };
}

/**
 * The ETL on a batch tuple of the bus spout (fields topic, partition, offsets, values): each record
 * through cdrEtlInto, the accepted ones as one RowBatch of ETL_FIELDS on the default stream (field
 * `rows`), each rejected one on `dead` naming the field — both anchored to the batch.
 */
export class CdrEtlBolt extends BaseRichBolt {
  private collector!: OutputCollector;
  /** Records rejected, by field. */
  readonly rejected: Record<string, number> = {};

  prepare(_conf: TopologyConfig, _ctx: unknown, collector: OutputCollector): void {
    this.collector = collector;
  }

  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['rows']);
    d.declareStream(DEAD_STREAM, ['value', 'field', 'reason', 'source']);
  }

  execute(input: Tuple): void {
    const values = input.getValueByField('values') as (Buffer | string)[];
    const out = new RowBatchBuilder(ETL_FIELDS, values.length, 320);
    for (let i = 0; i < values.length; i++) {
      const raw = values[i]!;
      const bad = typeof raw === 'string' ? etlOfString(raw, out) : cdrEtlInto(raw, out);
      if (bad === null) continue;
      out.dropRow();
      this.rejected[bad.field] = (this.rejected[bad.field] ?? 0) + 1;
      this.collector.emit(DEAD_STREAM, input, [raw, bad.field, bad.reason, sourceOf(input, i)]);
    }
    if (out.count > 0) this.collector.emit(input, [out.finish()]);
    this.collector.ack(input);
  }
}

/** The ETL of a record given as a string (a spout with `encoding: 'utf8'`). */
function etlOfString(line: string, out: RowBatchBuilder): { field: string; reason: string } | null {
  const p = parseCdr(line);
  if (!p.ok) return p;
  for (const v of cdrEtlOf(p.value)) {
    out.text(String(v));
    out.endField();
  }
  out.endRow();
  return null;
}

/** Where a record of a spout batch tuple came from: `<topic>/<partition>/<offset>`; undefined when the tuple does not say. */
function sourceOf(input: Tuple, i: number): string | undefined {
  const offsets = input.getValueByField('offsets') as number[] | undefined;
  const offset = offsets?.[i];
  return offset === undefined ? undefined : `${String(input.getValueByField('topic'))}/${String(input.getValueByField('partition'))}/${offset}`;
}

/** The header of a dead letter naming the record it was made from (`<topic>/<partition>/<offset>`). */
export const DEAD_SOURCE_HEADER = 'cdr.source';

/**
 * Writes dead-letter tuples to a bus topic (headers name the rejected field and why, and the source
 * record), acking after the produce. A record already sent is not sent again: a batch replayed
 * because a store write failed, or after a restart, rejects its malformed records again, and the
 * topic is counted. The bolt keeps the sources it sent, and rebuilds them when it opens from the
 * topic itself (the records' `cdr.source` headers), so the topic stays the one record of what was
 * sent. It keeps the last MAX_SOURCES_PER_PARTITION of each source partition: replays are of
 * recent records.
 */
export class DeadLetterBolt extends BatchingStoreBolt<BusRecord> {
  private handle: BusHandle | undefined;
  /** Source offsets sent, per `<topic>/<partition>`, in the order sent. */
  private readonly sent = new Map<string, Set<number>>();
  /** Dead letters not sent again because they had been. */
  duplicates = 0;

  constructor(private readonly o: { bus: string; topic: string; partitions?: number }) {
    super({ maxBatch: 1000 });
  }

  protected async open(_conf: TopologyConfig, ctx: TopologyContext): Promise<void> {
    this.handle = await acquireBus(this.o.bus);
    const admin = this.handle.bus.admin;
    if (!(await admin.listTopics()).includes(this.o.topic)) {
      await admin.createTopic(this.o.topic, { partitions: this.o.partitions ?? 1 }).catch(async (e: unknown) => {
        if (!(await admin.listTopics()).includes(this.o.topic)) throw e;
      });
    }
    await this.rebuild(`${ctx.getThisComponentId()}-${ctx.getThisTaskIndex()}-sent`);
  }

  /** Reads the dead-letter topic up to its end as of now and notes the source of every record. */
  private async rebuild(group: string): Promise<void> {
    const bus = this.handle!.bus;
    const parts = (await bus.admin.describeTopic(this.o.topic)).partitions;
    const ends = new Map(parts.map((p) => [p.partition, p.latest]));
    const done = new Set(parts.filter((p) => p.earliest >= p.latest).map((p) => p.partition));
    if (done.size === ends.size) return;
    const consumer = await bus.consumer(group, [this.o.topic], { from: 'earliest' });
    try {
      const deadline = Date.now() + REBUILD_TIMEOUT_MS;
      while (done.size < ends.size) {
        if (Date.now() > deadline) throw new Error(`dead-letter bolt: topic ${this.o.topic} could not be read to its end within ${REBUILD_TIMEOUT_MS / 1000} s to learn which records it holds`);
        for (const b of await consumer.poll(5000, 500)) {
          for (const r of b.records) this.note(r.headers[DEAD_SOURCE_HEADER]);
          const last = b.records[b.records.length - 1];
          if (last && last.offset + 1 >= (ends.get(b.partition) ?? 0)) done.add(b.partition);
        }
      }
    } finally {
      await consumer.close();
    }
  }

  /** Notes a source as sent; false when it had been. */
  private note(source: string | undefined): boolean {
    if (source === undefined) return true;
    const cut = source.lastIndexOf('/');
    const origin = source.slice(0, cut);
    const offset = Number(source.slice(cut + 1));
    let set = this.sent.get(origin);
    if (!set) this.sent.set(origin, (set = new Set()));
    if (set.has(offset)) return false;
    set.add(offset);
    if (set.size > MAX_SOURCES_PER_PARTITION) set.delete(set.values().next().value!);
    return true;
  }

  protected item(t: Tuple): BusRecord {
    const v = t.getValueByField('value') as Buffer | string;
    const headers: Record<string, string> = { 'cdr.field': String(t.getValueByField('field')), 'cdr.reason': String(t.getValueByField('reason')) };
    const source = t.getValueByField('source') as string | undefined;
    if (source !== undefined) headers[DEAD_SOURCE_HEADER] = source;
    return { value: typeof v === 'string' ? Buffer.from(v) : v, headers };
  }

  protected async write(records: BusRecord[]): Promise<void> {
    const fresh: BusRecord[] = [];
    const batch = new Set<string>();
    for (const r of records) {
      const source = r.headers?.[DEAD_SOURCE_HEADER];
      if (source !== undefined && (batch.has(source) || this.isSent(source))) {
        this.duplicates++;
        continue;
      }
      if (source !== undefined) batch.add(source);
      fresh.push(r);
    }
    if (fresh.length > 0) await this.handle!.bus.produce(this.o.topic, fresh);
    for (const source of batch) this.note(source);
  }

  private isSent(source: string): boolean {
    const cut = source.lastIndexOf('/');
    return this.sent.get(source.slice(0, cut))?.has(Number(source.slice(cut + 1))) === true;
  }
  protected async closeStore(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.release();
  }
}

export interface CdrTopologyOptions {
  bus: string;
  kvStore: string;
  archiveDir: string;
  topic?: string;
  deadTopic?: string;
  group?: string;
  rotateMs?: number;
  etlParallelism?: number;
  /**
   * How long the KV and archive bolts let a batch gather (default 1,000 ms), and its largest size
   * (default 50,000 rows): each LMDB commit rewrites every B-tree page its cells touch and each
   * archive batch costs two fdatasyncs, so fewer, larger batches cost less per record. The bolts'
   * tick (which writes whatever is buffered) follows the linger, no more often than once a second,
   * and the spout may have twice a batch uncommitted (at least 100,000 records) so that one batch
   * gathers while the one before is written.
   */
  storeLingerMs?: number;
  storeMaxBatch?: number;
}

export function buildCdrTopology(o: CdrTopologyOptions): StormTopology {
  const b = new TopologyBuilder();
  const bus = o.bus;
  const lingerMs = o.storeLingerMs ?? 1000;
  const maxBatch = o.storeMaxBatch ?? 50_000;
  const batching = { lingerMs, maxBatch, tickSecs: Math.max(1, lingerMs / 1000) };
  const maxUncommittedOffsets = Math.max(100_000, 2 * maxBatch);
  b.setSpout('cdr-spout', () => new BusSpout({ bus, topics: [o.topic ?? 'cdr'], group: o.group ?? 'cdr-etl', from: 'earliest', encoding: 'buffer', batch: true, pollRecords: 2000, maxUncommittedOffsets, commitIntervalMs: 500 }), 1);
  b.setBolt('etl', () => new CdrEtlBolt(), o.etlParallelism ?? 1).localOrShuffleGrouping('cdr-spout');
  b.setBolt('kv', () => new KvStoreBolt({ store: o.kvStore, table: CDR_TABLE, family: CDR_FAMILY, rowsField: 'rows', rowField: 'row', qualifierField: 'qualifier', valueField: 'value', ...batching }), 1).shuffleGrouping('etl');
  // One task: the archive's dedup set must see every replay of a record.
  b.setBolt('archive', () => new ArchiveBolt({ path: o.archiveDir, fields: ARCHIVE_FIELDS, rotateMs: o.rotateMs ?? 600_000, rowsField: 'rows', rowIdentity: rowIdentity(), ...batching }), 1).shuffleGrouping('etl');
  b.setBolt('dead-letter', () => new DeadLetterBolt({ bus, topic: o.deadTopic ?? 'cdr-dead' }), 1).shuffleGrouping('etl', DEAD_STREAM);
  // Pending trees are batches, one per partition per poll, so their count says little: the spout's
  // maxUncommittedOffsets (records) is the bound.
  return b.createTopology({ 'topology.max.spout.pending': 10_000, 'topology.message.timeout.secs': 60 });
}

const str = (conf: TopologyConfig, ...keys: string[]): string | undefined => {
  for (const k of keys) if (typeof conf[k] === 'string' && conf[k] !== '') return conf[k];
  return undefined;
};

/** The module's default export for `monsoon server` and `monsoon topology submit`: options from the topology configuration. */
/**
 * The longest store linger: a quarter of the topology's 60 s message timeout, so that a batch is
 * written (and its records acked) well before its records time out and are replayed.
 */
const MAX_STORE_LINGER_MS = 15_000;

export default function cdrTopology(opts: LoadOptions = {}): StormTopology {
  const conf = opts.config ?? {};
  const need = (what: string, ...keys: string[]) => {
    const v = str(conf, ...keys);
    if (v === undefined) throw new Error(`the cdr topology needs ${what}: set ${keys.join(' or ')} in its configuration`);
    return v;
  };
  const rotate = Number(conf['cdr.archive.rotate.minutes'] ?? 10);
  const num = (key: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    if (conf[key] === undefined) return undefined;
    const n = Number(conf[key]);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`the cdr topology's ${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(conf[key])}`);
    return n;
  };
  return buildCdrTopology({
    bus: need('a bus', 'cdr.bus', 'monsoon.bus'),
    kvStore: need('a key-value store directory', 'cdr.store', 'monsoon.store.kv'),
    archiveDir: need('an archive directory', 'cdr.archive', 'monsoon.store.archive'),
    topic: str(conf, 'cdr.topic'),
    deadTopic: str(conf, 'cdr.dead.topic'),
    rotateMs: rotate * 60_000,
    storeLingerMs: num('cdr.store.linger.ms', 0, MAX_STORE_LINGER_MS),
    storeMaxBatch: num('cdr.store.max.batch', 1),
  });
}
