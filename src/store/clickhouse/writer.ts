import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { columnValue, type ColumnMapping } from '../columns.js';
import { identityKey } from '../identity.js';
import type { StoreWriter } from '../writer.js';

/**
 * ClickHouse writer: one INSERT … FORMAT JSONEachRow over HTTP per batch (the official client).
 * A batch is one block, so it lands whole or not at all.
 *
 * Idempotence comes from the table: a ReplacingMergeTree ordered by the identity column keeps one row
 * per identity once parts merge, and reads that must be exact before a merge use FINAL (or
 * `OPTIMIZE TABLE … FINAL`). Per-batch insert_deduplication_token is not used: a redelivered take may
 * be cut into different batches than the first attempt (another batchSize, a partial take), so a
 * batch-level token would miss those replays, while the row-level key cannot; the token also needs
 * ClickHouse 22.2+ and, on non-replicated tables, non_replicated_deduplication_window.
 *
 * Values are sent as JSON strings (NULL for an absent header): ClickHouse parses quoted numbers and
 * dates into typed columns, so one mapping serves String, numeric and DateTime columns alike.
 */
export interface ClickHouseWriterOptions {
  url: string;
  username?: string;
  password?: string;
  database: string;
  table: string;
  idColumn: string;
  columns: readonly ColumnMapping[];
  createTable: boolean;
  timeoutMs: number;
}

const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const q = (ident: string) => `\`${ident.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

/** ClickHouse error codes a retry can get past (limits, timeouts, network, replicas, read-only for a while). */
const RETRIABLE_CODES = new Set(['159', '202', '209', '210', '241', '242', '252', '319', '425', '999', '225', '3', '32', '33', '394']);

export function clickhouseError(table: string, err: unknown): MonsoonError {
  if (err instanceof MonsoonError) return err;
  if (err instanceof ClickHouseError && !RETRIABLE_CODES.has(err.code)) {
    return new MonsoonError(ErrorCodes.STORE_REJECTED, `ClickHouse refused the batch for table ${table} (code ${err.code} ${err.type ?? ''}): ${err.message}`, { cause: err });
  }
  return new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `ClickHouse did not confirm the batch for table ${table}: ${errorMessage(err)}`, { retriable: true, cause: err });
}

export class ClickHouseWriter implements StoreWriter<Event> {
  private readonly client: ClickHouseClient;
  private readonly name: string;
  private ready = false;

  constructor(private readonly o: ClickHouseWriterOptions) {
    this.client = createClient({
      url: o.url, username: o.username, password: o.password, database: o.database, request_timeout: o.timeoutMs,
      // Failures reach the caller as coded errors; the client's own console logging would only repeat them.
      log: { level: ClickHouseLogLevel.OFF },
    });
    this.name = `${o.database}.${o.table}`;
  }

  async write(events: readonly Event[]): Promise<void> {
    if (events.length === 0) return;
    const rows: Array<Record<string, string | null>> = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const row: Record<string, string | null> = { [this.o.idColumn]: identityKey(e) };
      for (const m of this.o.columns) row[m.column] = columnValue(e, m.source);
      rows[i] = row;
    }
    try {
      if (!this.ready) await this.prepare();
      await this.client.insert({ table: `${q(this.o.database)}.${q(this.o.table)}`, values: rows, format: 'JSONEachRow' });
    } catch (err) {
      this.ready = false;
      throw clickhouseError(this.name, err);
    }
  }

  /** Creates the table when allowed and missing, then checks that every mapped column exists. */
  private async prepare(): Promise<void> {
    const cols = [this.o.idColumn, ...this.o.columns.map((m) => m.column)];
    if (this.o.createTable) {
      await this.client.command({
        query: `CREATE TABLE IF NOT EXISTS ${q(this.o.database)}.${q(this.o.table)} (${q(this.o.idColumn)} String${this.o.columns.map((m) => `, ${q(m.column)} Nullable(String)`).join('')}) ENGINE = ReplacingMergeTree() ORDER BY ${q(this.o.idColumn)}`,
      });
    }
    const r = await this.client.query({
      // String literals rather than query parameters, which ClickHouse before 19.x lacks.
      query: `SELECT name FROM system.columns WHERE database = ${lit(this.o.database)} AND table = ${lit(this.o.table)}`,
      format: 'JSONEachRow',
    });
    const have = new Set((await r.json<{ name: string }>()).map((x) => x.name));
    if (have.size === 0) throw new MonsoonError(ErrorCodes.STORE_REJECTED, `ClickHouse table ${this.name} does not exist; create it (ENGINE = ReplacingMergeTree() ORDER BY ${this.o.idColumn}) or set createTable = true`);
    const missing = cols.filter((c) => !have.has(c));
    if (missing.length) throw new MonsoonError(ErrorCodes.STORE_REJECTED, `ClickHouse table ${this.name} has no column ${missing.join(', ')}; add it or change columns/idColumn`);
    this.ready = true;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
