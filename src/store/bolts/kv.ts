import type { TopologyConfig, TopologyContext } from '../../compute/api.js';
import type { Tuple } from '../../compute/tuple.js';
import { fieldEnd, fieldStart, isRowBatch, rowFieldIndex, type RowBatch } from '../../compute/row-batch.js';
import { CellBatch } from '../kv/keys.js';
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
 *
 * With `rowsField`, a tuple carries a RowBatch in that field instead (a batch-mode topology), and each
 * of its rows is one cell, its row key, qualifier and value the batch's fields named by rowField,
 * qualifierField and valueField.
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
  /** The tuple field holding a RowBatch of cells (batch-mode input). */
  rowsField?: string;
}

type Item = Cell | RowBatch;

export class KvStoreBolt extends BatchingStoreBolt<Item> {
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

  protected item(t: Tuple): Item {
    if (this.o.rowsField !== undefined) {
      const b = t.getValueByField(this.o.rowsField);
      if (!isRowBatch(b)) throw new Error(`kv bolt ${this.o.table}: field ${this.o.rowsField} holds no row batch`);
      const what = `kv bolt ${this.o.table}: the row batch in field ${this.o.rowsField}`;
      for (const f of [this.o.rowField, this.o.qualifierField, this.o.valueField]) rowFieldIndex(b, f, what);
      return b;
    }
    return {
      row: t.getValueByField(this.o.rowField) as string | Buffer,
      family: this.o.family,
      qualifier: t.getValueByField(this.o.qualifierField) as string | Buffer,
      value: t.getValueByField(this.o.valueField) as string | Buffer,
    };
  }

  protected override size(item: Item): number {
    return isRowBatch(item) ? item.count : 1;
  }

  protected async write(items: Item[]): Promise<void> {
    if (this.o.rowsField === undefined) return this.table.write(items as Cell[]);
    let n = 0;
    for (const b of items as RowBatch[]) n += b.count;
    const cells = new CellBatch(n, 192);
    let i = 0;
    const what = `kv bolt ${this.o.table}: the row batch`;
    for (const b of items as RowBatch[]) {
      const [rf, qf, vf] = [rowFieldIndex(b, this.o.rowField, what), rowFieldIndex(b, this.o.qualifierField, what), rowFieldIndex(b, this.o.valueField, what)];
      const empty = encodeCells(cells, i, b, rf, qf, vf, this.o.family);
      if (empty >= 0) throw new Error(`kv bolt ${this.o.table}: a cell has an empty row key (row ${empty} of a batch of ${b.count})`);
      i += b.count;
    }
    return this.table.writeEncoded(cells, n);
  }

  protected async closeStore(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.release();
  }
}

/**
 * Encodes the rows of `b` as cells `i`, `i + 1`, … of `cells`; returns -1, or the row whose row key
 * is empty (cells up to it are encoded). A function of its own, apart from the once-a-batch code
 * around it: V8 optimizes it once and keeps it, where a loop inside `write` was compiled on the
 * stack during its first call and thrown away by the code after it (no type feedback yet) batch
 * after batch.
 */
function encodeCells(cells: CellBatch, i: number, b: RowBatch, rf: number, qf: number, vf: number, family: string): number {
  for (let r = 0; r < b.count; r++, i++) {
    const rs = fieldStart(b, r, rf);
    const re = fieldEnd(b, r, rf);
    if (re === rs) return r;
    cells.keyPartBytes(b.buf, rs, re);
    cells.keyPart(family);
    cells.keyPartBytes(b.buf, fieldStart(b, r, qf), fieldEnd(b, r, qf));
    cells.end(i, false);
    cells.rawBytes(b.buf, fieldStart(b, r, vf), fieldEnd(b, r, vf));
    cells.end(i, true);
  }
  return -1;
}
