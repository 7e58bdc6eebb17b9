import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, isRetriable } from '../../../core/errors.js';
import { stampIdentity, type Event } from '../../../core/event.js';
import { Signal } from '../../channels/signal.js';
import { defineSource, type Source, type SourceContext } from '../../contracts.js';
import { checkConfig, fileGroups, schema, type FileGroup, type TaildirConfig } from './config.js';
import type { Line } from './line-reader.js';
import { GroupLister, type Seen } from './lister.js';
import { formatPositions, parsePositions, readPositionFile, writePositionFile, type SavedPosition } from './positions.js';
import { fingerprint, HEAD_BYTES, isCopyOf, lineAlignedEnd, readHead, samePrefix, TailFile, type Tombstone } from './tail-file.js';

/** Longest wait between scans: the polling fallback for changes fs.watch does not report. */
const POLL_MS = 1000;
/** Content of truncated files remembered so that their copy (copytruncate) is read from the right place. */
const MAX_TOMBSTONES = 64;

/**
 * TAILDIR: tails every file whose name matches a filegroup's regex, line by line, exactly once across
 * restarts and rotations. Files are known by inode plus their first bytes; positions travel with every
 * batch as a channel marker, and are also written to the position file for operators and Flume tools.
 */
export class TaildirSource implements Source {
  private readonly groups: FileGroup[];
  private readonly lister: GroupLister;
  private readonly markerKey: string;
  private readonly positionFile: string;
  private files = new Map<string, TailFile>();
  private tombstones: Tombstone[] = [];
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly wake = new Signal();
  private poked = false;
  private watchers: FSWatcher[] = [];
  private positionsChanged = false;
  private lastPositionWrite = 0;
  private readonly complained = new Set<string>();

