import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineSink, type Sink, type SinkContext, type SinkStatus } from '../contracts.js';
import { DirectMemory, OutputFile, syncParentDir } from './durable-file.js';
import { checkSerializer, serializeText } from './serializer.js';
import { drainBatch } from './transaction.js';

/**
 * File roll sink (Flume's RollingFileSink): appends event bodies to files in sink.directory and starts
 * a new file every sink.rollInterval seconds. Files are named like Flume's default path manager plus
 * the sink's name, so sinks sharing a directory never pick the same file:
 * <prefix><startMillis>-<sink>-<counter>[.<extension>].
 *
 * Output is exactly once across crashes when the channel is durable: each batch is written and
 * fsynced, then the take is committed together with a marker naming the file and its length. On
 * start the marked file is cut back to that length (a batch written but never committed is
 * redelivered), and the file the sink would have rolled to next is removed for the same reason.
 * Every file is named in a committed marker (as `next`) before it is created, and created
 * exclusively, so the file removed on start is always one this sink created and never committed.
 */
const schema = z.object({
  'sink.directory': prop.requiredString(),
  'sink.rollInterval': prop.int(30, 0),
  'sink.pathManager': prop.string('DEFAULT'),
  'sink.pathManager.extension': prop.string(''),
  'sink.pathManager.prefix': prop.string(''),
  'sink.serializer': prop.string('TEXT'),
  'sink.serializer.appendNewline': prop.bool(true),
  'sink.batchSize': prop.optionalInt(1),
  batchSize: prop.optionalInt(1),
  /**
   * Monsoon's own: writes whole blocks of the output files with direct I/O, bypassing the page cache
   * (see core/direct-io.ts), where the directory's filesystem takes it; false writes through the page
   * cache. Either way each batch is fdatasynced before its take commits.
   */
  'sink.directIo': prop.bool(true),
});
export type FileRollSinkConfig = z.infer<typeof schema>;

/** What a committed take records: the file written and its length after the batch. */
interface RollMarker {
  file: string;
  length: number;
  /** The file the next roll creates (the first file when `file` is ''); on start it can hold only uncommitted data. */
  next: string;
  /** The series (start time) in the file names, so a restarted sink never reuses a name. */
  series: number;
}

export const markerKey = (sink: string) => `file_roll:${sink}`;

/** A serialization buffer larger than this is not kept between batches. */
const MAX_SCRATCH_BYTES = 64 * 1024 * 1024;

export class FileRollSink implements Sink {
  readonly name: string;
  private readonly dir: string;
  private readonly batchSize: number;
  private series: number;
  private index = 0;
  private current: OutputFile | undefined;
  private openedAt = 0;
  private before = 0;
  /** The marker the channel holds for this sink (what a restart would see). */
  private committed: RollMarker | undefined;
  /** The marker of the batch being written, committed with its take. */
  private pending: RollMarker | undefined;
  /** The sink's name as it appears in file names. */
  private readonly tag: string;
  private scratch: Buffer | undefined;
  /** Aligned memory for direct appends, when sink.directIo is on and the directory takes them. */
  private memory: DirectMemory | undefined;

  constructor(
    private readonly cfg: FileRollSinkConfig,
    private readonly ctx: SinkContext,
    /** The clock that decides when to roll (injectable so tests can roll without waiting). */
    private readonly now: () => number = Date.now,
  ) {
    this.name = ctx.name;
    this.dir = resolve(cfg['sink.directory']);
    this.batchSize = cfg['sink.batchSize'] ?? cfg.batchSize ?? 100;
    this.series = now();
    this.tag = ctx.name.replace(/[^A-Za-z0-9._-]/g, '_');
  }

  private fileName(index: number): string {
    const ext = this.cfg['sink.pathManager.extension'];
    return join(this.dir, `${this.cfg['sink.pathManager.prefix']}${this.series}-${this.tag}-${index}${ext ? `.${ext}` : ''}`);
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    if (this.cfg['sink.directIo'] && !this.memory) {
      const m = await DirectMemory.for(this.dir);
      if (typeof m === 'string') this.ctx.log.info({ sink: this.name, reason: m }, `sink ${this.name}: writing through the page cache: ${m}`);
      else this.memory = m;
    }
    const raw = this.ctx.channel.marker(markerKey(this.name));
    if (raw === undefined) {
      // Name the first file before writing to it, so a crash before the first commit cannot leave
      // an uncommitted batch behind in a file no marker mentions.
      await this.commitMarker({ file: '', length: 0, next: this.fileName(1), series: this.series });
      return;
    }
    const m = JSON.parse(raw) as RollMarker;
    this.series = Math.max(this.series, m.series + 1);
    if (m.next) {
      if (this.owns(m.next)) await rm(m.next, { force: true });
      else this.ctx.log.warn({ sink: this.name, file: m.next }, 'The marker names a next file this sink does not own; leaving it in place.');
    }
    // The series changed: name the new series' first file at once, so a file opened before the next
    // take commits is one a restart knows to remove.
    await this.commitMarker({ ...m, next: this.fileName(1), series: this.series });
    if (!m.file) return;
    if (!(await exists(m.file))) {
      this.ctx.log.warn({ sink: this.name, file: m.file }, 'The file this sink last committed to is gone; starting a new one.');
      return;
    }
    // Continue the committed file, cut back to what the channel knows was delivered.
    this.current = await OutputFile.open(m.file, m.length, this.memory);
    this.openedAt = this.now();
    this.ctx.log.info({ sink: this.name, file: m.file, length: m.length }, 'Resumed the output file at its committed length.');
  }

