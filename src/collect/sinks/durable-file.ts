import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { alignedMemory, BLOCK, DIRECT_WRITE_FLAGS, writeFullyDirect } from '../../core/direct-io.js';

/**
 * Aligned memory that one writer (a sink, a bolt's rolling writer) lends to its output files for
 * direct appends, one append at a time (see core/direct-io.ts for why direct writes).
 */
export class DirectMemory {
  /** Set while an append uses the memory: two files must not append through it at once. */
  busy = false;

  private constructor(readonly mem: Buffer) {}

  /** Memory for direct appends to files in `dir`, or why its filesystem takes none. */
  static async for(dir: string, bytes = DIRECT_MEMORY_BYTES): Promise<DirectMemory | string> {
    const mem = await alignedMemory([dir], bytes);
    return typeof mem === 'string' ? mem : new DirectMemory(mem);
  }
}

/** What one writer's direct appends stage through: batches larger than this are written in parts. */
const DIRECT_MEMORY_BYTES = 8 * 1024 * 1024;

interface DirectState {
  fh: FileHandle;
  memory: DirectMemory;
  /** The bytes of the file's last partial block (the first `length % BLOCK`). */
  tail: Buffer;
}

/**
 * An append-only output file whose length the sink tracks itself, so that a batch written but not
 * committed can be cut off again (after a failed commit, or on start after a crash).
 *
 * Given DirectMemory, whole blocks are written with direct I/O from that memory and only the last
 * partial block of each append goes through the page cache (a second, buffered handle), so the file
 * never holds more than what was appended: a reader sees no padding, and its size is always the
 * data's. The next append rewrites that partial block directly, with the same bytes at its front.
 */
export class OutputFile {
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
    const fh = await open(path, 'a+');
    try {
      let length = (await fh.stat()).size;
      if (truncateTo !== undefined && truncateTo < length) {
        await fh.truncate(truncateTo);
        await fh.datasync();
        length = truncateTo;
      }
      const f = new OutputFile(path, fh, length, await openDirect(path, memory));
      await f.loadTail();
      return f;
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
    const fh = await open(path, 'ax+');
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
   * them again: a view of the direct memory right after the file's last partial block, or undefined
   * (no direct memory, or too small for `n`). Valid until the next append through the same memory.
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
    if (!d) await appendAll(this.fh, buf);
    else {
      if (d.memory.busy) throw new Error(`${this.path}: another file is appending through the same direct memory`);
      d.memory.busy = true;
      try {
        await this.appendDirect(d, buf);
      } finally {
        d.memory.busy = false;
      }
    }
    await this.fh.datasync();
    this.length += buf.length;
  }

  /** Whole blocks through the direct handle, the last partial block through the buffered one. */
  private async appendDirect(d: DirectState, buf: Buffer): Promise<void> {
    const mem = d.memory.mem;
    let tailLen = this.length % BLOCK;
    if (tailLen + buf.length < BLOCK) {
      // the append stays inside the last partial block
      await appendAll(this.fh, buf);
      buf.copy(d.tail, tailLen);
      return;
    }
    let pos = this.length - tailLen; // the file offset of mem[0]
    d.tail.copy(mem, 0, 0, tailLen);
    // serialized in place by reserve(): the bytes are already behind the tail
    const inPlace = buf.buffer === mem.buffer && buf.byteOffset === mem.byteOffset + tailLen;
    let taken = inPlace ? buf.length : 0;
    let used = tailLen + taken;
    for (;;) {
      if (!inPlace) {
        const n = Math.min(buf.length - taken, mem.length - used);
        buf.copy(mem, used, taken, taken + n);
        taken += n;
        used += n;
      }
      const full = used - (used % BLOCK);
      if (full > 0) await writeFullyDirect(d.fh, mem, 0, full, pos);
      tailLen = used - full;
      if (full > 0 && tailLen > 0) mem.copyWithin(0, full, used);
      pos += full;
      used = tailLen;
      if (taken === buf.length) break;
    }
    if (tailLen > 0) await appendAll(this.fh, mem.subarray(0, tailLen));
    mem.copy(d.tail, 0, 0, tailLen);
  }

  async truncate(length: number): Promise<void> {
    await this.fh.truncate(length);
    await this.fh.datasync();
    this.length = length;
    await this.loadTail();
  }

  /** Reads the file's last partial block into the direct state (after an open or a truncate). */
  private async loadTail(): Promise<void> {
    const d = this.direct;
    const n = this.length % BLOCK;
    if (!d || n === 0) return;
    let done = 0;
    while (done < n) {
      const { bytesRead } = await this.fh.read(d.tail, done, n - done, this.length - n + done);
      if (bytesRead === 0) throw new Error(`${this.path}: ends before its length ${this.length}`);
      done += bytesRead;
    }
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
    return { fh: await open(path, DIRECT_WRITE_FLAGS), memory, tail: Buffer.alloc(BLOCK) };
  } catch (e) {
    // the directory took a probe, but this file does not: write it through the page cache
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw e;
  }
}

/** Appends all of `buf` at the end of a file opened for appending. */
async function appendAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
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
