import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Counts the records (lines) in an archive directory's rolled files — finished ones and the `.tmp`
 * file being written. A finished file never changes, so it is read once; the in-use file is read
 * whole each time, because after a crash the writer cuts it back to its last recorded length and
 * may then write past the old size again before the next count.
 */
export class ArchiveCounter {
  private readonly files = new Map<string, { size: number; lines: number }>();
  constructor(
    readonly dir: string,
    private readonly inUseSuffix = '.tmp',
  ) {}

  async count(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
    const seen = new Set<string>();
    let total = 0;
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(this.dir, name);
      let size: number;
      try {
        const s = await stat(path);
        if (!s.isFile()) continue;
        size = s.size;
      } catch {
        continue; // moved meanwhile: counted under its new name next time
      }
      seen.add(path);
      let f = this.files.get(path);
      if (!f || f.size !== size || name.endsWith(this.inUseSuffix)) f = { size, lines: await countNewlines(path, 0, size) };
      this.files.set(path, f);
      total += f.lines;
    }
    for (const k of [...this.files.keys()]) if (!seen.has(k)) this.files.delete(k);
    return total;
  }
}

async function countNewlines(path: string, from: number, to: number): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let n = 0;
    for (let pos = from; pos < to; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, to - pos), pos);
      if (bytesRead === 0) break;
      for (let i = buf.indexOf(10, 0); i >= 0 && i < bytesRead; i = buf.indexOf(10, i + 1)) n++;
      pos += bytesRead;
    }
    return n;
  } finally {
    await fh.close();
  }
}
