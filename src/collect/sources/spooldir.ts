import type { Stats } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { ErrorCodes, MonsoonError, errorMessage, type ErrorCode } from '../../core/errors.js';
import { stampIdentity, type Event } from '../../core/event.js';
import { ByteSlab } from '../../core/slab.js';
import { defineSource, type Source, type SourceContext } from '../contracts.js';
import { deliver } from './delivery.js';
import { BatchRamp } from './ramp.js';
import { inputCharset, isUtf8Charset, outputEncoder, supportedInputCharsets, supportedOutputCharsets, type InputCharset } from './spool/charset.js';
import { LineReader, type Line, type ReadPos } from './spool/line-reader.js';
import { TrackerDir, fileIdentity, parseProgress, type Progress } from './spool/progress.js';

/**
 * Spooling directory source (Flume's SpoolDirectorySource): reads complete files dropped into a
 * directory, line by line, then renames them with fileSuffix or deletes them. Progress (file
 * identity + byte offset) is committed with every batch as a channel marker, so a crash resumes
 * exactly where the last commit ended. Unlike Flume, a file that changes after pickup or cannot be
 * decoded stops only that file: it is reported, listed in the tracker dir and left in place, and the
 * source goes on with the other files. A line longer than deserializer.maxLineLength characters is
 * split into several events carrying `monsoon.split = i/n` (1-based) instead of being cut.
 *
 * Commits are one at a time and in order, each batch's after the one before it landed; meanwhile the
 * source reads the next batch — of the same file or of the next one — so reading, decoding and the
 * file system's round trips overlap the channel's commit and its disk sync instead of adding to them.
 * A file is renamed or deleted (or, when it failed, recorded as failed) only once its last batch
 * landed; a batch that fails discards the one read after it, and the source resumes from the
 * committed marker as after a restart.
 */
export const SPLIT_HEADER = 'monsoon.split';

const schema = z.object({
  spoolDir: prop.requiredString(),
  fileSuffix: prop.string('.COMPLETED'),
  deletePolicy: prop.oneOf(['never', 'immediate'], 'never'),
  fileHeader: prop.bool(false),
  fileHeaderKey: prop.string('file'),
  basenameHeader: prop.bool(false),
  basenameHeaderKey: prop.string('basename'),
  includePattern: prop.regex('^.*$'),
  ignorePattern: prop.regex('^$'),
  trackerDir: prop.string('.flumespool'),
  consumeOrder: prop.oneOf(['oldest', 'youngest', 'random'], 'oldest'),
  pollDelay: prop.int(500, 1),
  maxBackoff: prop.int(4000, 1),
  recursiveDirectorySearch: prop.bool(false),
  batchSize: prop.int(100, 1),
  inputCharset: prop.string('UTF-8'),
  decodeErrorPolicy: prop.oneOf(['FAIL', 'REPLACE', 'IGNORE'], 'FAIL'),
  deserializer: prop.string('LINE'),
  'deserializer.maxLineLength': prop.int(2048, 1, 1024 * 1024),
  'deserializer.outputCharset': prop.string('UTF-8'),
});
export type SpoolDirConfig = z.infer<typeof schema>;

const LINE_DESERIALIZERS = ['line', 'org.apache.flume.serialization.linedeserializer$builder'];

export class SpoolDirSource implements Source {
  /** Recent per-file failures (newest last), for status output and tests. */
  readonly failures: MonsoonError[] = [];
  private readonly dir: string;
  private readonly tracker: TrackerDir;
  private readonly key: string;
  private readonly cs: InputCharset;
  private readonly encode: (s: string) => Buffer;
  /** Event bodies, one after another (core/slab.ts). */
  private readonly slab = new ByteSlab();
  /** The read window's memory, shared by the readers of the files this source reads one after another. */
  private readonly window: { buf?: Buffer } = {};
  private stopping = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private current?: { size: number; offset: number };
  private queue: string[] = [];
  private readonly ramp: BatchRamp;
  /** The commit in flight (with what follows it landing); at most one at a time. */
  private inflight: Promise<boolean> | undefined;
  /** Files whose last batch is in flight: not picked again, renamed or failed once it lands. */
  private readonly settling = new Set<string>();
  /** Bytes of the file the batch in flight covers, until it landed or failed. */
  private landing = 0;

  constructor(
    private readonly cfg: SpoolDirConfig,
    private readonly ctx: SourceContext,
  ) {
    this.dir = resolve(cfg.spoolDir);
    this.tracker = new TrackerDir(resolve(this.dir, cfg.trackerDir));
    this.key = `spooldir:${ctx.name}`;
    this.cs = inputCharset(cfg.inputCharset)!;
    this.encode = outputEncoder(cfg['deserializer.outputCharset'], this.slab)!;
    this.ramp = new BatchRamp(cfg.batchSize);
  }

