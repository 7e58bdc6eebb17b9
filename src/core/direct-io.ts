import { constants } from 'node:fs';
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { processAlive, writevAll } from './fs.js';

/**
 * Direct I/O (O_DIRECT) for files written once and read rarely, or read back from memory: the file
 * channel's log, rolled output files, the embedded log's segments (its readers that keep up decode the
 * batches it keeps in memory). A buffered write copies every byte into freshly allocated page-cache pages, which on the
 * virtual machines Monsoon runs on is the costliest part of writing (measured 0.7–3 ms of CPU per MB,
 * against ~0.35 for a direct write, which hands the device the process's own memory).
 *
 * A direct write must start and end on block boundaries, from memory aligned to the device's logical
 * block. BLOCK (4 KiB) is a multiple of every logical block size in use, so offsets and lengths that
 * are multiples of it suit any device; the memory's alignment is found by probing (alignedMemory).
 */
export const BLOCK = 4096;

/** O_DIRECT where the platform defines it (Linux), else undefined. */
export const O_DIRECT = (constants as { O_DIRECT?: number }).O_DIRECT;

/** Flags to create (truncating) a file for direct reads and writes. */
export const DIRECT_CREATE_FLAGS = O_DIRECT === undefined ? undefined : constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | O_DIRECT;

/** Flags to open an existing file for direct writes. */
export const DIRECT_WRITE_FLAGS = O_DIRECT === undefined ? undefined : constants.O_WRONLY | O_DIRECT;

let probesMade = 0;

/**
 * Linux's O_TMPFILE (an unnamed file in a directory, gone when closed): __O_TMPFILE is 0o20000000 on
 * the architectures Node runs on, combined with that platform's O_DIRECTORY. Node does not export it.
 */
const O_TMPFILE = process.platform === 'linux' ? 0o20000000 | constants.O_DIRECTORY : undefined;

/**
 * A handle for a direct-I/O probe in `dir`: an unnamed file where the filesystem supports O_TMPFILE
 * (ext4, xfs, btrfs, tmpfs), so nothing ever appears in the directory — which may be an output
 * directory that other programs watch — else a named file, removed after the probe.
 */
async function openProbe(dir: string): Promise<{ path?: string; fh: FileHandle }> {
  await removeStaleProbes(dir);
  if (O_TMPFILE !== undefined && O_DIRECT !== undefined) {
    try {
      return { fh: await open(dir, O_TMPFILE | constants.O_RDWR | O_DIRECT, 0o600) };
    } catch {
      // not supported here: fall back to a named probe, whose open reports a real problem
    }
  }
  const path = join(dir, `${PROBE_PREFIX}${process.pid}-${threadId}-${++probesMade}`);
  return { path, fh: await open(path, DIRECT_CREATE_FLAGS) };
}

/**
 * `bytes` of memory aligned for direct writes to files in every one of `dirs`, or why there is none
 * (the caller then writes through the page cache): a platform without O_DIRECT, a filesystem that does
 * not take direct writes (tmpfs before Linux 6.6, some network or FUSE filesystems), or a probe that failed.
 *
 * JavaScript cannot see a buffer's address, so the aligned start inside a fresh allocation is found by
 * trying a direct write of one block from each 16-byte step into a probe file (see openProbe) in every directory
 * until all of them accept one (filesystems on different devices may need different alignments); an
 * ArrayBuffer's memory never moves, so the start found stays aligned.
 */
export async function alignedMemory(dirs: readonly string[], bytes: number): Promise<Buffer | string> {
  if (DIRECT_CREATE_FLAGS === undefined) return 'this platform has no O_DIRECT';
  const probes: { path?: string; fh: FileHandle }[] = [];
  try {
    for (const d of dirs) {
      try {
        probes.push(await openProbe(d));
      } catch (e) {
        return `${d} does not take direct I/O (${(e as Error).message})`;
      }
    }
    const raw = Buffer.allocUnsafeSlow(bytes + BLOCK);
    raw.fill(0, 0, 2 * BLOCK);
    next: for (let k = 0; k < BLOCK; k += 16) {
      for (const p of probes) {
        try {
          await p.fh.write(raw, k, BLOCK, 0);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EINVAL') continue next;
          return `probing direct I/O in ${p.path ?? dirs[probes.indexOf(p)]} failed (${(e as Error).message})`;
        }
      }
      return raw.subarray(k, k + bytes);
    }
    return `no memory alignment suits direct I/O in ${dirs.join(', ')}`;
  } finally {
    for (const p of probes) {
      await p.fh.close().catch(() => {});
      if (p.path !== undefined) await rm(p.path, { force: true });
    }
  }
}

