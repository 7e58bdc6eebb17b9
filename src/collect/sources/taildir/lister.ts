import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileGroup } from './config.js';

/** A file found under a filegroup pattern. */
export interface Seen {
  ino: string;
  path: string;
  size: number;
  /** Modification time in nanoseconds, as text. */
  mtime: string;
  group: FileGroup;
}

/** Relist a directory at least this often even when its mtime looks unchanged (coarse clocks). */
const RELIST_MS = 1000;

/**
 * Lists the files of every filegroup, oldest modification first (so a rotated file is drained before
 * its successor). With cachePatternMatching the name list of a directory is reused while the
 * directory's mtime is unchanged; files are stat'ed on every scan.
 */
export class GroupLister {
  private readonly cache = new Map<string, { dirMtime: string; at: number; names: string[] }>();

  constructor(
    private readonly groups: readonly FileGroup[],
    private readonly cachePatternMatching: boolean,
    /** Paths never tailed: the source's own position file, should a pattern match it. */
    private readonly exclude: ReadonlySet<string> = new Set(),
  ) {}

  /** The filegroup a file of this path belongs (or belonged) to: by directory and name, else by directory. */
  groupOf(path: string): FileGroup | undefined {
    const inDir = this.groups.filter((g) => g.dir === dirname(path));
    return inDir.find((g) => g.pattern.test(basename(path))) ?? inDir[0];
  }

  async list(): Promise<Seen[]> {
    const byIno = new Map<string, Seen>();
    for (const g of this.groups) {
      for (const name of await this.names(g)) {
        const path = join(g.dir, name);
        if (this.exclude.has(path)) continue;
        let st;
        try {
          st = await stat(path, { bigint: true });
        } catch {
          continue; // gone between listing and stat
        }
        if (!st.isFile()) continue;
        const ino = String(st.ino);
        if (!byIno.has(ino)) byIno.set(ino, { ino, path, size: Number(st.size), mtime: String(st.mtimeNs), group: g });
      }
    }
    return [...byIno.values()].sort((a, b) => (BigInt(a.mtime) < BigInt(b.mtime) ? -1 : BigInt(a.mtime) > BigInt(b.mtime) ? 1 : a.path < b.path ? -1 : 1));
  }

  private async names(g: FileGroup): Promise<string[]> {
    const key = `${g.name}\0${g.dir}`;
    let dirMtime: string;
    try {
      dirMtime = String((await stat(g.dir, { bigint: true })).mtimeNs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const hit = this.cache.get(key);
    const now = Date.now();
    if (this.cachePatternMatching && hit && hit.dirMtime === dirMtime && now - hit.at < RELIST_MS) return hit.names;
    const names = (await readdir(g.dir)).filter((n) => g.pattern.test(n)).sort();
    this.cache.set(key, { dirMtime, at: now, names });
    return names;
  }
}
