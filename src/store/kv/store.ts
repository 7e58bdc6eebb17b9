import { existsSync, mkdirSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb';
import { ErrorCodes, errorMessage, MonsoonError } from '../../core/errors.js';
import { CellBatch, decodeKey, encodeKey, escapePart, prefixEnd, prefixRange } from './keys.js';
import { checkFamilyName, checkTableName, invalid } from './names.js';
import { checkBatch, KvWriter, within, type KvWriteStats } from './writer.js';

/**
 * The embedded key-value store (HBase's data model on LMDB): tables of rows; a row holds cells
 * addressed by column family and qualifier. A write replaces the cell at (row, family, qualifier), so
 * writing a batch again leaves the table as it was — replays never duplicate. Reads are a row by key
 * (optionally one family or some columns) and scans over a row-key prefix or a [start, stop) range.
 *
 * One store is one directory holding one LMDB environment (kv.mdb); each table is a named LMDB
 * database in it. Several processes may open the same store: LMDB serialises writers and readers
 * see committed snapshots, so `monsoon store get` works while an agent writes.
 *
 * Writers map the file writable (LMDB's MDB_WRITEMAP): a commit changes its pages in place in the
 * shared mapping and syncs them, instead of copying each page into a private buffer, keeping a sorted
 * list of them (whose insertions grow with the square of the pages a commit touches) and writing
 * them out — about 35% less CPU per cell in batches of 5,000 cells spread over a large table (~15%
 * at 14,000). The price is that a write fault the filesystem cannot back (disk full) kills the
 * process (SIGBUS) instead of failing the commit, so every write first checks the free space (see
 * KvTable.write) and is refused, retriably, when a commit might not fit. Readers in other processes
 * open the file read-only, where the flag does not apply.
 *
 * Writes run in a thread of the store's own (KvWriter, writer.ts), which opens the same environment:
 * the calling thread encodes a batch's cells into one buffer and hands it over, and the B-tree
 * updates, the commit and its sync run there, off the event loop every bolt and route shares.
 */
export interface Cell {
  row: Buffer | string;
  family: string;
  qualifier: Buffer | string;
  value: Buffer | string;
}

export interface RowCell {
  family: string;
  qualifier: Buffer;
  value: Buffer;
}

export interface Row {
  row: Buffer;
  cells: RowCell[];
}

export interface GetOptions {
  /** Only cells of this family. */
  family?: string;
  /** Only these columns, each `family:qualifier` (or a bare qualifier of `family`). */
  columns?: readonly string[];
}

export interface ScanOptions {
  /** Rows whose key starts with this. */
  prefix?: Buffer | string;
  /** First row key included (with `stop`, a [start, stop) range). */
  start?: Buffer | string;
  /** First row key excluded. */
  stop?: Buffer | string;
  /** At most this many rows. */
  limit?: number;
  family?: string;
}

const bytes = (v: Buffer | string) => (typeof v === 'string' ? Buffer.from(v) : v);

/** Free space of a directory's filesystem, in bytes. */
export type FreeSpaceProbe = (dir: string) => Promise<number>;

const freeBytes: FreeSpaceProbe = async (dir) => {
  const st = await statfs(dir);
  return st.bavail * st.bsize;
};

export interface KvOpenOptions {
  readOnly?: boolean;
  /** Writers map the file writable (default true; see KvStore). */
  writemap?: boolean;
  /** Free-space probe for the write guard (fs.statfs unless replaced, e.g. in tests). */
  freeSpace?: FreeSpaceProbe;
  /** The writer thread's module (write-thread.js unless replaced, in tests). */
  writerModule?: string;
}

/**
 * Free space a commit must find on the store's filesystem: SPACE_FLOOR_BYTES, the margin for
 * everything else writing there meanwhile (other writers of the store, logs, archives), plus an
 * estimate of what the commit can add to the file: a copy-on-write commit writes every page on the
 * path from the root to each leaf it changes, and splits may add more. Measured growth stayed under
 * 0.2 of the per-cell part for small cells in batches of thousands and under ~3 pages per cell for
 * single cells with 1.9 KB keys; values larger than a page take pages of their own (twice the batch's
 * bytes covers them). An estimate, not a bound: the floor is what keeps a burst of the worst cases
 * away from a full disk.
 */
export const SPACE_FLOOR_BYTES = 64 * 1024 * 1024;
const SPACE_PER_CELL = 3 * 4096;
const SPACE_PER_COMMIT = 32 * 4096;

/** How long a close waits for the writes in flight, then for the writer thread, then for lmdb's close. */
const CLOSE_WAIT_MS = 10_000;

/** LMDB's largest key with its default page size. */
export const MAX_KEY_BYTES = 1978;
/** Named databases the environment can hold (tables). */
const MAX_TABLES = 256;
export class KvStore {
  private readonly tables = new Map<string, KvTable>();
  /** Writes not settled yet: a close waits for them. */
  private readonly writes = new Set<Promise<void>>();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly root: RootDatabase,
    private readonly readOnly: boolean,
    private readonly freeSpace: FreeSpaceProbe,
    private readonly writer: KvWriter,
  ) {}

  /**
   * Opens the store in `dir`, creating it unless `readOnly`. A read-only open of a directory without
   * a store fails with MON_ERR_STORE_INVALID_ARGUMENT instead of creating one.
   */
  static open(dir: string, opts: KvOpenOptions = {}): KvStore {
    const path = join(dir, 'kv.mdb');
    const readOnly = opts.readOnly ?? false;
    if (readOnly) {
      if (!existsSync(path)) throw invalid(`no key-value store in ${dir} (${path} does not exist)`);
    } else mkdirSync(dir, { recursive: true });
    // The writer thread opens the environment with these same options (one environment per process).
    // - No overlapping sync: a commit syncs before it returns, so a write resolves once durable (with
    //   it, lmdb defers the sync, and with the writable map that sync left the file's last page out
    //   of the range it syncs).
    // - No event-turn batching: nothing here writes through lmdb's asynchronous queue (only a
    //   table's creation, on its first use, is a write transaction on this thread).
    const options = {
      path,
      maxDbs: MAX_TABLES,
      readOnly,
      useWritemap: !readOnly && (opts.writemap ?? true),
      overlappingSync: false,
      eventTurnBatching: false,
    };
    const root = open(options);
    // lmdb keeps this thread's read snapshot for the rest of the event turn; a commit from the writer
    // thread must end it, or a read right after the write resolved could miss what it wrote
    const resetRead = () => (root as unknown as { resetReadTxn(): void }).resetReadTxn();
    return new KvStore(dir, root, readOnly, opts.freeSpace ?? freeBytes, new KvWriter(options, dir, resetRead, opts.writerModule === undefined ? undefined : () => opts.writerModule!));
  }

  /** The table `name`; created on first use unless the store is read-only (then it must exist). */
  table(name: string): KvTable {
    checkTableName(name);
    let t = this.tables.get(name);
    if (t) return t;
    // lmdb's `create: false` (undocumented in its types) returns nothing for a missing table instead of creating it.
    const opts = { name, keyEncoding: 'binary', encoding: 'binary', create: !this.readOnly } as DatabaseOptions & { name: string };
    const db = this.root.openDB(opts) as Database<Buffer, Buffer> | undefined;
    if (!db) throw invalid(`no table ${JSON.stringify(name)} in the key-value store ${this.dir}`);
    t = new KvTable(name, db, this.dir, this.freeSpace, {
      closed: () => this.closed,
      readOnly: this.readOnly,
      writer: this.writer,
      track: (w) => {
        this.writes.add(w);
        const done = () => this.writes.delete(w);
        w.then(done, done);
      },
    });
    this.tables.set(name, t);
    return t;
  }

  /** What this process's writes to the store did so far: commits, cells, the writer thread's time in them, failures. */
  writeStats(): KvWriteStats {
    return { ...this.writer.stats };
  }

  /** Names of the tables in the store. */
  tableNames(): string[] {
    return [...this.root.getKeys({})].map(String);
  }

  /**
   * Closes the store once the writes in flight settled (committed or failed); later writes are
   * refused. Each wait is bounded: after a failed meta-page sync LMDB refuses every transaction and
   * lmdb leaves the writes queued behind it, and its own close, pending forever. Every acknowledged
   * commit is on disk and LMDB needs no recovery, so the process may go on (or exit) regardless.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tables.clear();
    const deadline = Date.now() + CLOSE_WAIT_MS;
    while (this.writes.size > 0 && Date.now() < deadline) await within(Promise.allSettled([...this.writes]), deadline - Date.now());
    await this.writer.close(CLOSE_WAIT_MS);
    await within(this.root.close(), CLOSE_WAIT_MS);
  }
}

export class KvTable {
  constructor(
    readonly name: string,
    private readonly db: Database<Buffer, Buffer>,
    private readonly dir: string,
    private readonly freeSpace: FreeSpaceProbe,
    private readonly owner: { closed(): boolean; readOnly: boolean; writer: KvWriter; track(write: Promise<void>): void },
  ) {}

  /**
   * Writes every cell in one LMDB transaction and resolves once it is committed and flushed to disk.
   * Cells are checked before anything is written, so a bad cell fails the batch as a whole.
   *
   * The encoded batch goes to the store's writer thread, which puts the cells in key order (putOrder)
   * and commits them in one synchronous transaction; a read on this thread after the write resolved
   * sees it.
   *
   * Before anything is queued, the filesystem must have SPACE_FLOOR_BYTES plus room for what the
   * commit may add (see SPACE_PER_CELL); otherwise the batch fails with a retriable
   * MON_ERR_STORE_UNAVAILABLE and nothing is written. A commit LMDB reports as failed (an I/O
   * error) fails the same way, as does a write the writer thread took but did not confirm because
   * it ended; a put LMDB refuses fails it with MON_ERR_STORE_REJECTED.
   */
  async write(cells: readonly Cell[]): Promise<void> {
    this.writable();
    if (cells.length === 0) return;
    const w = this.commit(this.encode(cells), cells.length);
    this.owner.track(w);
    await w;
  }

  /**
   * Writes `cells` cells already encoded into `batch` (cell i's key is encodeKey(row, family,
   * qualifier) with a checked family name, then its value), in one transaction like write(). The
   * batch's buffers are handed to the writer thread: `batch` is empty afterwards.
   */
  async writeEncoded(batch: CellBatch, cells: number): Promise<void> {
    this.writable();
    if (cells === 0) return;
    checkBatch(this.name, batch, cells);
    const ends = batch.ends.subarray(0, 2 * cells);
    for (let i = 0, at = 0; i < cells; at = ends[2 * i + 1]!, i++) {
      const keyBytes = ends[2 * i]! - at;
      if (keyBytes > MAX_KEY_BYTES) {
        const row = decodeKey(batch.buf.subarray(at, ends[2 * i]))[0]!;
        throw invalid(`table ${this.name}: the cell key of row ${JSON.stringify(row.subarray(0, 64).toString())}… is ${keyBytes} bytes encoded, over the ${MAX_KEY_BYTES}-byte limit; shorten the row key or qualifier`);
      }
    }
    const w = this.commit(batch, cells);
    this.owner.track(w);
    await w;
  }

  private writable(): void {
    if (this.owner.closed()) throw new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${this.name}: the key-value store ${this.dir} is closed`, { retriable: true });
    if (this.owner.readOnly) throw invalid(`table ${this.name}: the key-value store ${this.dir} is open read-only`);
  }

  private async commit(batch: CellBatch, cells: number): Promise<void> {
    await this.checkSpace(cells, batch.ends[2 * cells - 1]!);
    await this.owner.writer.write(this.name, batch, cells);
  }

  private async checkSpace(cells: number, bytes: number): Promise<void> {
    const need = SPACE_FLOOR_BYTES + SPACE_PER_COMMIT + cells * SPACE_PER_CELL + 2 * bytes;
    let free: number;
    try {
      free = await this.freeSpace(this.dir);
    } catch (e) {
      throw new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${this.name}: cannot read the free space of ${this.dir}: ${errorMessage(e)}`, { retriable: true, cause: e });
    }
    if (free < need) {
      throw new MonsoonError(
        ErrorCodes.STORE_UNAVAILABLE,
        `table ${this.name}: only ${free} bytes free on the filesystem of ${this.dir}, a commit of ${cells} cell(s) needs ${need} (${SPACE_FLOOR_BYTES} kept free); writes are refused until space is freed`,
        { retriable: true },
      );
    }
  }

  /** Checks every cell and encodes keys and values into one buffer. */
  private encode(cells: readonly Cell[]): CellBatch {
    const batch = new CellBatch(cells.length);
    let family: string | undefined;
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i]!;
      if (c.family !== family) {
        checkFamilyName(c.family);
        family = c.family;
      }
      const start = batch.length;
      try {
        batch.keyPart(c.row);
        if (batch.length - start === 2) throw invalid(`table ${this.name}: a cell has an empty row key`);
        batch.keyPart(c.family);
        batch.keyPart(c.qualifier);
        batch.end(i, false);
        batch.raw(c.value);
      } catch (e) {
        if (e instanceof TypeError) throw invalid(`table ${this.name}: ${e.message}`);
        throw e;
      }
      const keyBytes = batch.ends[2 * i]! - start;
      if (keyBytes > MAX_KEY_BYTES) {
        const row = bytes(c.row);
        throw invalid(`table ${this.name}: the cell key of row ${JSON.stringify(row.subarray(0, 64).toString())}… is ${keyBytes} bytes encoded, over the ${MAX_KEY_BYTES}-byte limit; shorten the row key or qualifier`);
      }
      batch.end(i, true);
    }
    return batch;
  }

  /** The cells of one row (none: an empty array), in family then qualifier order. */
  get(row: Buffer | string, opts: GetOptions = {}): RowCell[] {
    const r = bytes(row);
    if (opts.columns?.length) {
      const out: RowCell[] = [];
      for (const col of opts.columns) {
        const i = col.indexOf(':');
        const family = i >= 0 ? col.slice(0, i) : opts.family;
        if (family === undefined) throw invalid(`column ${JSON.stringify(col)} names no family; write family:qualifier or give a family`);
        const qualifier = Buffer.from(i >= 0 ? col.slice(i + 1) : col);
        const value = this.db.get(encodeKey(r, Buffer.from(family), qualifier));
        if (value !== undefined) out.push({ family, qualifier, value });
      }
      return out;
    }
    const start = opts.family === undefined ? encodeKey(r) : encodeKey(r, Buffer.from(opts.family));
    const rows = this.rangeRows(start, prefixEnd(start), 1, undefined);
    return rows[0]?.cells ?? [];
  }

  /** Cells in the table (or in rows starting with `prefix`), counted by LMDB without decoding them. */
  count(prefix?: Buffer | string): number {
    // A table is its own LMDB database: its entry count is kept by LMDB, no walk over the cells.
    if (prefix === undefined) return (this.db.getStats() as { entryCount: number }).entryCount;
    const { start, end } = prefixRange(bytes(prefix));
    return this.db.getKeysCount({ start, end });
  }

  /** Rows in key order over a prefix, a [start, stop) range, or the whole table; `limit` counts rows. */
  scan(opts: ScanOptions = {}): Row[] {
    if (opts.prefix !== undefined && (opts.start !== undefined || opts.stop !== undefined)) throw invalid('a scan takes either a prefix or a start/stop range, not both');
    const limit = opts.limit ?? Infinity;
    if (!(limit >= 0)) throw invalid(`scan limit must be a non-negative number, got ${opts.limit}`);
    let start: Buffer | undefined;
    let end: Buffer | undefined;
    if (opts.prefix !== undefined) ({ start, end } = prefixRange(bytes(opts.prefix)));
    else {
      start = opts.start === undefined ? undefined : escapePart(bytes(opts.start));
      end = opts.stop === undefined ? undefined : escapePart(bytes(opts.stop));
      if (start && end && Buffer.compare(start, end) >= 0) return [];
    }
    return this.rangeRows(start, end, limit, opts.family);
  }

  private rangeRows(start: Buffer | undefined, end: Buffer | undefined, limit: number, family: string | undefined): Row[] {
    const rows: Row[] = [];
    if (limit === 0) return rows;
    let cur: Row | undefined;
    for (const { key, value } of this.db.getRange({ start, end })) {
      const [row, fam, qualifier] = decodeKey(key);
      if (!row || !fam || !qualifier) continue;
      if (!cur || !cur.row.equals(row)) {
        if (cur && cur.cells.length) {
          rows.push(cur);
          if (rows.length >= limit) return rows;
        }
        cur = { row, cells: [] };
      }
      const f = fam.toString();
      if (family === undefined || f === family) cur.cells.push({ family: f, qualifier, value });
    }
    if (cur && cur.cells.length && rows.length < limit) rows.push(cur);
    return rows;
  }
}
