import type { FileHandle } from 'node:fs/promises';
import { alignedMemory, BLOCK, writeFullyDirect } from '../../../core/direct-io.js';

export { BLOCK, DIRECT_CREATE_FLAGS } from '../../../core/direct-io.js';

/**
 * Direct I/O (O_DIRECT) appends for the file channel's log (see core/direct-io.ts for why). The log
 * is written once, synced, and read back only when a take misses the channel's in-memory window, so
 * its bytes need not pass through the page cache.
 *
 * A Staging buffer keeps the log's last partial block: each append rewrites that block (its
 * committed bytes unchanged, so a torn rewrite cannot damage them) followed by the new bytes, padded
 * with zeros to the next block boundary. A log file therefore ends with up to BLOCK − 1 zero bytes
 * after its last record, which the scan reads as the clean end of the file (see isZeroPaddedEnd).
 */

/** Bytes of aligned memory a Staging buffer holds: an append larger than this is written in parts. */
const STAGING_BYTES = 8 * 1024 * 1024;

/**
 * Aligned memory for direct appends to one file at a time in any of `dirs`, or why there is none (the
 * log then falls back to buffered writes).
 */
export async function directStaging(dirs: readonly string[]): Promise<Staging | string> {
  const mem = await alignedMemory(dirs, STAGING_BYTES);
  return typeof mem === 'string' ? mem : new Staging(mem);
}

export class Staging {
  /** File offset of the block that holds the file's last partial block (a multiple of BLOCK). */
  private tailStart = 0;
  /** Bytes of that block written so far; mem[0, tailLen) holds them. */
  private tailLen = 0;

  constructor(private readonly mem: Buffer) {}

  /** Starts a new, empty file. */
  reset(): void {
    this.tailStart = 0;
    this.tailLen = 0;
  }

  /** The file offset the next append writes at. */
  get end(): number {
    return this.tailStart + this.tailLen;
  }

  /** Writes `bufs` back to back at the end of `fh` (opened with DIRECT_CREATE_FLAGS); `pos` must equal `end`. */
  async append(fh: FileHandle, bufs: readonly Buffer[], pos: number): Promise<void> {
    if (pos !== this.end) throw new Error(`direct append at ${pos}, but the file ends at ${this.end}`);
    const mem = this.mem;
    let bi = 0;
    let bo = 0;
    while (bi < bufs.length) {
      // fill the staging memory after the partial block with as much of the input as fits
      let used = this.tailLen;
      while (bi < bufs.length && used < mem.length) {
        const b = bufs[bi]!;
        const n = Math.min(b.length - bo, mem.length - used);
        mem.set(n === b.length ? b : b.subarray(bo, bo + n), used);
        used += n;
        bo += n;
        if (bo === b.length) {
          bi++;
          bo = 0;
        }
      }
      const padded = Math.ceil(used / BLOCK) * BLOCK;
      mem.fill(0, used, padded);
      await writeFullyDirect(fh, mem, 0, padded, this.tailStart);
      // keep the new partial block at the front for the next append
      const full = used - (used % BLOCK);
      this.tailLen = used - full;
      if (full > 0 && this.tailLen > 0) mem.copyWithin(0, full, used);
      this.tailStart += full;
    }
  }
}

/**
 * Whether the bytes from `pos` to the end of a file of `size` bytes, whose first `have` are in `buf`
 * from `at`, are the zero padding a direct append leaves after the last record: all zero, and ending
 * at the first block boundary after `pos`.
 */
export function isZeroPaddedEnd(buf: Buffer, at: number, have: number, pos: number, size: number): boolean {
  if (size !== Math.ceil(pos / BLOCK) * BLOCK || have < size - pos) return false;
  for (let i = at; i < at + (size - pos); i++) if (buf[i] !== 0) return false;
  return true;
}
