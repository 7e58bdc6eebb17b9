import { open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCodes, MonsoonError } from '../../../core/errors.js';

/**
 * One process at a time per directory: `in_use.lock` holds the owner's pid. A lock left by a process
 * that no longer exists is taken over; one held by a live process (or by this process) is refused.
 */
const LOCK = 'in_use.lock';
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockDir(dir: string, owner: string): Promise<() => Promise<void>> {
  const path = join(resolve(dir), LOCK);
  if (held.has(path)) {
    throw new MonsoonError(ErrorCodes.CHANNEL_LOCKED, `${owner}: ${dir} is already in use by another channel of this process`);
  }
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
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new MonsoonError(ErrorCodes.CHANNEL_LOCKED, `${owner}: ${dir} is in use by process ${pid} (${path}); two channels must not share a directory`);
    }
    await unlink(path).catch(() => {});
  }
  held.add(path);
  return async () => {
    held.delete(path);
    await unlink(path).catch(() => {});
  };
}
