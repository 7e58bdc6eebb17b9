import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, isRetriable } from '../../../core/errors.js';
import { stampIdentity, type Event } from '../../../core/event.js';
import { Signal } from '../../channels/signal.js';
import { defineSource, type Source, type SourceContext } from '../../contracts.js';
import { BatchRamp } from '../ramp.js';
import { checkConfig, fileGroups, schema, type FileGroup, type TaildirConfig } from './config.js';
import type { Line } from './line-reader.js';
import { GroupLister } from './lister.js';
import { FileTable } from './file-table.js';
import { formatPositions, PositionFile, type SavedPosition } from './positions.js';
import { fingerprint, HEAD_BYTES, readHead, samePrefix, type TailFile } from './tail-file.js';

/** Longest wait between scans: the polling fallback for changes fs.watch does not report. */
const POLL_MS = 1000;

/**
 * TAILDIR: tails every file whose name matches a filegroup's regex, line by line, exactly once across
 * restarts and rotations. Files are known by inode plus their first bytes; positions travel with every
 * batch as a channel marker, and are also written to the position file for operators and Flume tools.
 */
export class TaildirSource implements Source {
  private readonly groups: FileGroup[];
  private readonly lister: GroupLister;
  private readonly markerKey: string;
  private readonly positionFile: PositionFile;
  private table: FileTable;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly wake = new Signal();
  private poked = false;
  private watchers: FSWatcher[] = [];
  private readonly ramp: BatchRamp;

  constructor(
    private readonly cfg: TaildirConfig,
    private readonly ctx: SourceContext,
  ) {
    this.groups = fileGroups(cfg);
    this.markerKey = `taildir:${ctx.name}`;
    const positionPath = resolve(cfg.positionFile ?? join(ctx.dataDir, `taildir_position_${ctx.name}.json`));
    this.positionFile = new PositionFile(positionPath, cfg.writePosInterval);
    this.lister = new GroupLister(this.groups, cfg.cachePatternMatching, new Set([positionPath, `${positionPath}.tmp`]));
    this.table = this.newTable();
    this.ramp = new BatchRamp(cfg.batchSize);
  }

  private newTable(): FileTable {
    return new FileTable(this.lister, this.cfg.skipToEnd, this.ctx.name, this.ctx.log, () => this.positionFile.markChanged());
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.table = this.newTable();
    await this.table.scan(await this.savedPositions());
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
    for (const f of this.table.files.values()) await f.close();
    await this.persist(true);
    this.ctx.counters.stopTime = Date.now();
  }

  /** Bytes known to be waiting: file sizes minus committed positions. */
  backlog(): number {
    let n = 0;
    for (const f of this.table.files.values()) if (!f.copyOf) n += Math.max(0, f.size - f.pos);
    return n;
  }

  private poke(): void {
    this.poked = true;
    this.wake.notify();
  }

  private async savedPositions(): Promise<Map<string, SavedPosition>> {
    try {
      return await this.positionFile.load(this.ctx.processor.marker(this.markerKey), this.markerKey);
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
        await this.table.scan();
        for (const f of this.table.files.values()) {
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

  /** Reads and delivers up to maxBatchCount batches of one file; returns the number of lines sent. */
  private async tail(f: TailFile): Promise<number> {
    if (f.copyOf || (!f.fh && (f.size <= f.pos || !(await this.table.reopen(f))))) return 0;
    let sent = 0;
    for (let batches = 0; batches < this.cfg.maxBatchCount && !this.stopping; batches++) {
      const lines: Line[] = [];
      const cap = this.ramp.size;
      while (lines.length < cap) {
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
      this.ramp.grow();
      if (lines.length < cap) break;
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
      // The nonce makes every (re)reading of a file from its start a new origin; the id is kept
      // (in the committed positions) from the first delivered batch on, so replays reuse it.
      f.id = `${f.ino}-${fingerprint(f.head)}-${randomBytes(4).toString('hex')}`;
    }
    const origin = `${this.ctx.agentId}/${this.ctx.name}/${f.id}`;
    const first = f.line;
    const events: Event[] = lines.map((l, i) => {
      const headers: Record<string, string> = { ...f.group.headers };
      if (this.cfg.fileHeader) headers[this.cfg.fileHeaderKey] = f.path;
      if (this.cfg.byteOffsetHeader) headers.byteoffset = String(l.offset);
      const e: Event = { headers, body: l.body };
      stampIdentity(e, origin, first + i);
      return e;
    });
    if (lines.some((l) => l.cut)) this.ctx.log.warn({ file: f.path }, `TAILDIR source ${this.ctx.name} cut an over-long line in ${f.path}.`);
    const pos = f.reader.start;
    const markers = { [this.markerKey]: this.positionsText(f, pos, first + lines.length) };
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
    f.line = first + lines.length;
    this.positionFile.markChanged();
    this.ctx.counters.inc('EventAcceptedCount', events.length);
    this.ctx.counters.inc('AppendBatchAcceptedCount', 1);
    return true;
  }

  /** Closes files idle for idleTimeout; a rotated-away file first gives up its unfinished last line. */
  private async closeIdle(): Promise<void> {
    const now = Date.now();
    for (const f of [...this.table.files.values()]) {
      if (!f.fh || now - f.lastActivity < this.cfg.idleTimeout || this.stopping) continue;
      if (f.rotated && !f.copyOf) {
        const last = f.reader.takePartial();
        if (last && !(await this.deliver(f, [last]))) return;
      }
      await f.close();
      if (!f.listed) this.table.forget(f);
    }
  }

  private positionsText(changed?: TailFile, pos?: number, line?: number): string {
    const entries = [];
    for (const f of this.table.files.values()) if (!f.copyOf) entries.push(f === changed ? f.entry(pos, line) : f.entry());
    return formatPositions(entries);
  }

  private async persist(force: boolean): Promise<void> {
    try {
      await this.positionFile.write(() => this.positionsText(), force);
    } catch (e) {
      this.ctx.log.warn({ file: this.positionFile.path, err: errorMessage(e) }, `TAILDIR source ${this.ctx.name} could not write its position file.`);
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
