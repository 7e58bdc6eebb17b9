import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DirectMemory, OutputFile, syncParentDir } from '../../collect/sinks/durable-file.js';
import type { FieldValue, StoreWriter } from '../writer.js';
import { checkLocalUrl, fileName, type DelimitedRecordFormat, type FileNameFormat } from './format.js';

/**
 * Rolled files with Storm HdfsBolt's semantics on a local (or mounted) file system: records go to
 * `<path>/<name><inUseSuffix>` (name from FileNameFormat, `.tmp` by default); when the file reaches
 * the size rotation or the time rotation it is closed and moved to `<moveTo or path>/<name>`
 * (MoveFileAction), and the next batch opens rotation + 1. Rotation is checked between batches, so a
 * file may pass the size limit by up to one batch.
 *
 * Every batch is appended and fdatasynced (OutputFile, shared with the agent's file sinks) before
 * write() resolves. Exactly once across crashes needs the caller to keep `position()` with its own
 * acknowledgement (a channel marker, a bolt's checkpointed state) and pass it back to `open()`:
 *  - the file written last is cut back to the recorded length (a batch written but never
 *    acknowledged is redelivered, not kept twice);
 *  - before a file is created the writer hands the caller a position naming it (`checkpoint`), so a
 *    file created after the last acknowledgement — holding nothing acknowledged — is removed on open.
 * Without a checkpoint callback and a position, delivery is at least once.
 */
export interface RollingPosition {
  /** In-use path of the file written last ('' before the first file). */
  file: string;
  /** Final path it is moved to on rotation. */
  final: string;
  /** Its length after the last acknowledged batch. */
  length: number;
  rotation: number;
  /** In-use path of a file about to be created (it can hold only unacknowledged data). */
  next: string;
}

export interface RollingFileOptions {
  /** Directory (or file:// URL) of files being written. hdfs:// and webhdfs:// are refused. */
  path: string;
  /** Directory finished files move to (default: `path`). */
  moveTo?: string;
  name: FileNameFormat;
  format: DelimitedRecordFormat;
  inUseSuffix: string;
  /** Rotate once a file holds this many bytes (0: never). */
  rotateBytes: number;
  /** Rotate once a file is this old in milliseconds (0: never). */
  rotateMs: number;
  /** Persists a position before a new file is created (see the class comment). */
  checkpoint?: (p: RollingPosition) => Promise<void>;
  now?: () => number;
  /**
   * Write whole blocks with direct I/O, bypassing the page cache (see core/direct-io.ts), where the
   * in-use directory's filesystem takes it (default true).
   */
  directIo?: boolean;
  /** Told why files are written through the page cache when direct I/O was asked for but is unavailable. */
  onPageCache?: (reason: string) => void;
}

export type Row = Readonly<Record<string, FieldValue>>;

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

export class RollingFileWriter implements StoreWriter<Row> {
  private readonly dir: string;
  private readonly finalDir: string;
  private readonly now: () => number;
  private cur: { file: OutputFile; final: string; openedAt: number } | undefined;
  private rotation = 0;
  private committed: RollingPosition = { file: '', final: '', length: 0, rotation: -1, next: '' };
  private before = 0;
  /** Aligned memory for direct appends (see RollingFileOptions.directIo). */
  private memory: DirectMemory | undefined;

  constructor(private readonly o: RollingFileOptions) {
    this.dir = resolve(checkLocalUrl(o.path));
    this.finalDir = o.moveTo === undefined ? this.dir : resolve(checkLocalUrl(o.moveTo));
    this.now = o.now ?? Date.now;
  }

  /** Recovers from `resume` (the last position the caller acknowledged), then accepts writes. */
  async open(resume?: RollingPosition): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await mkdir(this.finalDir, { recursive: true });
    if ((this.o.directIo ?? true) && !this.memory) {
      const m = await DirectMemory.for(this.dir);
      if (typeof m === 'string') this.o.onPageCache?.(m);
      else this.memory = m;
    }
    if (!resume) return;
    this.committed = resume;
    this.rotation = resume.rotation + 1;
    if (resume.next && resume.next !== resume.file && (await exists(resume.next))) {
      await rm(resume.next, { force: true });
      await syncParentDir(resume.next);
    }
    if (resume.file && (await exists(resume.file))) {
      const file = await OutputFile.open(resume.file, resume.length, this.memory);
      this.cur = { file, final: resume.final, openedAt: this.now() };
      this.rotation = resume.rotation;
    }
  }

  /** Whether files are written with direct I/O (after open(); see RollingFileOptions.directIo). */
  get directIo(): boolean {
    return this.memory !== undefined;
  }

  /** What the caller keeps with its acknowledgement of the last write. */
  position(): RollingPosition {
    return this.committed;
  }

  /** Closes and moves the current file when its time is up (also checked at each write). */
  async rotateIfDue(): Promise<void> {
    if (this.cur && this.o.rotateMs > 0 && this.now() - this.cur.openedAt >= this.o.rotateMs) await this.rotate();
  }

  async write(rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return;
    await this.append(() => this.o.format.format(rows));
  }

  /** write() of records already in the file's format (bytes ending with a record delimiter); nothing for none. */
  async writeFormatted(records: Buffer): Promise<void> {
    if (records.length === 0) return;
    await this.append(() => records);
  }

  private async append(records: () => Buffer): Promise<void> {
    await this.rotateIfDue();
    if (this.cur && this.o.rotateBytes > 0 && this.cur.file.length >= this.o.rotateBytes) await this.rotate();
    const cur = this.cur ?? (await this.create());
    this.before = cur.file.length;
    try {
      await cur.file.append(records());
    } catch (err) {
      // Cut off a partial write so a retried batch is not preceded by a fragment of itself.
      await cur.file.truncate(this.before).catch(() => {});
      throw err;
    }
    this.committed = { file: cur.file.path, final: cur.final, length: cur.file.length, rotation: this.rotation, next: '' };
  }

  /** Removes the last batch again: the caller could not record its acknowledgement. */
  async undo(): Promise<void> {
    if (!this.cur) return;
    await this.cur.file.truncate(this.before);
    this.committed = { ...this.committed, length: this.before };
  }

  private async create(): Promise<NonNullable<RollingFileWriter['cur']>> {
    for (;;) {
      const name = fileName(this.o.name, this.rotation, this.now());
      const inUse = join(this.dir, name + this.o.inUseSuffix);
      const final = join(this.finalDir, name);
      if (await exists(final)) {
        this.rotation++;
        continue;
      }
      await this.o.checkpoint?.({ ...this.committed, next: inUse });
      let file: OutputFile;
      try {
        file = await OutputFile.create(inUse, this.memory);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          this.rotation++;
          continue;
        }
        throw err;
      }
      await syncParentDir(inUse);
      this.cur = { file, final, openedAt: this.now() };
      return this.cur;
    }
  }

  /** Closes the current file and moves it to its final name (Storm's MoveFileAction). */
  private async rotate(): Promise<void> {
    const cur = this.cur;
    if (!cur) return;
    this.cur = undefined;
    await cur.file.close();
    if (cur.file.path !== cur.final) {
      await rename(cur.file.path, cur.final);
      await syncParentDir(cur.final);
      if (this.finalDir !== this.dir) await syncParentDir(cur.file.path);
    }
    this.rotation++;
  }

  /** Closes the current file and moves it to its final name. */
  async close(): Promise<void> {
    await this.rotate();
  }
}
