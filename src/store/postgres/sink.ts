import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { defineSink } from '../../collect/contracts.js';
import { EventRowWriter, parseColumns, parseTableName } from '../columns.js';
import { StoreSink } from '../sink.js';
import type { PgWriter } from './writer.js';

/**
 * PostgreSQL sink: each channel take becomes one idempotent upsert keyed by the event identity
 * (see writer.ts). Property names follow JDBC sinks: url (jdbc:postgresql://… or postgres://…) or
 * connectionString, user, password, table, batchSize; `columns` maps events to columns.
 */
const schema = z.object({
  url: prop.optionalString(),
  connectionString: prop.optionalString(),
  user: prop.optionalString(),
  password: prop.optionalString(),
  table: prop.requiredString(),
  idColumn: prop.string('id'),
  columns: prop.list(['body=body']),
  onConflict: prop.oneOf(['nothing', 'update'], 'nothing'),
  createTable: prop.bool(true),
  batchSize: prop.int(100, 1),
  timeout: prop.int(10_000, 100),
});
export type PostgresSinkConfig = z.infer<typeof schema>;

/** jdbc:postgresql://host:port/db?user=… → postgresql://host:port/db?user=… (what the pg driver reads). */
export function pgConnectionString(c: Pick<PostgresSinkConfig, 'url' | 'connectionString'>): string {
  const s = (c.connectionString ?? c.url ?? '').trim();
  return s.replace(/^jdbc:postgresql:/i, 'postgresql:');
}

defineSink({
  type: 'postgres',
  aliases: ['postgresql', 'monsoon.postgres'],
  description: 'Upserts events into a PostgreSQL table, one statement per batch, keyed by event identity so replays add no rows.',
  schema,
  batchSize: (c) => c.batchSize,
  check: (c) => {
    const out: Array<[string, string]> = [];
    if (c.url === undefined && c.connectionString === undefined) out.push(['url', 'is required (postgres://user@host:5432/db or jdbc:postgresql://host:5432/db); or set connectionString']);
    else if (!/^postgres(ql)?:\/\//i.test(pgConnectionString(c))) out.push([c.connectionString !== undefined ? 'connectionString' : 'url', 'must start with postgres://, postgresql:// or jdbc:postgresql://']);
    try {
      parseTableName(c.table);
    } catch (e) {
      out.push(['table', (e as Error).message]);
    }
    try {
      const cols = parseColumns(c.columns);
      if (cols.some((m) => m.column === c.idColumn)) out.push(['columns', `column "${c.idColumn}" is the identity column (idColumn); map other columns`]);
    } catch (e) {
      out.push(['columns', (e as Error).message]);
    }
    try {
      parseColumns([`${c.idColumn}=identity`]);
    } catch (e) {
      out.push(['idColumn', (e as Error).message]);
    }
    return out;
  },
  create: (cfg, ctx) =>
    // The driver loads when the sink starts, not with every agent.
    new StoreSink(ctx, cfg.batchSize, async () => {
      const columns = parseColumns(cfg.columns);
      const { PgWriter: Writer } = await import('./writer.js');
      const writer: PgWriter = new Writer({
        connectionString: pgConnectionString(cfg),
        user: cfg.user,
        password: cfg.password,
        table: parseTableName(cfg.table),
        idColumn: cfg.idColumn,
        columns: columns.map((m) => m.column),
        onConflict: cfg.onConflict,
        createTable: cfg.createTable,
        timeoutMs: cfg.timeout,
      });
      return new EventRowWriter(writer, columns);
    }),
});
