import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineSink, type Sink, type SinkContext, type SinkStatus } from '../../collect/contracts.js';
import { drainBatch, sinkWriteError } from '../../collect/sinks/transaction.js';
import { Cooler, IdentitySet, type IdentitySetLimits } from '../../collect/dedup.js';
import { columnValue, parseColumns, type ColumnMapping } from '../columns.js';
import { checkLocalUrl, DelimitedRecordFormat, rotationBytes, rotationMs, sizeUnits, timeUnits, unescapeDelimiter } from './format.js';
import type { FieldValue } from '../writer.js';
import { RollingFileWriter, type RollingPosition, type Row } from './rolling-writer.js';

/**
 * Rolled-files sink with Storm HdfsBolt's layout: delimited records (chosen fields of each event),
 * DefaultFileNameFormat names, size and time rotation, `.tmp` while open, MoveFileAction on rotation.
 * Property names follow HdfsBolt's builder (fsUrl, path, prefix, extension, fieldDelimiter,
 * recordDelimiter, fields, rotation size/time with units, moveTo).
 *
 * Exactly once with a durable channel: the writer's position is committed with each take (see
 * rolling-writer.ts), and so is the set of event identities already written (per origin, intervals
 * of sequence numbers, bounded by the dedup.* limits), so a batch a source delivered twice — a crash
 * between the channels of a replicating selector re-reads it — is written once. Events without an
 * identity are always written.
 */
const schema = z.object({
  fsUrl: prop.string('file:///'),
  path: prop.requiredString(),
  prefix: prop.string(''),
  extension: prop.string('.txt'),
  componentId: prop.optionalString(),
  taskId: prop.int(0, 0),
  fieldDelimiter: prop.string(','),
  recordDelimiter: prop.string('\\n'),
  fields: prop.list(['body']),
  'rotation.size': prop.int(0, 0),
  'rotation.sizeUnits': prop.oneOf(sizeUnits, 'MB'),
  'rotation.time': prop.int(0, 0),
  'rotation.timeUnits': prop.oneOf(timeUnits, 'MINUTES'),
  moveTo: prop.optionalString(),
  inUseSuffix: prop.string('.tmp'),
  batchSize: prop.int(100, 1),
  /** Monsoon's own: whole blocks of the files written with direct I/O where the filesystem takes it (see core/direct-io.ts). */
  directIo: prop.bool(true),
  'dedup.retention': prop.int(24 * 3600, 1),
  'dedup.maxOrigins': prop.int(1000, 1),
  'dedup.maxIntervals': prop.int(64, 1),
});
export type RolledFilesSinkConfig = z.infer<typeof schema>;

export const rolledFilesMarkerKey = (sink: string) => `rolled_files:${sink}`;
/** The identities of origins idle for a while, apart from the per-take marker (see Cooler). */
const coldMarkerKey = (sink: string) => `rolled_files:${sink}#cold`;

/** What a committed take records: the writer's position and the identities written so far (the hot ones; the cold ones under coldMarkerKey). */
interface RolledMarker {
  pos: RollingPosition;
  ids: string;
}

/** fsUrl + path as one local path (fsUrl file:/// or a directory; hdfs:// and webhdfs:// refused). */
export function localDir(c: Pick<RolledFilesSinkConfig, 'fsUrl' | 'path'>): string {
  const base = checkLocalUrl(c.fsUrl);
  return c.path.startsWith('/') || base === '' ? c.path : `${base.replace(/\/$/, '')}/${c.path}`;
}

/** `fields` entries are column sources (body, header.<name>, headers, identity, origin, seq). */
function fieldMappings(fields: readonly string[]): ColumnMapping[] {
  return fields.map((f, i) => {
    try {
      return { column: `f${i}`, source: parseColumns([`f${i}=${f}`])[0]!.source };
    } catch {
      throw new Error(`field "${f}" must be body, headers, identity, origin, seq or header.<name>`);
    }
  });
}

export class RolledFilesSink implements Sink {
  readonly name: string;
  private readonly writer: RollingFileWriter;
  private readonly fields: ColumnMapping[];
  private readonly limits: IdentitySetLimits;
  /** Identities written by committed takes. */
  private ids: IdentitySet;
  /** The set after the take being written, adopted once it commits. */
  private pendingIds: IdentitySet | undefined;
  private readonly cooler = new Cooler();

