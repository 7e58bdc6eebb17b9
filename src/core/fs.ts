import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { MonsoonError } from './errors.js';

/** File-system steps that crash-safe storage (the file channel, the embedded log) shares. */

/** Makes a create, rename or delete in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the change is then as durable as they allow
  } finally {
    await fh.close();
  }
}

/** Replaces `path` with `data` so that a crash leaves either the old or the new content, never a mix. */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** IOV_MAX is 1024 on Linux; a writev call passes at most this many buffers. */
const WRITEV_MAX = 512;

/** Writes `bufs` back to back at `pos` without joining them first, all of them (short writes continued). */
export async function writevAll(fh: FileHandle, bufs: readonly Buffer[], pos: number): Promise<void> {
  let left = bufs.filter((b) => b.length > 0);
  while (left.length > 0) {
    const { bytesWritten } = await fh.writev(left.length > WRITEV_MAX ? left.slice(0, WRITEV_MAX) : left, pos);
    if (bytesWritten <= 0) throw new Error(`writev wrote nothing at byte ${pos}`);
    pos += bytesWritten;
    let n = bytesWritten;
    let i = 0;
    while (i < left.length && n >= left[i]!.length) n -= left[i++]!.length;
    left = left.slice(i);
    if (n > 0) left[0] = left[0]!.subarray(n);
  }
}

const held = new Set<string>();

/** Whether process `pid` exists (one owned by another user counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One owner at a time per directory: `dir/file` holds the owner's pid. A lock left by a process that
 * no longer exists is taken over; one held by a live process, or already by this process, is refused
 * with the error `refuse` builds (given the holder's pid, or 'this process', and the lock's path).
 * Resolves with the function that releases the lock. "This process" means this thread: threads of a
 * process share its pid, and a lock another thread holds looks like one left by a dead process with a
 * reused pid, so each directory must be opened by one thread (the server's collector thread reaches
 * the log its main thread holds through src/bus/thread/, never by opening the directory).
 */
export async function lockDir(dir: string, file: string, refuse: (holder: number | 'this process', path: string) => MonsoonError): Promise<() => Promise<void>> {
  const path = join(resolve(dir), file);
  if (held.has(path)) throw refuse('this process', path);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) throw refuse(pid, path);
    await unlink(path).catch(() => {});
  }
  held.add(path);
  return async () => {
    held.delete(path);
    await unlink(path).catch(() => {});
  };
}
