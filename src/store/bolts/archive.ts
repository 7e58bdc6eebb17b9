import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TopologyConfig, TopologyContext } from '../../compute/api.js';
import { isRowBatch, rowFieldIndex, type RowBatch } from '../../compute/row-batch.js';
import type { Tuple } from '../../compute/tuple.js';
import { Cooler, IdentitySet, type IdentitySetLimits } from '../../collect/dedup.js';
import type { EventIdentity } from '../../core/event.js';
import { writeFileAtomic } from '../../core/fs.js';
import { DelimitedRecordFormat, type FileNameFormat } from '../files/format.js';
import { RollingFileWriter, type RollingPosition, type Row } from '../files/rolling-writer.js';
import { BatchingStoreBolt, type BatchingOptions } from './batching.js';

/**
 * The rolled-file archive bolt (Storm's HdfsBolt on a local or mounted file system): chosen tuple
 * fields as delimited records, DefaultFileNameFormat names, `.tmp` while open, rotation by time (and
 * optionally size), moved to the final name on rotation. Each batch is appended and fdatasynced,
 * then the task's state — the writer's position and the record identities written so far — is
 * replaced atomically, and only then are the tuples acked.
 *
 * Exactly once: after a crash the task reopens at the recorded position (cutting off a batch written
 * but not recorded, whose tuples were never acked and come again), and a replayed record whose
 * identity is already recorded is acked without being written. Identities are (origin, seq) pairs
 * kept as intervals (the collector's dedup set), so a record identity must be a run plus a sequence
 * number; replays must reach the task that wrote the record — run the bolt with one task or group
 * its input by a field that keeps a record on one task.
 *
 * With `rowsField`, a tuple carries a RowBatch in that field instead (a batch-mode topology): each of
 * its rows is one record, `fields` name the batch's fields, and `rowIdentity` gives a row's identity.
 */
export interface ArchiveBoltOptions extends BatchingOptions {
  /** Directory of files being written (`.tmp`), and of finished files unless `moveTo` is set. */
  path: string;
  moveTo?: string;
  /** Where each task keeps its state file (default `<path>/.state`). */
  stateDir?: string;
  /** Tuple fields written, in order. */
  fields: string[];
  fieldDelimiter?: string;
  prefix?: string;
  extension?: string;
  /** Rotate after this many milliseconds (default 10 minutes; 0: never). */
  rotateMs?: number;
  /** Rotate after this many bytes (default 0: never). */
  rotateBytes?: number;
  /** The record's identity, from the tuple; undefined (or no function): not deduplicated. */
  identity?: (t: Tuple) => EventIdentity | undefined;
  /** The tuple field holding a RowBatch of records (batch-mode input). */
  rowsField?: string;
  /** A batch row's identity (batch-mode input); undefined: not deduplicated. */
  rowIdentity?: (rows: RowBatch, row: number) => EventIdentity | undefined;
  /** Bounds of the identity set (defaults: 24 h, 10,000 runs, 100,000 intervals per run). */
  dedup?: Partial<IdentitySetLimits>;
  /** The clock of identity retention and cooling (Date.now unless replaced, e.g. in tests). */
  now?: () => number;
}

interface ArchiveState {
  pos: RollingPosition;
  ids: string;
}

type Item = { row: Row; id: EventIdentity | undefined } | RowBatch;

export class ArchiveBolt extends BatchingStoreBolt<Item> {
  private writer!: RollingFileWriter;
  private format!: DelimitedRecordFormat;
  private ids!: IdentitySet;
  private statePath = '';
  private readonly cooler = new Cooler();
  private limits!: IdentitySetLimits;
  /** Replayed records dropped because they were already archived. */
  duplicates = 0;

  constructor(private readonly o: ArchiveBoltOptions) {
    super(o);
  }

