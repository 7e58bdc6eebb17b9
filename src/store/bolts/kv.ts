import type { TopologyConfig, TopologyContext } from '../../compute/api.js';
import type { Tuple } from '../../compute/tuple.js';
import type { Cell, KvTable } from '../kv/store.js';
import { acquireKvStore, type KvStoreHandle } from '../kv/shared.js';
import { checkFamilyName, checkTableName } from '../kv/names.js';
import { BatchingStoreBolt, type BatchingOptions } from './batching.js';

/**
 * The KV-store bolt (Storm's HBaseBolt on the embedded key-value store): each tuple becomes one cell
 * (row, family, qualifier) = value, taken from the tuple's fields, and each batch is one LMDB
 * transaction, acked once committed and synced. A cell is addressed by what the record is, so a
 * replayed tuple rewrites the same cell: idempotent by record identity when the row and qualifier
 * name the record (e.g. row = subscriber, qualifier = `<time>#<recordId>`).
 */
export interface KvBoltOptions extends BatchingOptions {
  /** Store directory (shared with every other user of it in this process). */
  store: string;
  table: string;
  family: string;
  /** Tuple fields holding the row key, the qualifier and the value (strings or Buffers). */
  rowField: string;
  qualifierField: string;
  valueField: string;
}

export class KvStoreBolt extends BatchingStoreBolt<Cell> {
  private handle: KvStoreHandle | undefined;
  private table!: KvTable;

  constructor(private readonly o: KvBoltOptions) {
    super(o);
    checkTableName(o.table);
    checkFamilyName(o.family);
  }

  protected async open(_conf: TopologyConfig, _ctx: TopologyContext): Promise<void> {
    this.handle = acquireKvStore(this.o.store);
    this.table = this.handle.store.table(this.o.table);
  }

  protected item(t: Tuple): Cell {
    return {
      row: t.getValueByField(this.o.rowField) as string | Buffer,
      family: this.o.family,
      qualifier: t.getValueByField(this.o.qualifierField) as string | Buffer,
      value: t.getValueByField(this.o.valueField) as string | Buffer,
    };
  }

  protected write(cells: Cell[]): Promise<void> {
    return this.table.write(cells);
  }

  protected async closeStore(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.release();
  }
}