/** Probe files are named `<PROBE_PREFIX><pid>-<thread>-<n>`. */
const PROBE_PREFIX = '.direct-io-probe-';

/** Removes named probe files a process killed while probing left behind in `dir`. */
async function removeStaleProbes(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // the probe's own open names the problem
  }
  for (const n of names) {
    if (!n.startsWith(PROBE_PREFIX)) continue;
    const pid = Number(n.slice(PROBE_PREFIX.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) await rm(join(dir, n), { force: true });
  }
}

/**
 * Writes `len` bytes of `buf` from `off` at file offset `pos` through a direct-I/O handle, all of them
 * (a device may take a long write in parts, always in whole sectors).
 */
export async function writeFullyDirect(fh: FileHandle, buf: Buffer, off: number, len: number, pos: number): Promise<void> {
  let done = 0;
  while (done < len) {
    const { bytesWritten } = await fh.write(buf, off + done, len - done, pos + done);
    if (bytesWritten <= 0 || bytesWritten % 512 !== 0) throw new Error(`short direct write: ${bytesWritten} of ${len - done} bytes`);
    done += bytesWritten;
  }
}

/**
 * Writes `bufs` back to back at `pos` of a file open twice, `buffered` through the page cache and
 * `direct` with O_DIRECT: the bytes before the first block boundary at or after `pos`, and those after
 * the last one, through the page cache; the whole blocks between them direct, copied through `mem`
 * (aligned, a whole number of blocks). A file appended to only this way never has a block written both
 * ways — a direct write over a block the page cache holds would let a concurrent reader load it from
 * disk mid-write — and never holds padding: its size is always its data's. Returns the bytes written
 * direct.
 */
export async function writeSplitDirect(buffered: FileHandle, direct: FileHandle, mem: Buffer, bufs: readonly Buffer[], pos: number): Promise<number> {
  if (mem.length < BLOCK || mem.length % BLOCK !== 0) throw new RangeError(`direct memory must be whole blocks, not ${mem.length} bytes`);
  let total = 0;
  for (const b of bufs) total += b.length;
  let bi = 0;
  let bo = 0;
  /** The next `n` bytes of the input as views. */
  const views = (n: number): Buffer[] => {
    const out: Buffer[] = [];
    while (n > 0) {
      const b = bufs[bi]!;
      const k = Math.min(n, b.length - bo);
      if (k > 0) out.push(b.subarray(bo, bo + k));
      n -= k;
      bo += k;
      if (bo === b.length) {
        bi++;
        bo = 0;
      }
    }
    return out;
  };
  const head = Math.min(total, (BLOCK - (pos % BLOCK)) % BLOCK);
  if (head > 0) await writevAll(buffered, views(head), pos);
  let at = pos + head;
  let left = total - head;
  while (left >= BLOCK) {
    const n = Math.min(mem.length, left - (left % BLOCK));
    let o = 0;
    for (const v of views(n)) o += v.copy(mem, o);
    await writeFullyDirect(direct, mem, 0, n, at);
    at += n;
    left -= n;
  }
  if (left > 0) await writevAll(buffered, views(left), at);
  return total - head - left;
}

/**
 * Aligned memory in equal slots, each lent to one direct write at a time, so that the files of one
 * owner (the partitions of an embedded log) share a bounded amount of it.
 */
export class DirectSlots {
  private readonly free: Buffer[] = [];

  private constructor(mem: Buffer, slotBytes: number) {
    for (let o = 0; o + slotBytes <= mem.length; o += slotBytes) this.free.push(mem.subarray(o, o + slotBytes));
  }

  /** `count` slots of `slotBytes` (whole blocks) for files in `dir`, or why its filesystem takes no direct I/O. */
  static async for(dir: string, count: number, slotBytes: number): Promise<DirectSlots | string> {
    if (slotBytes < BLOCK || slotBytes % BLOCK !== 0 || !(count >= 1)) throw new RangeError(`direct slots must be whole blocks: ${count} × ${slotBytes} bytes`);
    const mem = await alignedMemory([dir], count * slotBytes);
    return typeof mem === 'string' ? mem : new DirectSlots(mem, slotBytes);
  }

  /** A free slot, or undefined while all are lent (the writer then goes through the page cache). */
  take(): Buffer | undefined {
    return this.free.pop();
  }

  give(slot: Buffer): void {
    this.free.push(slot);
  }
}
