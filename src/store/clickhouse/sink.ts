import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { defineSink } from '../../collect/contracts.js';
import { EventRowWriter, parseColumns, parseTableName } from '../columns.js';
import { StoreSink } from '../sink.js';
import type { ClickHouseWriter } from './writer.js';

/**
 * ClickHouse sink: each channel take becomes one JSONEachRow insert into a ReplacingMergeTree keyed
 * by event identity (see writer.ts). `url` is the HTTP interface (http://host:8123).
 */
const schema = z.object({
  url: prop.requiredString(),
  username: prop.optionalString(),
  password: prop.optionalString(),
  database: prop.string('default'),
  table: prop.requiredString(),
  idColumn: prop.string('id'),
  columns: prop.list(['body=body']),
  createTable: prop.bool(true),
  batchSize: prop.int(1000, 1),
  timeout: prop.int(30_000, 100),
});
export type ClickHouseSinkConfig = z.infer<typeof schema>;

defineSink({
  type: 'clickhouse',
  aliases: ['monsoon.clickhouse'],
  description: 'Inserts events into a ClickHouse table (JSONEachRow over HTTP, one insert per batch); a ReplacingMergeTree keyed by event identity drops replays.',
  schema,
  batchSize: (c) => c.batchSize,
  check: (c) => {
    const out: Array<[string, string]> = [];
    if (!/^https?:\/\/[^/]+/i.test(c.url)) out.push(['url', 'must be the HTTP interface, http://host:8123 or https://host:8443']);
    for (const [k, v] of [['database', c.database], ['table', c.table]] as const) {
      try {
        if (parseTableName(v).length !== 1) throw new Error(`must be a plain identifier; give the database in database`);
      } catch (e) {
        out.push([k, (e as Error).message]);
      }
    }
    try {
      const cols = parseColumns(c.columns);
      if (cols.some((m) => m.column === c.idColumn)) out.push(['columns', `column "${c.idColumn}" is the identity column (idColumn); map other columns`]);
      parseColumns([`${c.idColumn}=identity`]);
    } catch (e) {
      out.push(['columns', (e as Error).message]);
    }
    return out;
  },
  create: (cfg, ctx) =>
    // The client loads when the sink starts, not with every agent.
    new StoreSink(ctx, cfg.batchSize, async () => {
      const columns = parseColumns(cfg.columns);
      const { ClickHouseWriter: Writer } = await import('./writer.js');
      const writer: ClickHouseWriter = new Writer({
        url: cfg.url,
        username: cfg.username,
        password: cfg.password,
        database: cfg.database,
        table: cfg.table,
        idColumn: cfg.idColumn,
        columns: columns.map((m) => m.column),
        createTable: cfg.createTable,
        timeoutMs: cfg.timeout,
      });
      return new EventRowWriter(writer, columns);
    }),
});
