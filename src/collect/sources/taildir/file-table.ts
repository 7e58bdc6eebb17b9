import { open, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorMessage } from '../../../core/errors.js';
import type { Logger } from '../../../core/log.js';
import type { GroupLister, Seen } from './lister.js';
import type { SavedPosition } from './positions.js';
import { fingerprint, isCopyOf, lineAlignedEnd, readHead, samePrefix, TailFile, type Tombstone } from './tail-file.js';

/** Content of truncated files remembered so that their copy (copytruncate) is read from the right place. */
const MAX_TOMBSTONES = 64;

/**
 * The files a TAILDIR source tails, by inode, reconciled with each listing of the filegroups. It
 * tells rotation by rename (same inode, new name), copytruncate (same inode, content restarts; a new
 * inode whose leading bytes are the old content's), a reused inode (different leading bytes) and
 * truncation apart, and sets where each file is to be read from.
 */
export class FileTable {
  readonly files = new Map<string, TailFile>();
  private tombstones: Tombstone[] = [];
  private readonly complained = new Set<string>();

  constructor(
    private readonly lister: GroupLister,
    private readonly skipToEnd: boolean,
    private readonly name: string,
    private readonly log: Logger,
    /** Called whenever a position changes without a delivery (the position file is then rewritten). */
    private readonly changed: () => void,
  ) {}

  /** Lists the filegroups and reconciles the result with the files already known. */
  async scan(saved?: Map<string, SavedPosition>): Promise<void> {
    const seen = await this.lister.list();
    const byIno = new Map(seen.map((s) => [s.ino, s]));
    for (const f of [...this.files.values()]) {
      const s = byIno.get(f.ino);
      byIno.delete(f.ino);
      if (s) {
        f.listed = true;
        if (s.path !== f.path) {
          f.path = s.path;
          f.rotated = true;
        }
        await this.checkChange(f, s.size, s.mtime);
      } else if (f.fh) {
        // Renamed out of the pattern or deleted: read on through the open handle until idle.
        f.listed = false;
        f.rotated = true;
        const st = await f.fh.stat({ bigint: true });
        await this.checkChange(f, Number(st.size), String(st.mtimeNs));
      } else {
        this.forget(f);
      }
    }
    const fresh = seen.filter((s) => byIno.has(s.ino));
    if (saved) {
      for (const s of fresh.filter((x) => saved.has(x.ino))) await this.discover(s, saved);
      const lost: Array<[SavedPosition, Tombstone | undefined]> = [];
      for (const e of saved.values()) {
        if (byIno.has(e.ino) || (await this.finishRenamed(e))) continue;
        // Files gone while stopped may live on as copies (copytruncate, a move across file systems).
        const t = e.fp !== undefined ? { dir: dirname(e.file), pos: e.pos, fp: e.fp, fpLen: e.fpLen } : undefined;
        if (t) this.bury(t);
        lost.push([e, t]);
      }
      for (const s of fresh) if (!this.files.has(s.ino)) await this.discover(s, saved);
      for (const [e, t] of lost) {
        if (t && !this.tombstones.includes(t)) continue; // read on from its copy
        const unread = e.size !== undefined ? e.size - e.pos : undefined;
        const where = `${e.file} (inode ${e.ino}) under any name in ${dirname(e.file)}`;
        if (unread !== undefined && unread <= 0) {
          this.log.warn({ source: this.name, file: e.file, inode: e.ino, pos: e.pos }, `TAILDIR source ${this.name} cannot find ${where}; it had been read to its end (byte ${e.pos}) when last seen.`);
        } else {
          const what = unread === undefined ? `whatever it held after byte ${e.pos}` : `at least ${unread} bytes after byte ${e.pos}`;
          this.log.error({ source: this.name, file: e.file, inode: e.ino, pos: e.pos, unread }, `TAILDIR source ${this.name} cannot find ${where}: ${what} are not read.`);
        }
      }
    }
    for (const s of fresh) if (!this.files.has(s.ino)) await this.discover(s, saved);
  }

