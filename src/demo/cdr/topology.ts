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
 * `cdr.store.linger.ms` (1000, at most 15,000), `cdr.store.idle.ms` (200) and `cdr.store.max.batch`
 * (100,000) for the KV and archive bolts' batches.
 */
import type { OutputCollector, OutputFieldsDeclarer, TopologyConfig } from '../../compute/api.js';
import { BaseRichBolt } from '../../compute/api.js';
import type { LoadOptions } from '../../compute/loader.js';
import { BusSpout } from '../../compute/spouts/bus.js';
import { TopologyBuilder, type StormTopology } from '../../compute/topology.js';
import type { Tuple } from '../../compute/tuple.js';
import { fieldEnd, fieldStart, RowBatchBuilder, type RowBatch } from '../../compute/row-batch.js';
import type { EventIdentity } from '../../core/event.js';
import { ArchiveBolt } from '../../store/bolts/archive.js';
import { KvStoreBolt } from '../../store/bolts/kv.js';
import { DeadLetterBolt } from './dead-letter.js';
import { cdrEtlInto, cdrEtlOf, ETL_FIELDS, parseCdr } from './etl.js';

export const CDR_TABLE = 'cdr';
export const CDR_FAMILY = 'content';
export const DEAD_STREAM = 'dead';
export { ETL_FIELDS };
export { DEAD_SOURCE_HEADER, DeadLetterBolt } from './dead-letter.js';
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
    const out = new RowBatchBuilder(ETL_FIELDS, values.length, 192);
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
   * (default 100,000 rows): each LMDB commit rewrites every B-tree page its cells touch and each
   * archive batch costs two fdatasyncs, so fewer, larger batches cost less per record. The bolts'
   * tick (which writes whatever is buffered) follows the linger, no more often than once a second,
   * and the spout may have twice a batch uncommitted so that one batch gathers while the one before
   * is written. With 50,000 rows a second of records at ~80,000/s went as a full batch and a
   * remainder at the tick: twice the commits, and a third more of the KV writer thread's time.
   */
  storeLingerMs?: number;
  storeMaxBatch?: number;
  /**
   * A lingering batch goes once no records came for this long (default 200 ms, 0 = off): the end of
   * a burst is stored at once, while a steady stream still gathers whole lingers.
   */
  storeIdleMs?: number;
}

export function buildCdrTopology(o: CdrTopologyOptions): StormTopology {
  const b = new TopologyBuilder();
  const bus = o.bus;
  const lingerMs = o.storeLingerMs ?? 1000;
  const maxBatch = o.storeMaxBatch ?? 100_000;
  const batching = { lingerMs, maxBatch, idleMs: o.storeIdleMs ?? 200, tickSecs: Math.max(1, lingerMs / 1000) };
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
    storeIdleMs: num('cdr.store.idle.ms', 0, MAX_STORE_LINGER_MS),
  });
}
