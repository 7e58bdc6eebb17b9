import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { alignedMemory, BLOCK, DIRECT_WRITE_FLAGS, writeFullyDirect, writeSplitDirect } from '../../core/direct-io.js';
import { writevAll } from '../../core/fs.js';

/**
 * Aligned memory that one writer (a sink, a bolt's rolling writer) lends to its output files for
 * direct appends, one append at a time (see core/direct-io.ts for why direct writes).
 */
export class DirectMemory {
  /** Set while an append uses the memory: two files must not append through it at once. */
  busy = false;

  private constructor(readonly mem: Buffer) {}

  /**
   * Memory for direct appends to files in `dir`, or why its filesystem takes none. `bytes` (at least
   * two blocks; rounded down to whole blocks) bounds one direct write: larger appends go in parts.
   */
  static async for(dir: string, bytes = DIRECT_MEMORY_BYTES): Promise<DirectMemory | string> {
    if (bytes < 2 * BLOCK) throw new RangeError(`direct memory must hold at least ${2 * BLOCK} bytes, not ${bytes}`);
    const mem = await alignedMemory([dir], bytes - (bytes % BLOCK));
    return typeof mem === 'string' ? mem : new DirectMemory(mem);
  }
}

/** What one writer's direct appends stage through: batches larger than this are written in parts. */
const DIRECT_MEMORY_BYTES = 8 * 1024 * 1024;

interface DirectState {
  fh: FileHandle;
  memory: DirectMemory;
}

/**
 * An append-only output file whose length the sink tracks itself, so that a batch written but not
 * committed can be cut off again (after a failed commit, or on start after a crash).
 *
 * Given DirectMemory, an append's whole blocks are written with direct I/O from that memory, through
 * a second handle; the bytes before its first block boundary (completing the block the previous
 * append left partial) and after its last one go through the page cache. No block is ever written
 * both ways: a direct write over a block the page cache holds lets a concurrent reader load it from
 * disk mid-write, zero-filled past the old end. So the file never shows a reader padding or zeros,
 * and its size is always the data's.
 */
export class OutputFile {
  /** Set while an append runs and after one failed: the file may hold bytes past `length`. */
  private dirty = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    public length: number,
    private readonly direct: DirectState | undefined,
  ) {}

  /**
   * Opens (creating if needed) for appending; `truncateTo` first cuts the file to a committed length.
   * With `memory`, appends are direct where the file takes them.
   */
  static async open(path: string, truncateTo?: number, memory?: DirectMemory): Promise<OutputFile> {
    const fh = await open(path, 'a');
    try {
      let length = (await fh.stat()).size;
      if (truncateTo !== undefined && truncateTo < length) {
        await fh.truncate(truncateTo);
        await fh.datasync();
        length = truncateTo;
      }
      return new OutputFile(path, fh, length, await openDirect(path, memory));
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /**
   * Creates `path` for appending, failing with EEXIST when it already exists, so two writers that
   * picked the same name can never both write into it. With `memory`, appends are direct where the
   * file takes them.
   */
  static async create(path: string, memory?: DirectMemory): Promise<OutputFile> {
    const fh = await open(path, 'ax');
    try {
      return new OutputFile(path, fh, 0, await openDirect(path, memory));
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Whether appends write whole blocks with direct I/O. */
  get isDirect(): boolean {
    return this.direct !== undefined;
  }

  /** The inode of the open file, as text (tells a file this writer created from one put there since). */
  async inode(): Promise<string> {
    return String((await this.fh.stat({ bigint: true })).ino);
  }

  /**
   * Where the next append's `n` bytes can be serialized so that append() writes them without copying
   * them again: a view of the direct memory placed so that the append's first block boundary falls
   * on a block of the memory, or undefined (no direct memory, or too small for `n`). Valid until the
   * next append through the same memory.
   */
  reserve(n: number): Buffer | undefined {
    const d = this.direct;
    if (!d || d.memory.busy) return undefined;
    const at = this.length % BLOCK;
    return at + n <= d.memory.mem.length ? d.memory.mem.subarray(at, at + n) : undefined;
  }

  /** Appends `buf` in full and makes it durable before returning. */
  async append(buf: Buffer): Promise<void> {
    const d = this.direct;
    if (d?.memory.busy) throw new Error(`${this.path}: another file is appending through the same direct memory`);
    if (d) d.memory.busy = true;
    try {
      // a failed append may have left part of itself behind: cut it off before writing after it
      if (this.dirty) await this.fh.truncate(this.length);
      this.dirty = true;
      if (d) await this.appendDirect(d, buf);
      else await writevAll(this.fh, [buf], this.length);
      await this.fh.datasync();
    } finally {
      if (d) d.memory.busy = false;
    }
    this.length += buf.length;
    this.dirty = false;
  }

  /** Head and tail through the page cache, whole blocks between them direct (see the class comment). */
  private async appendDirect(d: DirectState, buf: Buffer): Promise<void> {
    const mem = d.memory.mem;
    const at = this.length % BLOCK;
    if (buf.buffer !== mem.buffer || buf.byteOffset !== mem.byteOffset + at) {
      await writeSplitDirect(this.fh, d.fh, mem, [buf], this.length);
      return;
    }
    // serialized in place by reserve(): the bytes after the head already start a block of the memory
    const head = at === 0 ? 0 : Math.min(BLOCK - at, buf.length);
    if (head > 0) await writevAll(this.fh, [buf.subarray(0, head)], this.length);
    const whole = buf.length - head - ((buf.length - head) % BLOCK);
    if (whole > 0) await writeFullyDirect(d.fh, mem, at === 0 ? 0 : BLOCK, whole, this.length + head);
    if (head + whole < buf.length) await writevAll(this.fh, [buf.subarray(head + whole)], this.length + head + whole);
  }

  async truncate(length: number): Promise<void> {
    await this.fh.truncate(length);
    await this.fh.datasync();
    this.length = length;
    this.dirty = false;
  }

  async close(): Promise<void> {
    try {
      await this.direct?.fh.close();
    } finally {
      await this.fh.close();
    }
  }
}

/** A direct-write handle on `path` when `memory` is given and the file takes one. */
async function openDirect(path: string, memory: DirectMemory | undefined): Promise<DirectState | undefined> {
  if (!memory || DIRECT_WRITE_FLAGS === undefined) return undefined;
  try {
    return { fh: await open(path, DIRECT_WRITE_FLAGS), memory };
  } catch (e) {
    // the directory took a probe, but this file does not: write it through the page cache
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw e;
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