  /**
   * A file tracked before a restart that is no longer listed may have been renamed out of the
   * pattern (logrotate with dateext) before it was read to its end: it is looked for by inode in its
   * directory and, if its content is still the same, read to its end from the saved position and
   * then forgotten like any file rotated away.
   */
  private async finishRenamed(e: SavedPosition): Promise<boolean> {
    const dir = dirname(e.file);
    let path: string | undefined;
    try {
      for (const name of await readdir(dir)) {
        const st = await stat(join(dir, name), { bigint: true }).catch(() => undefined);
        if (st?.isFile() && String(st.ino) === e.ino) {
          path = join(dir, name);
          break;
        }
      }
    } catch {
      return false;
    }
    const group = this.lister.groupOf(e.file);
    if (path === undefined || !group) return false;
    let fh;
    try {
      fh = await open(path, 'r');
      const st = await fh.stat({ bigint: true });
      const size = Number(st.size);
      const head = await readHead(fh, size);
      const same = String(st.ino) === e.ino && size >= e.pos && (e.fp === undefined || (head.length >= e.fpLen && fingerprint(head.subarray(0, e.fpLen)) === e.fp));
      if (!same) {
        await fh.close();
        return false;
      }
      if (size > e.pos) {
        this.log.info({ source: this.name, file: path }, `TAILDIR source ${this.name} reads the rest of ${e.file}, renamed to ${path}: ${size - e.pos} bytes from ${e.pos}.`);
        const f = new TailFile(e.ino, path, group, head, 0);
        f.fh = fh;
        f.size = size;
        f.mtime = String(st.mtimeNs);
        f.listed = false;
        f.rotated = true;
        f.id = e.id;
        f.seek(e.pos, e.line ?? 0);
        this.files.set(e.ino, f);
        this.changed();
      } else {
        await fh.close();
      }
      return true;
    } catch {
      await fh?.close().catch(() => undefined);
      return false;
    }
  }

  /** Notices truncation, replacement of the content under the same inode, and growth of the head. */
  private async checkChange(f: TailFile, size: number, mtime: string): Promise<void> {
    if (size === f.size && mtime === f.mtime) return;
    f.size = size;
    f.mtime = mtime;
    if (f.isCopy) return; // a copy may still be being written: never mistake that for truncation
    if (!f.fh && !(await this.reopen(f))) {
      f.mtime = ''; // look again at the next scan
      return;
    }
    const head = await readHead(f.fh!, size);
    if (f.copyOf) {
      if (!samePrefix(head, f.copyOf.head)) {
        this.log.info({ file: f.path }, `TAILDIR source ${this.name} reads ${f.path} as a new file: it no longer matches ${f.copyOf.path}.`);
        f.copyOf = undefined;
        f.head = head;
      }
      return;
    }
    if (size < f.pos || size < f.reader.end) {
      await this.restart(f, head, `${f.path} is shorter (${size} bytes) than the read position ${f.reader.end}: it was truncated; reading it again from the start`);
    } else if (f.head.length > 0 && !samePrefix(head, f.head)) {
      await this.restart(f, head, `the content of ${f.path} (inode ${f.ino}) was replaced; reading it from the start`);
    } else if (head.length > f.head.length) {
      f.head = head;
    }
  }

  private async restart(f: TailFile, head: Buffer, why: string): Promise<void> {
    this.log.warn({ source: this.name, file: f.path }, `TAILDIR source ${this.name}: ${why}.`);
    if (f.head.length > 0) this.bury({ dir: dirname(f.path), head: f.head, pos: f.pos });
    for (const c of [...this.files.values()]) {
      if (c.copyOf !== f) continue;
      // The copy's size from the last scan may predate the end of the copying.
      if (c.fh) c.size = Math.max(c.size, Number((await c.fh.stat()).size));
      this.adoptCopy(c, f.pos);
    }
    f.seek(0);
    f.head = head;
    f.id = undefined;
    f.rotated = false;
    this.changed();
  }

  private bury(t: Tombstone): void {
    this.tombstones.push(t);
    if (this.tombstones.length > MAX_TOMBSTONES) this.tombstones.shift();
  }

