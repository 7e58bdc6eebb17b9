import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { defineSink, type Sink, type SinkContext, type SinkStatus } from '../contracts.js';
import { OutputFile, syncParentDir } from './durable-file.js';
import { Bucket, CreationJournal, exists, recover, type OpenFiles } from './hdfs-bucket.js';
import { Calendar, EscapedString, insideRoot, pathRoot } from './hdfs-escape.js';
import { checkSerializer } from './serializer.js';
import { drainBatch, sinkWriteError } from './transaction.js';

/**
 * HDFS sink (Flume's HDFSEventSink) writing to the local filesystem: events go to files under
 * hdfs.path (with escapes), opened as <inUsePrefix><filePrefix>.<counter><fileSuffix><inUseSuffix>
 * and renamed without the in-use markers when rolled by time, size, count or idleness.
 *
 * Exactly once with a durable channel: every batch is fsynced, then its take is committed with a
 * marker listing the open files and their lengths. Files are created exclusively (a name another
 * writer holds is skipped) and named, with their inode, in a journal before the first write. On
 * start, marked files are cut back to their committed length and closed, and journal files no marker
 * covers are removed if they are still the file this sink created (their events are redelivered).
 */
const schema = z.object({
  'hdfs.path': prop.requiredString(),
  'hdfs.filePrefix': prop.string('FlumeData'),
  'hdfs.fileSuffix': prop.string(''),
  'hdfs.inUsePrefix': prop.string(''),
  'hdfs.inUseSuffix': prop.string('.tmp'),
  'hdfs.emptyInUseSuffix': prop.bool(false),
  'hdfs.rollInterval': prop.int(30, 0),
  'hdfs.rollSize': prop.int(1024, 0),
  'hdfs.rollCount': prop.int(10, 0),
  'hdfs.idleTimeout': prop.int(0, 0),
  'hdfs.batchSize': prop.int(100, 1),
  'hdfs.maxOpenFiles': prop.int(5000, 1),
  'hdfs.round': prop.bool(false),
  'hdfs.roundValue': prop.int(1, 1),
  'hdfs.roundUnit': prop.oneOf(['second', 'minute', 'hour'], 'second'),
  'hdfs.timeZone': prop.optionalString(),
  'hdfs.useLocalTimeStamp': prop.bool(false),
  'hdfs.fileType': prop.string('SequenceFile'),
  'hdfs.writeFormat': prop.oneOf(['Writable', 'Text'], 'Writable'),
  'hdfs.codeC': prop.optionalString(),
  'hdfs.callTimeout': prop.int(10000, 0),
  'hdfs.threadsPoolSize': prop.int(10, 1),
  'hdfs.rollTimerPoolSize': prop.int(1, 1),
  serializer: prop.string('TEXT'),
  'serializer.appendNewline': prop.bool(true),
});
export type HdfsSinkConfig = z.infer<typeof schema>;

export const hdfsMarkerKey = (sink: string) => `hdfs:${sink}`;
const NL = Buffer.from('\n');

/** hdfs.path as a local path: file:// URLs lose their scheme (escapes stay as written). */
export function localPath(p: string): string {
  return /^file:/i.test(p) ? p.replace(/^file:(\/\/[^/]*)?/i, '') : p;
}

export class HdfsSink implements Sink {
  readonly name: string;
  private readonly path: EscapedString;
  private readonly prefix: EscapedString;
  private readonly root: string;
  private readonly cal: Calendar;
  private readonly inUseSuffix: string;
  private readonly open = new Map<string, Bucket>();
  private touched: Bucket[] = [];
  private retired: Bucket[] = [];
  private readonly journal: CreationJournal;
  private readonly dirs = new Set<string>();
  /** Counters of files rolled in this batch, so the next file of the same key counts on from them. */
  private readonly rolledCounters = new Map<string, number>();

  constructor(
    private readonly cfg: HdfsSinkConfig,
    private readonly ctx: SinkContext,
    /** The clock for rolling, idling and hdfs.useLocalTimeStamp (injectable for tests). */
    private readonly now: () => number = Date.now,
  ) {
    this.name = ctx.name;
    this.path = new EscapedString(localPath(cfg['hdfs.path']));
    this.prefix = new EscapedString(cfg['hdfs.filePrefix']);
    this.root = pathRoot(this.path);
    this.cal = new Calendar(cfg['hdfs.timeZone']);
    this.inUseSuffix = cfg['hdfs.emptyInUseSuffix'] ? '' : cfg['hdfs.inUseSuffix'];
    this.journal = new CreationJournal(join(ctx.dataDir, `hdfs-sink-${ctx.name}.created`));
  }

