import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { OutputFile, syncParentDir } from './durable-file.js';

/**
 * One open output file of the hdfs sink (Flume's BucketWriter): written as <in-use name>, renamed to
 * its final name once rolled and the batches in it are committed.
 */
export class Bucket {
  /** Encoded events of the current batch, written in one append. */
  pending: Buffer[] = [];
  pendingBytes = 0;
  events = 0;
  /** Length when the current batch started (for undo); -1 when untouched in this batch. */
  before = -1;
  eventsBefore = 0;
  lastWrite: number;

  constructor(
    readonly key: string,
    readonly inUsePath: string,
    readonly finalPath: string,
    readonly file: OutputFile,
    readonly openedAt: number,
    /** Created during the current batch (an undo removes the file). */
    public fresh: boolean,
    /** The number in the file name. */
    readonly counter: number,
  ) {
    this.lastWrite = openedAt;
  }

  /** Bytes in the file once the pending batch is written. */
  size(): number {
    return this.file.length + this.pendingBytes;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const buf = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.file.append(buf);
  }

  /** Closes the file and gives it its final name (only ever for fully committed content). */
  async finish(): Promise<void> {
    await this.file.close();
    if (this.inUsePath !== this.finalPath) {
      await rename(this.inUsePath, this.finalPath);
      await syncParentDir(this.finalPath);
    }
  }

  /** Cuts the file back to its length before the batch, or removes it if the batch created it. */
  async undo(): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    if (this.before >= 0) this.events = this.eventsBefore;
    if (this.fresh) {
      await this.file.close();
      await rm(this.inUsePath, { force: true });
    } else if (this.before >= 0) {
      await this.file.truncate(this.before);
    }
  }
}

/** A file created since the last commit: [in-use path, final path, inode when created]. */
export type JournalEntry = [string, string, string?];

/** [in-use path, committed length, final path] of every file the sink had open at a commit. */
export type OpenFiles = Array<[string, number, string]>;

/**
 * Names, before creating them, the files made since the last commit, so that after a crash the ones
 * no marker mentions can be recognised as holding only uncommitted data.
 */
export class CreationJournal {
  private fh: FileHandle | undefined;
  private dirty = false;
  constructor(readonly path: string) {}

  /** [in-use path, final path, inode] entries (older journals have no inode). */
  async entries(): Promise<JournalEntry[]> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t') as JournalEntry);
  }

  async record(inUse: string, final: string, inode: string): Promise<void> {
    this.fh ??= await open(this.path, 'a');
    await this.fh.write(`${inUse}\t${final}\t${inode}\n`);
    await this.fh.datasync();
    this.dirty = true;
  }

  async clear(): Promise<void> {
    if (!this.dirty) return;
    this.fh ??= await open(this.path, 'a');
    await this.fh.truncate(0);
    await this.fh.datasync();
    this.dirty = false;
  }

  async reset(): Promise<void> {
    this.dirty = true;
    await this.clear();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}

export const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

/**
 * Puts the files of a crashed run in order: files a marker names are cut back to their committed
 * length and closed (renamed, or removed when empty); files created after the last commit are removed
 * when the channel can redeliver their events, and closed otherwise.
 */
export async function recover(files: OpenFiles | undefined, journal: JournalEntry[], redeliverable: boolean): Promise<{ closed: number; removed: number }> {
  let closed = 0;
  let removed = 0;
  const known = new Set<string>();
  for (const [inUse, length, final] of files ?? []) {
    known.add(inUse);
    if (!(await exists(inUse))) continue;
    if (length === 0) {
      await rm(inUse, { force: true });
      removed++;
      continue;
    }
    const f = await OutputFile.open(inUse, length);
    await f.close();
    if (inUse !== final) await rename(inUse, final);
    closed++;
  }
  for (const [inUse, final, ino] of journal) {
    if (known.has(inUse)) continue;
    const st = await stat(inUse, { bigint: true }).catch(() => undefined);
    // Gone, or no longer the file this sink created (another writer's file under that name).
    if (!st || (ino !== undefined && String(st.ino) !== ino)) continue;
    if (redeliverable) {
      await rm(inUse, { force: true });
      removed++;
    } else if (inUse !== final) {
      await rename(inUse, final);
      closed++;
    }
  }
  return { closed, removed };
}
