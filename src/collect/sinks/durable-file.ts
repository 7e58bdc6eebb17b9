import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * An append-only output file whose length the sink tracks itself, so that a batch written but not
 * committed can be cut off again (after a failed commit, or on start after a crash).
 */
export class OutputFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    public length: number,
  ) {}

  /** Opens (creating if needed) for appending; `truncateTo` first cuts the file to a committed length. */
  static async open(path: string, truncateTo?: number): Promise<OutputFile> {
    const fh = await open(path, 'a');
    try {
      let length = (await fh.stat()).size;
      if (truncateTo !== undefined && truncateTo < length) {
        await fh.truncate(truncateTo);
        await fh.datasync();
        length = truncateTo;
      }
      return new OutputFile(path, fh, length);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /**
   * Creates `path` for appending, failing with EEXIST when it already exists, so two writers that
   * picked the same name can never both write into it.
   */
  static async create(path: string): Promise<OutputFile> {
    const fh = await open(path, 'ax');
    return new OutputFile(path, fh, 0);
  }

  /** The inode of the open file, as text (tells a file this writer created from one put there since). */
  async inode(): Promise<string> {
    return String((await this.fh.stat({ bigint: true })).ino);
  }

  /** Appends `buf` in full and makes it durable before returning. */
  async append(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    await this.fh.datasync();
    this.length += buf.length;
  }

  async truncate(length: number): Promise<void> {
    await this.fh.truncate(length);
    await this.fh.datasync();
    this.length = length;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Makes a created, renamed or removed entry of the directory holding `path` durable. */
export async function syncParentDir(path: string): Promise<void> {
  const fh = await open(dirname(path), 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the entry is still written.
  } finally {
    await fh.close();
  }
}