  async start(): Promise<void> {
    const st = await stat(this.dir).catch((e: unknown) => {
      throw new MonsoonError(ErrorCodes.IO, `source ${this.ctx.name}: spoolDir ${this.dir} cannot be read: ${errorMessage(e)}`, { cause: e });
    });
    if (!st.isDirectory()) throw new MonsoonError(ErrorCodes.IO, `source ${this.ctx.name}: spoolDir ${this.dir} is not a directory`);
    await mkdir(this.tracker.dir, { recursive: true });
    await this.tracker.load();
    this.stopping = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    await this.tracker.settled().catch((err: unknown) => this.ctx.log.warn({ source: this.ctx.name, err: errorMessage(err) }, 'Spooling directory source could not write its tracker meta file.'));
    this.ctx.counters.stopTime = Date.now();
  }

  /** Bytes not committed yet: the rest of the file being read and the batch in flight. */
  backlog(): number {
    return (this.current ? this.current.size - this.current.offset : 0) + this.landing;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        // nothing left to read: the last batch lands (or fails, caught below) before the source idles
        if (!(await this.step()) && (await this.landed())) await this.sleep(this.cfg.pollDelay);
      } catch (err) {
        this.ctx.counters.inc('GenericProcessingFail', 1);
        this.ctx.log.error({ source: this.ctx.name, err: errorMessage(err) }, 'Spooling directory source failed a step; it retries from its last committed position.');
        // what was read after the commit that failed is dropped: the next step resumes from the marker
        await this.landed().catch((e: unknown) => {
          this.ctx.counters.inc('GenericProcessingFail', 1);
          this.ctx.log.error({ source: this.ctx.name, err: errorMessage(e) }, 'Spooling directory source failed a commit; it retries from its last committed position.');
        });
        this.settling.clear();
        this.queue = [];
        await this.sleep(this.cfg.maxBackoff);
      }
    }
    await this.landed().catch((err: unknown) => this.ctx.log.error({ source: this.ctx.name, err: errorMessage(err) }, 'Spooling directory source failed its last commit while stopping; it resumes from its last committed position.'));
  }

  /**
   * Resolves once the commit in flight (if any) landed and what follows it (rename, failure record)
   * is done: true when it was committed, false when the source stopped before it could be; throws
   * its error.
   */
  private async landed(): Promise<boolean> {
    const p = this.inflight;
    if (!p) return true;
    try {
      return await p;
    } finally {
      if (this.inflight === p) this.inflight = undefined;
    }
  }

  /** Does one unit of work (resume, finish or read a file); false when there was nothing to do. */
  private async step(): Promise<boolean> {
    // While a batch is in flight the marker is about to change: the files it settles are skipped by pick.
    const m = this.inflight ? undefined : parseProgress(this.ctx.processor.marker(this.key));
    if (m) {
      const st = await stat(m.path).catch(() => undefined);
      const id = st?.isFile() ? await fileIdentity(m.path, st) : undefined;
      // A marker whose file failed is not resumed; a different file now under that name is picked as new.
      if (id !== undefined && st && !this.tracker.hasFailed(m.path, m.id) && !this.tracker.hasFailed(m.path, id)) {
        if (id === m.id) {
          if (m.done) await this.finish(m.path, id);
          else await this.consume(m.path, id, st, { offset: m.offset, ...(m.split ? { split: m.split } : {}) }, m.seq ?? 0);
          return true;
        }
        if (!m.done && st.ino === m.ino) {
          await this.fail(m.path, [m.id, id], ErrorCodes.SOURCE_FILE_CHANGED, `file ${m.path} changed after it was picked up (was ${m.id}, now ${id}); it is left in place and skipped`);
          return true;
        }
      }
    }
    const next = await this.pick();
    if (!next) return false;
    await this.consume(next.path, await fileIdentity(next.path, next.st), next.st, { offset: 0 }, 0);
    return true;
  }

  /** `seq` is the identity sequence of the next event: events delivered from this file so far. */
  private async consume(path: string, id: string, st: Stats, start: ReadPos, seq: number): Promise<void> {
    const fh = await open(path, 'r');
    const origin = `${this.ctx.agentId}/${this.ctx.name}/${id}`;
    const reader = new LineReader(fh, st.size, this.cs, this.cfg.decodeErrorPolicy, this.cfg['deserializer.maxLineLength'], this.slab, isUtf8Charset(this.cfg['deserializer.outputCharset']), this.window);
    this.current = { size: st.size, offset: start.offset };
    let pos = start;
    try {
      while (!this.stopping) {
        const events: Event[] = [];
        let bad: number | undefined;
        let p = pos;
        const cap = this.ramp.size;
        while (events.length < cap) {
          // Lines already in the read window are taken without a promise; only reads await.
          const r = reader.nextCached(p) ?? (await reader.next(p));
          if (r === null) break;
          if ('badAt' in r) {
            bad = r.badAt;
            break;
          }
          events.push(this.toEvent(r.line, path, origin, seq + events.length));
          p = r.next;
        }
        // checked once the batch before has landed, so a change made by then is seen before this batch
        // goes; a source stopping meanwhile leaves this batch for its next start
        if (!(await this.landed()) || this.stopping) return;
        const now = await fh.stat();
        if (now.size !== st.size || now.mtimeMs !== st.mtimeMs) {
          const changed = await fileIdentity(path, now).catch(() => undefined);
          await this.fail(path, changed === undefined ? [id] : [id, changed], ErrorCodes.SOURCE_FILE_CHANGED, `file ${path} changed after it was picked up (size ${st.size} → ${now.size}); it is left in place and skipped`);
          return;
        }
        const eof = bad === undefined && p.offset >= st.size && !p.split;
        const progress: Progress = { path, id, ino: st.ino, offset: p.offset, seq: seq + events.length, ...(p.split ? { split: p.split } : {}), ...(eof ? { done: true } : {}) };
        const last = bad !== undefined || eof;
        if (last) this.settling.add(path);
        this.handOff(events, progress, p.offset - pos.offset, async () => {
          if (bad !== undefined) {
            await this.fail(path, [id], ErrorCodes.SOURCE_DECODE, `file ${path} has bytes that are not valid ${this.cs.name} at byte offset ${bad} (decodeErrorPolicy = FAIL); the lines before it were delivered, the file is left in place and skipped`);
          } else if (eof) await this.finishRead(path, id, st);
        });
        this.ramp.grow();
        pos = p;
        seq += events.length;
        this.current.offset = p.offset;
        if (last) return;
      }
    } finally {
      this.current = undefined;
      await fh.close();
    }
  }

  /**
   * Starts the commit of one batch (the one before it has landed) and what follows it landing: the
   * tracker's meta file, then `after` (the file's rename or failure record).
   */
  private handOff(events: Event[], progress: Progress, bytes: number, after: () => Promise<void>): void {
    this.landing = bytes;
    const p = (async () => {
      try {
        if (!(await deliver(this.ctx, events, { [this.key]: JSON.stringify(progress) }, () => this.stopping))) return false;
        this.tracker.writeMeta(progress);
        await after();
        return true;
      } finally {
        this.landing = 0;
        // (a no-op but for a file's last batch: only that one puts the file in the set)
        this.settling.delete(progress.path);
      }
    })();
    // awaited by landed(); until then a failure must not count as unhandled
    p.catch(() => {});
    this.inflight = p;
  }

  private toEvent(line: Line, path: string, origin: string, seq: number): Event {
    const headers: Record<string, string> = {};
    if (this.cfg.fileHeader) headers[this.cfg.fileHeaderKey] = path;
    if (this.cfg.basenameHeader) headers[this.cfg.basenameHeaderKey] = basename(path);
    if (line.split) headers[SPLIT_HEADER] = `${line.split.index + 1}/${line.split.total}`;
    const e: Event = { headers, body: line.ascii ?? line.utf8 ?? this.encode(line.text) };
    stampIdentity(e, origin, seq);
    return e;
  }

  /**
   * After the last batch of a file read to its end landed: renames or deletes it, unless it changed
   * since it was picked up (then it is reported and left in place: what was appended was not read)
   * or its name now stands for another file (left for its own turn).
   */
  private async finishRead(path: string, id: string, st: Stats): Promise<void> {
    let now: Stats;
    try {
      now = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      // recorded as failed, as finish does, so it is not read again once the marker moves on
      await this.fail(path, [id], ErrorCodes.IO, `file ${path} was fully read but could not be checked before its rename or deletion: ${errorMessage(err)}`);
      return;
    }
    if (now.ino !== st.ino || now.dev !== st.dev) return;
    if (now.size !== st.size || now.mtimeMs !== st.mtimeMs) {
      const changed = await fileIdentity(path, now).catch(() => undefined);
      await this.fail(path, changed === undefined ? [id] : [id, changed], ErrorCodes.SOURCE_FILE_CHANGED, `file ${path} changed after it was read to its end (size ${st.size} → ${now.size}); the lines read before were delivered, the file is left in place and skipped`);
      return;
    }
    await this.finish(path, id);
  }

  /** Renames or deletes a fully committed file; safe to repeat after a crash (the marker says done). */
  private async finish(path: string, id: string): Promise<void> {
    try {
      if (this.cfg.deletePolicy === 'immediate') {
        await unlink(path);
        return;
      }
      const dest = path + this.cfg.fileSuffix;
      if (await stat(dest).then(() => true, () => false)) {
        await this.fail(path, [id], ErrorCodes.IO, `file ${path} was fully read but cannot be renamed: ${dest} already exists (spool file names must not be reused)`);
        return;
      }
      await rename(path, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await this.fail(path, [id], ErrorCodes.IO, `file ${path} was fully read but could not be renamed or deleted: ${errorMessage(err)}`);
    }
  }

  private async fail(path: string, ids: readonly string[], code: ErrorCode, message: string): Promise<void> {
    const err = new MonsoonError(code, `source ${this.ctx.name}: ${message}`);
    this.failures.push(err);
    if (this.failures.length > 100) this.failures.shift();
    this.ctx.counters.inc('EventReadFail', 1);
    this.ctx.log.error({ source: this.ctx.name, code, file: path }, err.message);
    await this.tracker.addFailed(path, ids, code, message);
  }

  /**
   * The next file to read. One directory listing is sorted and then consumed file by file (each is
   * checked again when its turn comes), so a directory of many files is not listed once per file.
   */
  private async pick(): Promise<{ path: string; st: Stats } | undefined> {
    if (this.queue.length === 0) {
      const files: Array<{ path: string; st: Stats }> = [];
      for (const path of await this.list(this.dir)) {
        if (this.settling.has(path)) continue;
        const st = await stat(path).catch(() => undefined);
        if (st?.isFile() && !(await this.failedBefore(path, st))) files.push({ path, st });
      }
      if (this.cfg.consumeOrder === 'random') {
        for (let i = files.length - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          [files[i], files[j]] = [files[j]!, files[i]!];
        }
      } else {
        const dir = this.cfg.consumeOrder === 'oldest' ? 1 : -1;
        files.sort((a, b) => dir * (a.st.mtimeMs - b.st.mtimeMs) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      }
      this.queue = files.map((f) => f.path);
    }
    while (this.queue.length > 0) {
      const path = this.queue.shift()!;
      if (this.settling.has(path)) continue;
      const st = await stat(path).catch(() => undefined);
      if (st?.isFile() && !(await this.failedBefore(path, st))) return { path, st };
    }
    return undefined;
  }

  /** Whether this very file (same identity, not merely the same name) failed before. */
  private async failedBefore(path: string, st: Stats): Promise<boolean> {
    if (!this.tracker.mayHaveFailed(path)) return false;
    const id = await fileIdentity(path, st).catch(() => undefined);
    return id === undefined || this.tracker.hasFailed(path, id);
  }

  private async list(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      if (full === this.tracker.dir) continue;
      if (e.isDirectory()) {
        if (this.cfg.recursiveDirectorySearch) out.push(...(await this.list(full)));
        continue;
      }
      if (e.name.endsWith(this.cfg.fileSuffix)) continue;
      if (this.cfg.includePattern && !this.cfg.includePattern.test(e.name)) continue;
      if (this.cfg.ignorePattern?.test(e.name)) continue;
      out.push(full);
    }
    return out;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}

export const spoolDirSpec = defineSource({
  type: 'spooldir',
  aliases: ['org.apache.flume.source.SpoolDirectorySource'],
  description: 'Reads complete files dropped into a directory, line by line, then renames or deletes them; resumes exactly after a crash.',
  schema,
  deprecated: { bufferMaxLineLength: 'deserializer.maxLineLength' },
  batchSize: (c) => c.batchSize,
  check: (c) => {
    const out: Array<[string, string]> = [];
    if (!inputCharset(c.inputCharset)) out.push(['inputCharset', `charset ${c.inputCharset} is not supported; use one of ${supportedInputCharsets.join(', ')}`]);
    if (!outputEncoder(c['deserializer.outputCharset'])) {
      out.push(['deserializer.outputCharset', `charset ${c['deserializer.outputCharset']} is not supported; use one of ${supportedOutputCharsets.join(', ')}`]);
    }
    if (!LINE_DESERIALIZERS.includes(c.deserializer.trim().toLowerCase())) {
      out.push(['deserializer', `deserializer ${c.deserializer} is not supported; only LINE is available (AVRO and BlobDeserializer are not built yet)`]);
    }
    if (c.fileSuffix === '' && c.deletePolicy === 'never') out.push(['fileSuffix', 'must not be empty when deletePolicy = never (finished files would be read again)']);
    return out;
  },
  create: (cfg, ctx) => new SpoolDirSource(cfg, ctx),
});