  constructor(
    private readonly cfg: TaildirConfig,
    private readonly ctx: SourceContext,
  ) {
    this.groups = fileGroups(cfg);
    this.lister = new GroupLister(this.groups, cfg.cachePatternMatching);
    this.markerKey = `taildir:${ctx.name}`;
    this.positionFile = cfg.positionFile ?? join(ctx.dataDir, `taildir_position_${ctx.name}.json`);
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.files = new Map();
    this.tombstones = [];
    await this.scan(await this.savedPositions());
    for (const dir of new Set(this.groups.map((g) => g.dir))) {
      try {
        const w = watch(dir, () => this.poke());
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch {
        // No watch support (or no directory yet): the scan interval alone finds changes.
      }
    }
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.poke();
    await this.loop;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    for (const f of this.files.values()) await f.close();
    await this.persist(true);
    this.ctx.counters.stopTime = Date.now();
  }

  /** Bytes known to be waiting: file sizes minus committed positions. */
  backlog(): number {
    let n = 0;
    for (const f of this.files.values()) if (!f.copyOf) n += Math.max(0, f.size - f.pos);
    return n;
  }

  private poke(): void {
    this.poked = true;
    this.wake.notify();
  }

  private async savedPositions(): Promise<Map<string, SavedPosition>> {
    const marker = this.ctx.processor.marker(this.markerKey);
    const [text, what] = marker !== undefined ? [marker, `position marker ${this.markerKey}`] : [await readPositionFile(this.positionFile), `position file ${this.positionFile}`];
    if (text === undefined) return new Map();
    try {
      return parsePositions(text, what);
    } catch (e) {
      this.ctx.log.warn({ source: this.ctx.name }, `TAILDIR source ${this.ctx.name} ignores its saved positions and starts over: ${errorMessage(e)}.`);
      return new Map();
    }
  }

  private async run(): Promise<void> {
    let idleRounds = 0;
    while (!this.stopping) {
      this.poked = false;
      let lines = 0;
      try {
        await this.scan();
        for (const f of this.files.values()) {
          if (this.stopping) break;
          lines += await this.tail(f);
        }
        await this.closeIdle();
        await this.persist(false);
      } catch (e) {
        this.ctx.counters.inc('EventReadFail', 1);
        this.ctx.log.error({ source: this.ctx.name, err: errorMessage(e) }, `TAILDIR source ${this.ctx.name} failed a read pass and will retry.`);
      }
      idleRounds = lines > 0 ? 0 : idleRounds + 1;
      if (lines === 0 && !this.poked && !this.stopping) {
        await this.wake.wait(Math.min(idleRounds * this.cfg.backoffSleepIncrement, this.cfg.maxBackoffSleep, POLL_MS));
      }
    }
  }

  /** Lists the filegroups and reconciles the result with the files already known. */
  private async scan(saved?: Map<string, SavedPosition>): Promise<void> {
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
      // Files gone while stopped may live on as copies (copytruncate, a move across file systems).
      for (const e of saved.values()) if (!byIno.has(e.ino) && e.fp !== undefined) this.bury({ pos: e.pos, fp: e.fp, fpLen: e.fpLen });
    }
    for (const s of fresh) if (!this.files.has(s.ino)) await this.discover(s, saved);
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
        this.ctx.log.info({ file: f.path }, `TAILDIR source ${this.ctx.name} reads ${f.path} as a new file: it no longer matches ${f.copyOf.path}.`);
        f.copyOf = undefined;
        f.head = head;
      }
      return;
    }
    if (size < f.pos || size < f.reader.end) {
      this.restart(f, head, `${f.path} is shorter (${size} bytes) than the read position ${f.reader.end}: it was truncated; reading it again from the start`);
    } else if (f.head.length > 0 && !samePrefix(head, f.head)) {
      this.restart(f, head, `the content of ${f.path} (inode ${f.ino}) was replaced; reading it from the start`);
    } else if (head.length > f.head.length) {
      f.head = head;
    }
  }

  private restart(f: TailFile, head: Buffer, why: string): void {
    this.ctx.log.warn({ source: this.ctx.name, file: f.path }, `TAILDIR source ${this.ctx.name}: ${why}.`);
    if (f.head.length > 0) this.bury({ head: f.head, pos: f.pos });
    for (const c of this.files.values()) if (c.copyOf === f) this.adoptCopy(c, f.pos);
    f.seek(0);
    f.head = head;
    f.id = undefined;
    f.rotated = false;
    this.positionsChanged = true;
  }

  private bury(t: Tombstone): void {
    this.tombstones.push(t);
    if (this.tombstones.length > MAX_TOMBSTONES) this.tombstones.shift();
  }

  /** A copy holds its original's content up to the truncation; only what was not read yet is read. */
  private adoptCopy(c: TailFile, pos: number): void {
    c.copyOf = undefined;
    c.isCopy = true;
    c.rotated = true;
    c.seek(pos);
    this.positionsChanged = true;
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
        this.ctx.log.warn({ file: s.path, err: errorMessage(e) }, `TAILDIR source ${this.ctx.name} cannot open ${s.path}; it will retry.`);
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
    if (entry && (entry.fp === undefined || (head.length >= entry.fpLen && fingerprint(head.subarray(0, entry.fpLen)) === entry.fp))) {
      f.id = entry.id;
      if (entry.pos > s.size) {
        this.ctx.log.warn({ file: s.path }, `TAILDIR source ${this.ctx.name}: saved position ${entry.pos} is past the end of ${s.path} (${s.size} bytes); reading it from the start.`);
      } else {
        f.seek(entry.pos);
      }
      return;
    }
    if (entry) {
      this.ctx.log.warn({ file: s.path }, `TAILDIR source ${this.ctx.name}: inode ${s.ino} now holds different content (${s.path}); reading it as a new file.`);
      if (entry.fp !== undefined) this.bury({ pos: entry.pos, fp: entry.fp, fpLen: entry.fpLen });
    }
    const original = head.length > 0 ? [...this.files.values()].find((x) => x !== f && !x.copyOf && samePrefix(head, x.head) && s.size <= x.size) : undefined;
    if (original) {
      f.copyOf = original;
      return;
    }
    const tomb = head.length > 0 ? this.tombstones.findIndex((t) => isCopyOf(head, t)) : -1;
    if (tomb >= 0) {
      this.adoptCopy(f, this.tombstones[tomb]!.pos);
      this.tombstones.splice(tomb, 1);
      return;
    }
    if (saved && this.cfg.skipToEnd) f.seek(await lineAlignedEnd(fh, s.size));
    this.positionsChanged = true;
  }

  private async reopen(f: TailFile): Promise<boolean> {
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

  /** Reads and delivers up to maxBatchCount batches of one file; returns the number of lines sent. */
  private async tail(f: TailFile): Promise<number> {
    if (f.copyOf || (!f.fh && (f.size <= f.pos || !(await this.reopen(f))))) return 0;
    let sent = 0;
    for (let batches = 0; batches < this.cfg.maxBatchCount && !this.stopping; batches++) {
      const lines: Line[] = [];
      while (lines.length < this.cfg.batchSize) {
        const line = f.reader.next();
        if (line) lines.push(line);
        else if ((await f.reader.fill(f.fh!, f.size)) === 0) break;
        else f.lastActivity = Date.now();
      }
      if (lines.length === 0) break;
      if (!(await this.sameContent(f))) {
        f.reader.reset(f.pos); // truncated or replaced under us: the next scan decides where to read
        break;
      }
      if (!(await this.deliver(f, lines))) break;
      sent += lines.length;
      f.lastActivity = Date.now();
      await this.persist(false);
      if (lines.length < this.cfg.batchSize) break;
    }
    return sent;
  }

  /**
   * Checked after reading and before sending: if the file was truncated and rewritten between the
   * last scan and the read, the bytes read belong to new content at a stale offset and are dropped.
   */
  private async sameContent(f: TailFile): Promise<boolean> {
    const head = await readHead(f.fh!, HEAD_BYTES);
    if (f.head.length === 0) {
      f.head = head;
      return true;
    }
    return samePrefix(head, f.head) && head.length >= Math.min(f.head.length, f.reader.end);
  }

  /** Delivers one batch with the file's new position as a marker, retrying until it is taken. */
  private async deliver(f: TailFile, lines: Line[]): Promise<boolean> {
    if (f.id === undefined) {
      if (f.head.length < HEAD_BYTES) f.head = await readHead(f.fh!, Math.max(f.size, f.reader.end));
      f.id = `${f.ino}-${fingerprint(f.head)}`;
    }
    const origin = `${this.ctx.agentId}/${this.ctx.name}/${f.id}`;
    const events: Event[] = lines.map((l) => {
      const headers: Record<string, string> = { ...f.group.headers };
      if (this.cfg.fileHeader) headers[this.cfg.fileHeaderKey] = f.path;
      if (this.cfg.byteOffsetHeader) headers.byteoffset = String(l.offset);
      const e: Event = { headers, body: l.body };
      stampIdentity(e, origin, l.offset);
      return e;
    });
    if (lines.some((l) => l.cut)) this.ctx.log.warn({ file: f.path }, `TAILDIR source ${this.ctx.name} cut an over-long line in ${f.path}.`);
    const pos = f.reader.start;
    const markers = { [this.markerKey]: this.positionsText(f, pos) };
    this.ctx.counters.inc('EventReceivedCount', events.length);
    this.ctx.counters.inc('AppendBatchReceivedCount', 1);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ctx.processor.process(events, markers);
        break;
      } catch (e) {
        if (this.stopping) return false;
        if (isRetriable(e)) {
          await this.ctx.processor.waitForSpace(1000);
        } else {
          this.ctx.counters.inc('GenericProcessingFail', 1);
          if (attempt === 1) this.ctx.log.error({ file: f.path, err: errorMessage(e) }, `TAILDIR source ${this.ctx.name} could not deliver lines of ${f.path}; it keeps them and retries.`);
          await this.wake.wait(this.cfg.maxBackoffSleep);
        }
        if (this.stopping) return false;
      }
    }
    f.pos = pos;
    this.positionsChanged = true;
    this.ctx.counters.inc('EventAcceptedCount', events.length);
    this.ctx.counters.inc('AppendBatchAcceptedCount', 1);
    return true;
  }

  /** Closes files idle for idleTimeout; a rotated-away file first gives up its unfinished last line. */
  private async closeIdle(): Promise<void> {
    const now = Date.now();
    for (const f of [...this.files.values()]) {
      if (!f.fh || now - f.lastActivity < this.cfg.idleTimeout || this.stopping) continue;
      if (f.rotated && !f.copyOf) {
        const last = f.reader.takePartial();
        if (last && !(await this.deliver(f, [last]))) return;
      }
      await f.close();
      if (!f.listed) this.forget(f);
    }
  }

  private forget(f: TailFile): void {
    this.files.delete(f.ino);
    // The original of a pending copy is gone: the copy goes on from where the original was.
    for (const c of this.files.values()) if (c.copyOf === f) this.adoptCopy(c, f.pos);
    void f.close();
    this.positionsChanged = true;
  }

  private positionsText(changed?: TailFile, pos?: number): string {
    const entries = [];
    for (const f of this.files.values()) if (!f.copyOf) entries.push(f.entry(f === changed ? pos : f.pos));
    return formatPositions(entries);
  }

  private async persist(force: boolean): Promise<void> {
    const now = Date.now();
    if (!this.positionsChanged || (!force && now - this.lastPositionWrite < this.cfg.writePosInterval)) return;
    this.positionsChanged = false;
    this.lastPositionWrite = now;
    try {
      await writePositionFile(this.positionFile, this.positionsText());
    } catch (e) {
      this.positionsChanged = true;
      this.ctx.log.warn({ file: this.positionFile, err: errorMessage(e) }, `TAILDIR source ${this.ctx.name} could not write its position file.`);
    }
  }
}

defineSource({
  type: 'TAILDIR',
  aliases: ['org.apache.flume.source.taildir.TaildirSource'],
  description: 'Tails files matching per-filegroup name patterns, exactly once across restarts and rotation (rename or copytruncate).',
  schema,
  maps: ['headers', 'filegroups'],
  batchSize: (c) => c.batchSize,
  check: checkConfig,
  create: (cfg, ctx) => new TaildirSource(cfg, ctx),
});
