import pg from 'pg';
import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import type { FieldValue, StoreRow, StoreWriter } from '../writer.js';

/**
 * PostgreSQL writer of rows (agent sinks feed it events through EventRowWriter; a bolt, its tuples):
 * one statement, one round trip per batch —
 *   INSERT INTO t (id, c1, …) SELECT * FROM unnest($1::text[], $2::<type of c1>[], …)
 *   ON CONFLICT (id) DO NOTHING | DO UPDATE SET c1 = EXCLUDED.c1, …
 * keyed by the row id (the event identity), so a replayed batch (the reply was lost, the server died
 * after its commit) inserts nothing new. Arrays as parameters keep the statement text the same for every
 * batch size and avoid PostgreSQL's 65,535-parameter limit of multi-row VALUES.
 *
 * The column types are read from the catalog once, so each array is cast to its column's type
 * (integers, timestamps, jsonb, bytea … all accept their text form). With `createTable`, a missing
 * table is created with the identity column as primary key and text columns.
 */
export interface PgWriterOptions {
  connectionString: string;
  user?: string;
  password?: string;
  /** `table` or `schema.table` (already checked to be plain identifiers). */
  table: string[];
  idColumn: string;
  /** Columns besides the id, as named in each row's `values`. */
  columns: readonly string[];
  onConflict: 'nothing' | 'update';
  createTable: boolean;
  /** Milliseconds to wait for a connection or a statement before the batch fails retriably. */
  timeoutMs: number;
}

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

/** SQLSTATE classes a retry can get past: connection exceptions, resources, operator intervention, rollbacks. */
const RETRIABLE_CLASSES = new Set(['08', '53', '57', '40', '55']);

/** Maps a driver or server error to STORE_UNAVAILABLE (retriable) or STORE_REJECTED. */
export function pgError(table: string, err: unknown): MonsoonError {
  if (err instanceof MonsoonError) return err;
  const code = (err as { code?: unknown }).code;
  const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (sqlstate !== undefined && !RETRIABLE_CLASSES.has(sqlstate.slice(0, 2))) {
    return new MonsoonError(ErrorCodes.STORE_REJECTED, `PostgreSQL refused the batch for table ${table} (SQLSTATE ${sqlstate}): ${errorMessage(err)}`, { cause: err });
  }
  return new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `PostgreSQL did not confirm the batch for table ${table}: ${errorMessage(err)}`, { retriable: true, cause: err });
}

/** A field as an array element: bytes stay bytes for bytea columns and are UTF-8 text elsewhere. */
function pgValue(v: FieldValue, bytea: boolean): string | Buffer | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return bytea ? v : v.toString('utf8');
  return String(v);
}

export class PgWriter implements StoreWriter<StoreRow> {
  private readonly pool: pg.Pool;
  private readonly tableSql: string;
  private readonly tableName: string;
  private statement: { text: string; bytea: boolean[] } | undefined;

  constructor(private readonly o: PgWriterOptions) {
    this.pool = new pg.Pool({ connectionString: o.connectionString, user: o.user, password: o.password, max: 2, connectionTimeoutMillis: o.timeoutMs, query_timeout: o.timeoutMs, idleTimeoutMillis: 30_000 });
    // An idle connection broken by a server restart is reported here; the next query opens another.
    this.pool.on('error', () => {});
    this.tableSql = o.table.map(q).join('.');
    this.tableName = o.table.join('.');
  }

  async write(rows: readonly StoreRow[]): Promise<void> {
    if (rows.length === 0) return;
    const byId = new Map<string, StoreRow>();
    for (const r of rows) byId.set(r.id, r); // a batch holding a row twice keeps the last
    try {
      const st = this.statement ?? (this.statement = await this.prepare());
      const arrays: Array<Array<string | Buffer | null>> = [[...byId.keys()], ...this.o.columns.map(() => [] as Array<string | Buffer | null>)];
      for (const r of byId.values()) this.o.columns.forEach((c, i) => arrays[i + 1]!.push(pgValue(r.values[c], st.bytea[i]!)));
      await this.pool.query(st.text, arrays);
    } catch (err) {
      // A changed table (altered column types) is read again on the next batch.
      if (!(err instanceof MonsoonError)) this.statement = undefined;
      throw pgError(this.tableName, err);
    }
  }

  /** Reads the column types (creating the table first when allowed) and builds the statement. */
  private async prepare(): Promise<{ text: string; bytea: boolean[] }> {
    const cols = [this.o.idColumn, ...this.o.columns];
    let types = await this.columnTypes();
    if (types.size === 0 && this.o.createTable) {
      await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.tableSql} (${q(this.o.idColumn)} text PRIMARY KEY${this.o.columns.map((c) => `, ${q(c)} text`).join('')})`);
      types = await this.columnTypes();
    }
    if (types.size === 0) throw new MonsoonError(ErrorCodes.STORE_REJECTED, `PostgreSQL table ${this.tableName} does not exist; create it or set createTable = true`);
    const missing = cols.filter((c) => !types.has(c));
    if (missing.length) throw new MonsoonError(ErrorCodes.STORE_REJECTED, `PostgreSQL table ${this.tableName} has no column ${missing.join(', ')}; add it or change columns/idColumn`);
    const arrays = cols.map((c, i) => `$${i + 1}::${types.get(c)}[]`).join(', ');
    const conflict = this.o.onConflict === 'update' && this.o.columns.length ? `DO UPDATE SET ${this.o.columns.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}` : 'DO NOTHING';
    return {
      text: `INSERT INTO ${this.tableSql} (${cols.map(q).join(', ')}) SELECT * FROM unnest(${arrays}) ON CONFLICT (${q(this.o.idColumn)}) ${conflict}`,
      bytea: this.o.columns.map((c) => types.get(c) === 'bytea'),
    };
  }

  private async columnTypes(): Promise<Map<string, string>> {
    const r = await this.pool.query<{ name: string; type: string }>(
      'SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped',
      [this.tableSql],
    );
    return new Map(r.rows.map((row) => [row.name, row.type]));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
