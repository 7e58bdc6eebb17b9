import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Direct I/O (O_DIRECT) appends for the file channel's log. The log is written once, synced, and read
 * back only when a take misses the channel's in-memory window, so its bytes need not pass through the
 * page cache: a buffered write copies every byte into freshly allocated cache pages (on the virtual
 * machines this project runs on, the costliest part of writing the log: measured 1–2 ms of CPU per
 * MB), a direct write hands the device the process's own memory.
 *
 * Direct writes must start and end on block boundaries, from memory aligned to the device's logical
 * block. A Staging buffer keeps the log's last partial block: each append rewrites that block (its
 * committed bytes unchanged, so a torn rewrite cannot damage them) followed by the new bytes, padded
 * with zeros to the next block boundary. A log file therefore ends with up to BLOCK − 1 zero bytes
 * after its last record, which the scan reads as the clean end of the file (see isZeroPaddedEnd).
 */
export const BLOCK = 4096;

/** Bytes of aligned memory a Staging buffer holds: an append larger than this is written in parts. */
const STAGING_BYTES = 8 * 1024 * 1024;

/** O_DIRECT where the platform defines it (Linux), else undefined. */
const O_DIRECT = (constants as { O_DIRECT?: number }).O_DIRECT;

/** Flags to create a log file for direct writes. */
export const DIRECT_CREATE_FLAGS = O_DIRECT === undefined ? undefined : constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | O_DIRECT;

/**
 * Aligned memory for direct appends to one file at a time in any of `dirs`, or why there is none (the
 * log then falls back to buffered writes): a filesystem that does not take direct writes (some
 * network or FUSE filesystems), or a probe that failed.
 *
 * JavaScript cannot see a buffer's address, so the aligned start inside a fresh allocation is found by
 * trying a direct write of one block from each 16-byte step into a probe file in every directory
 * until all of them accept one (filesystems on different devices may need different alignments); an
 * ArrayBuffer's memory never moves, so the start found stays aligned.
 */
export async function directStaging(dirs: readonly string[]): Promise<Staging | string> {
  if (DIRECT_CREATE_FLAGS === undefined) return 'this platform has no O_DIRECT';
  const probes: { path: string; fh: FileHandle }[] = [];
  try {
    for (const d of dirs) {
      const path = join(d, '.direct-io-probe');
      try {
        probes.push({ path, fh: await open(path, DIRECT_CREATE_FLAGS) });
      } catch (e) {
        return `${d} does not take direct I/O (${(e as Error).message})`;
      }
    }
    const raw = Buffer.allocUnsafeSlow(STAGING_BYTES + BLOCK);
    raw.fill(0, 0, 2 * BLOCK);
    next: for (let k = 0; k < BLOCK; k += 16) {
      for (const p of probes) {
        try {
          await p.fh.write(raw, k, BLOCK, 0);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EINVAL') continue next;
          return `probing direct I/O in ${p.path} failed (${(e as Error).message})`;
        }
      }
      return new Staging(raw.subarray(k, k + STAGING_BYTES));
    }
    return `no memory alignment suits direct I/O in ${dirs.join(', ')}`;
  } finally {
    for (const p of probes) {
      await p.fh.close().catch(() => {});
      await rm(p.path, { force: true });
    }
  }
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
      let done = 0;
      while (done < padded) {
        const { bytesWritten } = await fh.write(mem, done, padded - done, this.tailStart + done);
        if (bytesWritten <= 0 || bytesWritten % 512 !== 0) throw new Error(`short direct write: ${bytesWritten} of ${padded - done} bytes`);
        done += bytesWritten;
      }
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
