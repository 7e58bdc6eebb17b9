import { identityOf, type Event } from '../core/event.js';
import { identityKey } from './identity.js';
import type { StoreRow, StoreWriter } from './writer.js';

/**
 * Event → row column mappings for the SQL stores, written `name=source` in a `columns` list:
 * `body` (the body as UTF-8 text), `header.<name>` (a header, NULL when absent), `headers` (all
 * headers as a JSON object), `origin` and `seq` (the identity's parts), `identity` (identityKey).
 */
export type ColumnSource = { kind: 'body' } | { kind: 'headers' } | { kind: 'identity' } | { kind: 'origin' } | { kind: 'seq' } | { kind: 'header'; name: string };
export interface ColumnMapping {
  column: string;
  source: ColumnSource;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Parses `name=source` entries; throws with the entry at fault. */
export function parseColumns(entries: readonly string[]): ColumnMapping[] {
  const out: ColumnMapping[] = [];
  for (const entry of entries) {
    const i = entry.indexOf('=');
    const column = (i < 0 ? entry : entry.slice(0, i)).trim();
    const src = (i < 0 ? entry : entry.slice(i + 1)).trim();
    if (!IDENT.test(column)) throw new Error(`column "${column}" in "${entry}" must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)`);
    let source: ColumnSource;
    if (src === 'body' || src === 'headers' || src === 'identity' || src === 'origin' || src === 'seq') source = { kind: src };
    else if (src.startsWith('header.') && src.length > 7) source = { kind: 'header', name: src.slice(7) };
    else throw new Error(`"${entry}": the source must be body, headers, identity, origin, seq or header.<name>`);
    if (out.some((m) => m.column === column)) throw new Error(`column "${column}" is mapped twice`);
    out.push({ column, source });
  }
  return out;
}

export function columnValue(e: Event, s: ColumnSource): string | null {
  switch (s.kind) {
    case 'body':
      return e.body.toString('utf8');
    case 'headers':
      return JSON.stringify(e.headers);
    case 'identity':
      return identityKey(e);
    case 'origin':
      return identityOf(e)?.origin ?? null;
    case 'seq': {
      const id = identityOf(e);
      return id ? String(id.seq) : null;
    }
    case 'header':
      return e.headers[s.name] ?? null;
  }
}

/** Splits `schema.table` (or `table`) into identifiers, each checked like a column name. */
export function parseTableName(name: string): string[] {
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) throw new Error(`table "${name}" must be table or schema.table, each a plain identifier ([A-Za-z_][A-Za-z0-9_]*)`);
  return parts;
}

/** Events → rows for a table writer: id = identityKey, values by the column mappings. */
export class EventRowWriter implements StoreWriter<Event> {
  constructor(
    private readonly inner: StoreWriter<StoreRow>,
    private readonly columns: readonly ColumnMapping[],
  ) {}

  write(events: readonly Event[]): Promise<void> {
    const rows: StoreRow[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const values: Record<string, string | Buffer | null> = {};
      // The body stays bytes: a bytea column takes them as they are, a text column as UTF-8.
      for (const m of this.columns) values[m.column] = m.source.kind === 'body' ? e.body : columnValue(e, m.source);
      rows[i] = { id: identityKey(e), values };
    }
    return this.inner.write(rows);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