  /** Whether `path` is named like one of this sink's files (in its directory, with its name). */
  private owns(path: string): boolean {
    const ext = this.cfg['sink.pathManager.extension'];
    const base = basename(path);
    const prefix = this.cfg['sink.pathManager.prefix'];
    return (
      dirname(path) === this.dir &&
      base.startsWith(prefix) &&
      new RegExp(`^\\d+-${escapeRegExp(this.tag)}-\\d+${ext ? escapeRegExp(`.${ext}`) : ''}$`).test(base.slice(prefix.length))
    );
  }

  private async commitMarker(m: RollMarker): Promise<void> {
    const tx = this.ctx.channel.transaction();
    try {
      await tx.commit({ [markerKey(this.name)]: JSON.stringify(m) });
    } catch (err) {
      await tx.rollback();
      throw err;
    }
    this.committed = m;
  }

  /** Closes the current file; the next batch starts a new one. */
  async stop(): Promise<void> {
    await this.current?.close();
    this.current = undefined;
  }

  async process(): Promise<SinkStatus> {
    const interval = this.cfg['sink.rollInterval'] * 1000;
    if (this.current && interval > 0 && this.now() - this.openedAt >= interval) await this.stop();
    return drainBatch(this.ctx, this.batchSize, {
      write: (events) => this.write(events),
      undo: async () => {
        await this.current?.truncate(this.before);
      },
      committed: async () => {
        this.committed = this.pending;
      },
    });
  }

  /**
   * The buffer a batch is serialized into, reused from batch to batch: append() is done with it when
   * it returns, and a fresh batch-sized buffer per batch costs page faults and garbage collections.
   */
  private scratchFor(size: number): Buffer {
    if (size > MAX_SCRATCH_BYTES) return Buffer.allocUnsafe(size);
    if (!this.scratch || this.scratch.length < size) this.scratch = Buffer.allocUnsafeSlow(size + (size >>> 3));
    return this.scratch;
  }

  private async write(events: Event[]): Promise<Record<string, string>> {
    if (!this.current) {
      const committed = this.committed ?? { file: '', length: 0, next: '', series: this.series };
      for (;;) {
        const path = this.fileName(++this.index);
        // A file the committed marker does not name yet is named first: a crash after writing to it
        // but before the take commits must leave it for the restart to remove.
        if (path !== committed.next) await this.commitMarker({ ...committed, next: path });
        try {
          this.current = await OutputFile.create(path, this.memory);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
      await syncParentDir(this.current.path);
      this.openedAt = this.now();
    }
    const f = this.current;
    this.before = f.length;
    try {
      // serialized straight into the direct memory when it has room, else into the scratch buffer
      await f.append(serializeText(events, this.cfg['sink.serializer.appendNewline'], (n) => f.reserve(n) ?? this.scratchFor(n)));
    } catch (err) {
      // Cut off a partial write so the redelivered batch is not preceded by a fragment of itself.
      await f.truncate(this.before).catch(() => {});
      throw err;
    }
    const marker: RollMarker = { file: f.path, length: f.length, next: this.fileName(this.index + 1), series: this.series };
    this.pending = marker;
    return { [markerKey(this.name)]: JSON.stringify(marker) };
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

defineSink({
  type: 'file_roll',
  aliases: ['org.apache.flume.sink.RollingFileSink'],
  description: 'Appends event bodies to files in a local directory, starting a new file every rollInterval seconds.',
  schema,
  batchSize: (c) => c['sink.batchSize'] ?? c.batchSize ?? 100,
  check: (c) => {
    const out: Array<[string, string]> = [];
    const ser = checkSerializer(c['sink.serializer']);
    if (ser) out.push(['sink.serializer', ser]);
    if (c['sink.pathManager'].toUpperCase() !== 'DEFAULT') out.push(['sink.pathManager', `path manager "${c['sink.pathManager']}" is not supported yet; use DEFAULT`]);
    for (const k of ['sink.pathManager.prefix', 'sink.pathManager.extension'] as const) {
      if (/[/\\]/.test(c[k])) out.push([k, 'must not contain a path separator']);
    }
    return out;
  },
  create: (cfg, ctx) => new FileRollSink(cfg, ctx),
});