  /** A copy holds its original's content up to the truncation; only what was not read yet is read. */
  private adoptCopy(c: TailFile, pos: number): void {
    if (pos > c.size) {
      // Shorter than what was read of the original: not a copy of it after all.
      this.log.info({ file: c.path }, `TAILDIR source ${this.name} reads ${c.path} as a new file: it is shorter (${c.size} bytes) than the read position ${pos} of ${c.copyOf?.path ?? 'the truncated file'}.`);
      c.copyOf = undefined;
      this.changed();
      return;
    }
    c.copyOf = undefined;
    c.isCopy = true;
    c.rotated = true;
    c.seek(pos);
    this.changed();
  }

  private async discover(s: Seen, saved: Map<string, SavedPosition> | undefined): Promise<void> {
    let fh;
    try {
      fh = await open(s.path, 'r');
      if (String((await fh.stat({ bigint: true })).ino) !== s.ino) {
        await fh.close();
        return; // replaced between listing and opening: the next scan sees the new file
      }
    } catch (e) {
      await fh?.close().catch(() => undefined);
      if (!this.complained.has(s.path)) {
        this.complained.add(s.path);
        this.log.warn({ file: s.path, err: errorMessage(e) }, `TAILDIR source ${this.name} cannot open ${s.path}; it will retry.`);
      }
      return;
    }
    this.complained.delete(s.path);
    const head = await readHead(fh, s.size);
    const f = new TailFile(s.ino, s.path, s.group, head, 0);
    f.fh = fh;
    f.size = s.size;
    f.mtime = s.mtime;
    this.files.set(s.ino, f);
    const entry = saved?.get(s.ino);
    const dir = dirname(s.path);
    if (entry && (entry.fp === undefined || (head.length >= entry.fpLen && fingerprint(head.subarray(0, entry.fpLen)) === entry.fp))) {
      if (entry.pos > s.size) {
        // Read again under a new identity, so the re-read lines cannot collide with delivered ones.
        this.log.warn({ file: s.path }, `TAILDIR source ${this.name}: saved position ${entry.pos} is past the end of ${s.path} (${s.size} bytes); reading it from the start.`);
      } else {
        f.id = entry.id;
        f.seek(entry.pos, entry.line ?? 0);
      }
      return;
    }
    if (entry) {
      this.log.warn({ file: s.path }, `TAILDIR source ${this.name}: inode ${s.ino} now holds different content (${s.path}); reading it as a new file.`);
      if (entry.fp !== undefined) this.bury({ dir, pos: entry.pos, fp: entry.fp, fpLen: entry.fpLen });
    }
    // Copies are looked for in the same directory only: files elsewhere that merely start alike
    // (a common banner) must not be mistaken for copies and left unread.
    const original = head.length > 0 ? [...this.files.values()].find((x) => x !== f && !x.copyOf && dirname(x.path) === dir && samePrefix(head, x.head) && s.size <= x.size) : undefined;
    if (original) {
      f.copyOf = original;
      return;
    }
    let tomb = -1; // the latest match: the most recent truncation of that content
    if (head.length > 0) for (let i = 0; i < this.tombstones.length; i++) if (this.tombstones[i]!.dir === dir && isCopyOf(head, this.tombstones[i]!)) tomb = i;
    if (tomb >= 0) {
      this.adoptCopy(f, this.tombstones[tomb]!.pos);
      this.tombstones.splice(tomb, 1);
      return;
    }
    if (saved && this.skipToEnd) f.seek(await lineAlignedEnd(fh, s.size));
    this.changed();
  }

  async reopen(f: TailFile): Promise<boolean> {
    try {
      const fh = await open(f.path, 'r');
      if (String((await fh.stat({ bigint: true })).ino) !== f.ino) {
        await fh.close();
        return false;
      }
      f.fh = fh;
      f.lastActivity = Date.now();
      return true;
    } catch {
      return false;
    }
  }

  forget(f: TailFile): void {
    this.files.delete(f.ino);
    // The original of a pending copy is gone without having been truncated, so the "copy" was a new
    // file that merely starts alike (a common header line): it is read from its start.
    for (const c of this.files.values()) {
      if (c.copyOf !== f) continue;
      this.log.info({ file: c.path }, `TAILDIR source ${this.name} reads ${c.path} as a new file: ${f.path} was closed without being truncated.`);
      c.copyOf = undefined;
    }
    void f.close();
    this.changed();
  }

}
