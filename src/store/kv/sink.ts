import { join } from 'node:path';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineSink } from '../../collect/contracts.js';
import { KeyTemplate } from '../identity.js';
import { StoreSink } from '../sink.js';
import type { StoreWriter } from '../writer.js';
import { checkFamilyName, checkTableName } from './names.js';
import type { Cell, KvStore, KvTable } from './store.js';

/**
 * Key-value sink: events become cells of a table in the embedded key-value store. Property names
 * follow Flume's HBase sink where they mean the same thing (table, columnFamily, batchSize,
 * serializer.payloadColumn, serializer.rowPrefix); the row key is a template so a replayed event lands
 * on the same cells (default: the event identity), instead of Flume's random/time row-key suffixes.
 */
const schema = z.object({
  store: prop.optionalString(),
  table: prop.requiredString(),
  columnFamily: prop.requiredString(),
  batchSize: prop.int(100, 1),
  rowKey: prop.string('%{identity}'),
  'serializer.rowPrefix': prop.string(''),
  'serializer.payloadColumn': prop.string('payload'),
  headerColumns: prop.list([]),
  serializer: prop.optionalString(),
  zookeeperQuorum: prop.optionalString(),
  'serializer.incrementColumn': prop.optionalString(),
});
export type KvSinkConfig = z.infer<typeof schema>;

export interface KvEventMapping {
  family: string;
  rowKey: KeyTemplate;
  /** Column the body goes to ('' = the body is not stored). */
  payloadColumn: string;
  /** Header names stored as columns (qualifier = header name); ['*'] stores every header. */
  headerColumns: readonly string[];
}

/** Events → cells of one table: the body under the payload column, chosen headers as columns. */
export class KvEventWriter implements StoreWriter<Event> {
  constructor(
    private readonly table: KvTable,
    private readonly m: KvEventMapping,
    private readonly release: () => Promise<void> = async () => {},
  ) {}

  write(events: readonly Event[]): Promise<void> {
    const cells: Cell[] = [];
    const all = this.m.headerColumns.includes('*');
    for (const e of events) {
      const row = this.m.rowKey.render(e);
      if (this.m.payloadColumn) cells.push({ row, family: this.m.family, qualifier: this.m.payloadColumn, value: e.body });
      if (all) {
        for (const h in e.headers) cells.push({ row, family: this.m.family, qualifier: h, value: e.headers[h]! });
      } else {
        for (const h of this.m.headerColumns) {
          const v = e.headers[h];
          if (v !== undefined) cells.push({ row, family: this.m.family, qualifier: h, value: v });
        }
      }
    }
    return this.table.write(cells);
  }

  close(): Promise<void> {
    return this.release();
  }
}

/**
 * The store in `dir`, opened once per process and shared with the server's bolts and lookups
 * (shared.ts); LMDB is loaded on first use, not with the agent.
 */
export async function acquireStore(dir: string): Promise<{ store: KvStore; release: () => Promise<void> }> {
  const { acquireKvStore } = await import('./shared.js');
  return acquireKvStore(dir);
}

const SIMPLE_SERIALIZERS = ['simple', 'org.apache.flume.sink.hbase.SimpleHbaseEventSerializer', 'org.apache.flume.sink.hbase2.SimpleHBase2EventSerializer'].map((s) => s.toLowerCase());

defineSink({
  type: 'kv',
  aliases: ['monsoon.kv', 'hbase', 'hbase2', 'org.apache.flume.sink.hbase.HBaseSink', 'org.apache.flume.sink.hbase2.HBase2Sink'],
  description: 'Writes events as cells (row key from a template, body and chosen headers as columns) to a table of the embedded key-value store; replays overwrite the same cells.',
  schema,
  batchSize: (c) => c.batchSize,
  check: (c) => {
    const out: Array<[string, string]> = [];
    for (const [k, f] of [['table', () => checkTableName(c.table)], ['columnFamily', () => checkFamilyName(c.columnFamily)]] as const) {
      try {
        f();
      } catch (e) {
        out.push([k, (e as Error).message]);
      }
    }
    try {
      new KeyTemplate(c['serializer.rowPrefix'] + c.rowKey);
    } catch (e) {
      out.push(['rowKey', (e as Error).message]);
    }
    if (c.zookeeperQuorum !== undefined) out.push(['zookeeperQuorum', 'remote HBase clusters are not reachable from Monsoon; cells go to the embedded key-value store in `store` — remove zookeeperQuorum']);
    if (c['serializer.incrementColumn'] !== undefined) out.push(['serializer.incrementColumn', 'counter increments are not idempotent under replay and are not supported; remove serializer.incrementColumn']);
    if (c.serializer !== undefined && !SIMPLE_SERIALIZERS.includes(c.serializer.trim().toLowerCase())) {
      out.push(['serializer', `serializer "${c.serializer}" is not supported; remove it (events map to cells through rowKey, serializer.payloadColumn and headerColumns)`]);
    }
    return out;
  },
  create: (cfg, ctx) =>
    new StoreSink(ctx, cfg.batchSize, async () => {
      const { store, release } = await acquireStore(cfg.store ?? join(ctx.dataDir, 'kv'));
      try {
        const table = store.table(cfg.table);
        return new KvEventWriter(table, { family: cfg.columnFamily, rowKey: new KeyTemplate(cfg['serializer.rowPrefix'] + cfg.rowKey), payloadColumn: cfg['serializer.payloadColumn'], headerColumns: cfg.headerColumns }, release);
      } catch (err) {
        await release();
        throw err;
      }
    }),
});
