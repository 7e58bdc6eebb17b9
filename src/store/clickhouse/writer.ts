import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import type { FieldValue, StoreRow, StoreWriter } from '../writer.js';

/**
 * ClickHouse writer of rows (agent sinks feed it events through EventRowWriter; a bolt, its tuples):
 * one INSERT … FORMAT JSONEachRow over HTTP per batch (the official client).
 * A batch is one block, so it lands whole or not at all.
 *
 * Idempotence comes from the table: a ReplacingMergeTree ordered by the identity column keeps one row
 * per identity once parts merge, and reads that must be exact before a merge use FINAL (or
 * `OPTIMIZE TABLE … FINAL`). Per-batch insert_deduplication_token is not used: a redelivered take may
 * be cut into different batches than the first attempt (another batchSize, a partial take), so a
 * batch-level token would miss those replays, while the row-level key cannot; the token also needs
 * ClickHouse 22.2+ and, on non-replicated tables, non_replicated_deduplication_window.
 *
 * Text and bytes (as UTF-8) are sent as JSON strings, numbers and booleans as JSON values, big
 * integers as strings, absent values as NULL: ClickHouse parses quoted numbers and dates into typed
 * columns, so one mapping serves String, numeric and DateTime columns alike.
 */
export interface ClickHouseWriterOptions {
  url: string;
  username?: string;
  password?: string;
  database: string;
  table: string;
  idColumn: string;
  /** Columns besides the id, as named in each row's `values`. */
  columns: readonly string[];
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

function jsonValue(v: FieldValue): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'bigint') return v.toString();
  return v;
}

export class ClickHouseWriter implements StoreWriter<StoreRow> {
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

  async write(batch: readonly StoreRow[]): Promise<void> {
    if (batch.length === 0) return;
    const rows: Array<Record<string, string | number | boolean | null>> = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      const row: Record<string, string | number | boolean | null> = { [this.o.idColumn]: r.id };
      for (const c of this.o.columns) row[c] = jsonValue(r.values[c]);
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
    const cols = [this.o.idColumn, ...this.o.columns];
    if (this.o.createTable) {
      await this.client.command({
        query: `CREATE TABLE IF NOT EXISTS ${q(this.o.database)}.${q(this.o.table)} (${q(this.o.idColumn)} String${this.o.columns.map((c) => `, ${q(c)} Nullable(String)`).join('')}) ENGINE = ReplacingMergeTree() ORDER BY ${q(this.o.idColumn)}`,
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