  constructor(
    private readonly cfg: RolledFilesSinkConfig,
    private readonly ctx: SinkContext,
    /** The clock for rotation and identity retention (injectable for tests). */
    private readonly now: () => number = Date.now,
  ) {
    this.name = ctx.name;
    this.fields = fieldMappings(cfg.fields);
    this.limits = { retentionMs: cfg['dedup.retention'] * 1000, maxOrigins: cfg['dedup.maxOrigins'], maxIntervals: cfg['dedup.maxIntervals'] };
    this.ids = IdentitySet.empty(this.limits);
    this.writer = new RollingFileWriter({
      path: localDir(cfg),
      moveTo: cfg.moveTo === undefined ? undefined : checkLocalUrl(cfg.moveTo),
      name: { prefix: cfg.prefix, extension: cfg.extension, componentId: cfg.componentId ?? ctx.name, taskId: cfg.taskId },
      format: new DelimitedRecordFormat(this.fields.map((f) => f.column), unescapeDelimiter(cfg.fieldDelimiter), unescapeDelimiter(cfg.recordDelimiter)),
      inUseSuffix: cfg.inUseSuffix,
      rotateBytes: rotationBytes(cfg['rotation.size'], cfg['rotation.sizeUnits']),
      rotateMs: rotationMs(cfg['rotation.time'], cfg['rotation.timeUnits']),
      checkpoint: (p) => this.commitMarker(p),
      now,
      directIo: cfg.directIo,
      onPageCache: (reason) => ctx.log.info({ sink: ctx.name, reason }, `sink ${ctx.name}: writing through the page cache: ${reason}`),
    });
  }

  private marker(pos: RollingPosition, hotIds: string): string {
    const m: RolledMarker = { pos, ids: hotIds };
    return JSON.stringify(m);
  }

  private async commitMarker(p: RollingPosition): Promise<void> {
    const tx = this.ctx.channel.transaction();
    try {
      await tx.commit({ [rolledFilesMarkerKey(this.name)]: this.marker(p, this.ids.serializeHot()) });
    } catch (err) {
      await tx.rollback();
      throw err;
    }
  }

  async start(): Promise<void> {
    const raw = this.ctx.channel.marker(rolledFilesMarkerKey(this.name));
    const m = raw === undefined ? undefined : (JSON.parse(raw) as RolledMarker);
    const cold = this.ctx.channel.marker(coldMarkerKey(this.name));
    // cold first: a set's order is least recently seen first, which pruning relies on
    const sets = [...(cold === undefined ? [] : [IdentitySet.parse(cold, this.limits)]), ...(m ? [IdentitySet.parse(m.ids, this.limits)] : [])];
    if (sets.length > 0) this.ids = IdentitySet.union(sets, this.limits);
    await this.writer.open(m?.pos);
  }

  stop(): Promise<void> {
    return this.writer.close();
  }

  async process(): Promise<SinkStatus> {
    try {
      await this.writer.rotateIfDue();
    } catch (err) {
      throw sinkWriteError(this.name, err);
    }
    return drainBatch(this.ctx, this.cfg.batchSize, {
      write: async (events: Event[]) => {
        const admission = this.ids.admit(events, this.now());
        if (admission.duplicates > 0) this.ctx.log.info({ sink: this.name, duplicates: admission.duplicates }, 'Dropped events whose identities were already written.');
        const split = this.cooler.split(admission.next, this.now());
        this.pendingIds = split.set;
        const rows: Row[] = admission.fresh.map((e) => {
          const r: Record<string, FieldValue> = {};
          for (const f of this.fields) r[f.column] = f.source.kind === 'body' ? e.body : columnValue(e, f.source);
          return r;
        });
        await this.writer.write(rows);
        const markers: Record<string, string> = { [rolledFilesMarkerKey(this.name)]: this.marker(this.writer.position(), split.hot) };
        if (split.cold !== undefined) markers[coldMarkerKey(this.name)] = split.cold;
        return markers;
      },
      undo: () => this.writer.undo(),
      committed: async () => {
        if (this.pendingIds) this.ids = this.pendingIds;
        this.pendingIds = undefined;
      },
    });
  }
}

defineSink({
  type: 'rolled_files',
  aliases: ['monsoon.rolled_files', 'org.apache.storm.hdfs.bolt.HdfsBolt'],
  description: 'Writes delimited records to rolled files named like Storm HdfsBolt’s ({prefix}{componentId}-{taskId}-{rotation}-{timestamp}{extension}), .tmp while open, moved on size/time rotation.',
  schema,
  batchSize: (c) => c.batchSize,
  check: (c) => {
    const out: Array<[string, string]> = [];
    for (const k of ['fsUrl', 'moveTo'] as const) {
      const v = c[k];
      if (v === undefined) continue;
      try {
        checkLocalUrl(v);
      } catch (e) {
        out.push([k, (e as Error).message]);
      }
    }
    try {
      fieldMappings(c.fields);
    } catch (e) {
      out.push(['fields', (e as Error).message]);
    }
    if (c.fields.length === 0) out.push(['fields', 'needs at least one field (body, header.<name>, headers, identity, origin, seq)']);
    for (const k of ['prefix', 'extension', 'componentId', 'inUseSuffix'] as const) if (/[/\\]/.test(c[k] ?? '')) out.push([k, 'must not contain a path separator']);
    return out;
  },
  create: (cfg, ctx) => new RolledFilesSink(cfg, ctx),
});