  protected async open(_conf: TopologyConfig, ctx: TopologyContext): Promise<void> {
    const component = ctx.getThisComponentId();
    const task = ctx.getThisTaskIndex();
    const stateDir = this.o.stateDir ?? join(this.o.path, '.state');
    await mkdir(stateDir, { recursive: true });
    this.statePath = join(stateDir, `${component}-${task}.json`);
    this.limits = { retentionMs: 24 * 3600_000, maxOrigins: 10_000, maxIntervals: 100_000, ...this.o.dedup };
    let state: ArchiveState | undefined;
    try {
      state = JSON.parse(await readFile(this.statePath, 'utf8')) as ArchiveState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${this.statePath}: unreadable archive state: ${(e as Error).message}`);
    }
    // the state holds the hot identities; origins idle for a while are in <state>.cold (see Cooler)
    let cold: string | undefined;
    try {
      cold = await readFile(this.coldPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${this.coldPath}: unreadable archive state: ${(e as Error).message}`);
    }
    // cold first: a set's order is least recently seen first, which pruning relies on
    const sets = [...(cold === undefined ? [] : [IdentitySet.parse(cold, this.limits)]), ...(state ? [IdentitySet.parse(state.ids, this.limits)] : [])];
    this.ids = IdentitySet.union(sets, this.limits);
    const name: FileNameFormat = { prefix: this.o.prefix ?? '', extension: this.o.extension ?? '.txt', componentId: component, taskId: task };
    this.writer = new RollingFileWriter({
      path: this.o.path,
      moveTo: this.o.moveTo,
      name,
      format: (this.format = new DelimitedRecordFormat(this.o.fields, this.o.fieldDelimiter ?? ',')),
      inUseSuffix: '.tmp',
      rotateBytes: this.o.rotateBytes ?? 0,
      rotateMs: this.o.rotateMs ?? 600_000,
      checkpoint: (pos) => this.save(pos, this.ids.serializeHot()),
    });
    await this.writer.open(state?.pos);
  }

  private get coldPath(): string {
    return `${this.statePath}.cold`;
  }

  private save(pos: RollingPosition, hotIds: string): Promise<void> {
    return writeFileAtomic(this.statePath, JSON.stringify({ pos, ids: hotIds } satisfies ArchiveState));
  }

  protected item(t: Tuple): Item {
    if (this.o.rowsField !== undefined) {
      const b = t.getValueByField(this.o.rowsField);
      if (!isRowBatch(b)) throw new Error(`archive bolt: field ${this.o.rowsField} holds no row batch`);
      for (const f of this.o.fields) rowFieldIndex(b, f, `archive bolt: the row batch in field ${this.o.rowsField}`);
      return b;
    }
    const row: Record<string, unknown> = {};
    for (const f of this.o.fields) row[f] = t.getValueByField(f);
    return { row: row as Row, id: this.o.identity?.(t) };
  }

  protected override size(item: Item): number {
    return isRowBatch(item) ? item.count : 1;
  }

  protected async write(items: Item[]): Promise<void> {
    const batches = this.o.rowsField !== undefined ? (items as RowBatch[]) : undefined;
    const ids: (EventIdentity | undefined)[] = [];
    if (batches) {
      const of = this.o.rowIdentity;
      for (const b of batches) pushIds(ids, b, of);
    } else for (const i of items as Exclude<Item, RowBatch>[]) ids.push(i.id);
    const now = this.o.now?.() ?? Date.now();
    const admission = this.ids.admitIds(ids, now);
    // with duplicates: which records to write (the first of each identity not archived before)
    const keep = admission.fresh;
    this.duplicates += admission.duplicates;
    let wrote = false;
    if (batches) {
      const records = this.format.formatBatches(batches, keep);
      wrote = records.length > 0;
      await this.writer.writeFormatted(records);
    } else {
      const rows = (items as Exclude<Item, RowBatch>[]).filter((_, k) => keep === undefined || keep[k] === 1).map((i) => i.row);
      wrote = rows.length > 0;
      await this.writer.write(rows);
    }
    const split = this.cooler.split(admission.next, now);
    try {
      // cold first: until the state is replaced, the old state still holds what moved
      if (split.cold !== undefined) await writeFileAtomic(this.coldPath, split.cold);
      await this.save(this.writer.position(), split.hot);
    } catch (e) {
      if (wrote) await this.writer.undo();
      throw e;
    }
    this.ids = split.set;
  }

  protected override onTick(): Promise<void> {
    return this.writer.rotateIfDue();
  }

  protected async closeStore(): Promise<void> {
    await this.writer.close();
    await this.save(this.writer.position(), this.ids.serializeHot());
  }
}

/** The identities of `b`'s rows, appended to `ids` (a function of its own: see encodeCells in kv.ts). */
function pushIds(ids: (EventIdentity | undefined)[], b: RowBatch, of: ((b: RowBatch, r: number) => EventIdentity | undefined) | undefined): void {
  for (let r = 0; r < b.count; r++) ids.push(of?.(b, r));
}