  async start(): Promise<void> {
    await mkdir(this.ctx.dataDir, { recursive: true });
    const raw = this.ctx.channel.marker(hdfsMarkerKey(this.name));
    const files = raw === undefined ? undefined : (JSON.parse(raw) as { files: OpenFiles }).files;
    const created = await this.journal.entries();
    if (files?.length || created.length) {
      const r = await recover(files, created, files !== undefined || this.ctx.channel.durable);
      this.ctx.log.info({ sink: this.name, ...r }, 'Closed the files of the previous run at their committed lengths.');
    }
    await this.journal.reset();
  }

  async stop(): Promise<void> {
    for (const b of this.open.values()) await this.close(b);
    this.open.clear();
    await this.journal.close();
  }

  async process(): Promise<SinkStatus> {
    try {
      await this.closeExpired(this.now());
    } catch (err) {
      throw sinkWriteError(this.name, err);
    }
    return drainBatch(this.ctx, this.cfg['hdfs.batchSize'], {
      write: (events) => this.write(events),
      undo: () => this.abort(),
      committed: () => this.afterCommit(),
    });
  }

  /** Closes files past hdfs.rollInterval or hdfs.idleTimeout; they hold only committed batches. */
  private async closeExpired(now: number): Promise<void> {
    const interval = this.cfg['hdfs.rollInterval'] * 1000;
    const idle = this.cfg['hdfs.idleTimeout'] * 1000;
    if (interval === 0 && idle === 0) return;
    for (const b of [...this.open.values()]) {
      if ((interval > 0 && now - b.openedAt >= interval) || (idle > 0 && now - b.lastWrite >= idle)) {
        this.open.delete(b.key);
        await this.close(b);
      }
    }
  }

  private async close(b: Bucket): Promise<void> {
    await b.finish();
    this.ctx.counters.inc('ConnectionClosedCount', 1);
  }

  private timestampOf(e: Event, now: number): number {
    let ts = now;
    if (!this.cfg['hdfs.useLocalTimeStamp']) {
      const h = e.headers.timestamp;
      ts = h === undefined || h.trim() === '' ? NaN : Number(h);
      if (!Number.isFinite(ts)) {
        throw new MonsoonError(
          ErrorCodes.SINK_WRITE,
          `sink ${this.name}: an event has ${h === undefined ? 'no' : `an invalid (${JSON.stringify(h)})`} "timestamp" header, which the time escapes in hdfs.path/hdfs.filePrefix need; add a timestamp interceptor or set hdfs.useLocalTimeStamp = true`,
        );
      }
    }
    return this.cfg['hdfs.round'] ? this.cal.roundDown(ts, this.cfg['hdfs.roundValue'], this.cfg['hdfs.roundUnit']) : ts;
  }

  private async write(events: Event[]): Promise<Record<string, string>> {
    const now = this.now();
    const needsTime = this.path.needsTime || this.prefix.needsTime;
    const rollCount = this.cfg['hdfs.rollCount'];
    const rollSize = this.cfg['hdfs.rollSize'];
    const newline = this.cfg['serializer.appendNewline'];
    try {
      for (const e of events) {
        const ts = needsTime ? this.timestampOf(e, now) : now;
        const dir = this.path.render(e, ts, this.cal);
        const prefix = this.prefix.render(e, ts, this.cal);
        const key = `${dir}\0${prefix}`;
        const b = this.open.get(key) ?? (await this.create(key, dir, prefix, now));
        if (b.before < 0) {
          b.before = b.file.length;
          b.eventsBefore = b.events;
          this.touched.push(b);
          // Keep the map in least-recently-written order for hdfs.maxOpenFiles.
          this.open.delete(key);
          this.open.set(key, b);
        }
        b.pending.push(e.body);
        b.pendingBytes += e.body.length;
        if (newline) {
          b.pending.push(NL);
          b.pendingBytes += 1;
        }
        b.events++;
        b.lastWrite = now;
        if ((rollCount > 0 && b.events >= rollCount) || (rollSize > 0 && b.size() >= rollSize)) this.retire(b);
      }
      // Let every write finish before an abort truncates: a failed write must not race the undo.
      const failed = (await Promise.allSettled(this.touched.map((b) => b.flush()))).find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    } catch (err) {
      await this.abort();
      throw err;
    }
    const files: OpenFiles = [...this.open.values(), ...this.retired].map((b) => [b.inUsePath, b.file.length, b.finalPath]);
    return { [hdfsMarkerKey(this.name)]: JSON.stringify({ files }) };
  }

