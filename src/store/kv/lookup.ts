import type { GetOptions, Row, ScanOptions } from './store.js';
import { KvStore } from './store.js';

/**
 * Row lookups as JSON, for `monsoon store get/scan` and the server's HTTP API. Bytes that are valid
 * UTF-8 print as strings; other bytes as `{ "base64": "…" }`.
 */
export type JsonBytes = string | { base64: string };
export interface JsonRow {
  row: JsonBytes;
  /** `family:qualifier` → value, in family then qualifier order. */
  columns: Record<string, JsonBytes>;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export function jsonBytes(b: Buffer): JsonBytes {
  try {
    return decoder.decode(b);
  } catch {
    return { base64: b.toString('base64') };
  }
}

export function rowToJson(r: Row): JsonRow {
  const columns: Record<string, JsonBytes> = {};
  for (const c of r.cells) {
    const q = jsonBytes(c.qualifier);
    columns[`${c.family}:${typeof q === 'string' ? q : `base64:${q.base64}`}`] = jsonBytes(c.value);
  }
  return { row: jsonBytes(r.row), columns };
}

/** Opens the store read-only for one lookup; the store and table must exist. */
async function withTable<T>(dir: string, table: string, f: (t: ReturnType<KvStore['table']>) => T): Promise<T> {
  const store = KvStore.open(dir, { readOnly: true });
  try {
    return f(store.table(table));
  } finally {
    await store.close();
  }
}

/** One row (undefined when it has no cells). */
export function kvGet(dir: string, table: string, row: string, opts: GetOptions = {}): Promise<JsonRow | undefined> {
  return withTable(dir, table, (t) => {
    const cells = t.get(row, opts);
    return cells.length ? rowToJson({ row: Buffer.from(row), cells }) : undefined;
  });
}

export function kvScan(dir: string, table: string, opts: ScanOptions): Promise<JsonRow[]> {
  return withTable(dir, table, (t) => t.scan(opts).map(rowToJson));
}