  /** Opens a new file for `key`; it is journaled (name and inode) before anything is written to it. */
  private async create(key: string, dir: string, prefix: string, now: number): Promise<Bucket> {
    if (this.open.size >= this.cfg['hdfs.maxOpenFiles']) {
      const oldest = this.open.values().next().value;
      if (oldest) this.retire(oldest);
    }
    const { 'hdfs.inUsePrefix': inPre, 'hdfs.fileSuffix': suffix } = this.cfg;
    let counter = Math.max(now, (this.rolledCounters.get(key) ?? -1) + 1);
    let file: OutputFile;
    let inUse: string;
    let final: string;
    for (;; counter++) {
      const name = `${prefix}.${counter}${suffix}`;
      final = insideRoot(this.root, join(dir, name));
      inUse = insideRoot(this.root, join(dir, `${inPre}${name}${this.inUseSuffix}`));
      // The prefix may name a subdirectory too (hdfs.filePrefix = sub/FlumeData).
      const parent = dirname(inUse);
      if (!this.dirs.has(parent)) {
        await mkdir(parent, { recursive: true });
        if (this.dirs.size > 10_000) this.dirs.clear();
        this.dirs.add(parent);
      }
      // Created exclusively: another sink writing to the same path and prefix takes the next name
      // instead of sharing (and, on an undo, truncating) this file.
      try {
        file = await OutputFile.create(inUse);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      // The final name is taken once the in-use file holding it is renamed: move on to the next.
      if (inUse !== final && (await exists(final))) {
        await file.close();
        await rm(inUse, { force: true });
        continue;
      }
      break;
    }
    try {
      await syncParentDir(inUse);
      // Journaled with its inode before anything is written, so that recovery removes only a file
      // this sink created.
      await this.journal.record(inUse, final, await file.inode());
    } catch (err) {
      await file.close();
      await rm(inUse, { force: true });
      throw err;
    }
    this.ctx.counters.inc('ConnectionCreatedCount', 1);
    const b = new Bucket(key, inUse, final, file, now, true, counter);
    this.open.set(key, b);
    return b;
  }

  /** Stops writing to `b`; it is closed and renamed once the batch in it is committed. */
  private retire(b: Bucket): void {
    if (this.open.get(b.key) === b) this.open.delete(b.key);
    this.retired.push(b);
    this.rolledCounters.set(b.key, b.counter);
  }

  private async afterCommit(): Promise<void> {
    for (const b of this.touched) {
      b.before = -1;
      b.fresh = false;
    }
    this.touched = [];
    this.rolledCounters.clear();
    const done = this.retired;
    this.retired = [];
    for (const b of done) await this.close(b);
    await this.journal.clear();
  }

  /** Removes the current batch from every file it reached (its take is rolled back). */
  private async abort(): Promise<void> {
    const retired = new Set(this.retired);
    for (const b of new Set([...this.touched, ...this.retired])) {
      await b.undo();
      if (b.fresh) {
        if (this.open.get(b.key) === b) this.open.delete(b.key);
        continue;
      }
      b.before = -1;
      if (retired.has(b)) await this.close(b);
    }
    this.touched = [];
    this.retired = [];
    this.rolledCounters.clear();
    await this.journal.clear();
  }
}

defineSink({
  type: 'hdfs',
  aliases: ['org.apache.flume.sink.hdfs.HDFSEventSink'],
  description: 'Writes events to rolled files under a local directory tree, with Flume HDFS sink naming and escapes.',
  schema,
  batchSize: (c) => c['hdfs.batchSize'],
  check: (c) => {
    const out: Array<[string, string]> = [];
    const p = c['hdfs.path'];
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(p)?.[1]?.toLowerCase();
    if (scheme === 'hdfs') out.push(['hdfs.path', 'hdfs:// URLs are not available yet; use a local path or file://']);
    else if (scheme !== undefined && scheme !== 'file') out.push(['hdfs.path', `${scheme}:// URLs are not supported; use a local path or file://`]);
    for (const [k, v] of [['hdfs.path', localPath(p)], ['hdfs.filePrefix', c['hdfs.filePrefix']]] as const) {
      try {
        new EscapedString(v);
      } catch (e) {
        out.push([k, (e as Error).message]);
      }
    }
    if (c['hdfs.fileType'] !== 'DataStream') {
      out.push(['hdfs.fileType', `${c['hdfs.fileType']}${c['hdfs.fileType'] === 'SequenceFile' ? " (Flume's default)" : ''} is not supported yet; set hdfs.fileType = DataStream`]);
    }
    if (c['hdfs.codeC']) out.push(['hdfs.codeC', 'compression is not supported yet; remove hdfs.codeC and use hdfs.fileType = DataStream']);
    const ser = checkSerializer(c.serializer);
    if (ser) out.push(['serializer', ser]);
    if (c['hdfs.timeZone'] !== undefined) {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: c['hdfs.timeZone'] });
      } catch {
        out.push(['hdfs.timeZone', `unknown time zone "${c['hdfs.timeZone']}"; use an IANA name such as America/Los_Angeles`]);
      }
    }
    return out;
  },
  create: (cfg, ctx) => new HdfsSink(cfg, ctx),
});
