import { mkdir, statfs, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { BufferPool } from '../../core/buffer-pool.js';
import { ChannelFullError, ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { defineChannel, type Channel, type ChannelContext, type ChannelTx } from '../contracts.js';
import { Deque } from './deque.js';
import { writeCheckpoint } from './file/checkpoint.js';
import { lockDir } from '../../core/fs.js';
import { EventReader } from './file/reader.js';
import { encodeTx, pointerKey, type EncodedTx, type Pointer } from './file/records.js';
import { RecentEvents } from './file/recent.js';
import { recover } from './file/recovery.js';
import { FileTx } from './file/tx.js';
import { directStaging, type Staging } from './file/direct.js';
import { LogWriter, listDataFiles } from './file/wal.js';
import { Signal } from './signal.js';

/**
 * File channel: durable. Every commit is appended to a write-ahead log in the data directories and
 * synced before it returns (concurrent commits share one sync); memory holds only pointers to the
 * queued events. Checkpoints of the pointer queue bound recovery time and let consumed data files
 * be deleted. Property names and defaults are Flume's FileChannel's.
 */
const schema = z.object({
  checkpointDir: prop.optionalString(),
  dataDirs: prop.optionalString(),
  useDualCheckpoints: prop.bool(false),
  backupCheckpointDir: prop.optionalString(),
  capacity: prop.int(1_000_000, 1),
  transactionCapacity: prop.int(10_000, 1),
  checkpointInterval: prop.int(30_000, 100),
  maxFileSize: prop.int(2_146_435_071, 64, 2_146_435_071),
  minimumRequiredSpace: prop.int(524_288_000, 0),
  'keep-alive': prop.int(3, 0),
  checkpointOnClose: prop.bool(true),
  /**
   * Writes the log with direct I/O (O_DIRECT), bypassing the page cache, where the data directories'
   * filesystems take it (else buffered, logged at start). Monsoon's; Flume has no such setting.
   */
  directIo: prop.bool(true),
  /**
   * Memory for put events the channel keeps until they are taken, so that those takes need no read
   * back from the log (see RecentEvents: counted by the buffers the kept bodies keep alive, plus 256
   * bytes an event); 0 reads every take from the log. Monsoon's; Flume always reads its log.
   */
  recentBytes: prop.int(128 * 1024 * 1024, 0),
});
export type FileChannelConfig = z.infer<typeof schema>;

export interface FileChannelOptions {
  /** Free-space probe of a directory's filesystem (fs.statfs unless replaced, e.g. in tests). */
  statfs?: (path: string) => Promise<{ bavail: number; bsize: number }>;
  /** Bytes of put events kept in memory for their takes (the `recentBytes` property unless replaced, e.g. in tests). */
  recentBytes?: number;
}

const SPACE_CHECK_MS = 1000;
/** Transactions at least this large are encoded into pooled buffers. */
const POOLED_TX_BYTES = 64 * 1024;

export class FileChannel implements Channel {
  readonly durable = true;
  readonly capacity: number;
  readonly transactionCapacity: number;
  readonly checkpointDir: string;
  readonly dataDirs: string[];
  private readonly keepAliveMs: number;
  /** @internal */ readonly queue = new Deque<Pointer>();
  /** @internal */ readonly takers = new Set<FileTx>();
  private inflight = 0;
  private reserved = 0;
  private readonly markers = new Map<string, string>();
  private readonly dataSignal = new Signal();
  private readonly spaceSignal = new Signal();
  private readonly reader: EventReader;
  private readonly counters;
  private readonly log;
  private writer: LogWriter | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private unlocks: Array<() => Promise<void>> = [];
  private timer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> = Promise.resolve();
  private dirty = false;
  private spaceOkUntil = 0;
  private readonly statfs: NonNullable<FileChannelOptions['statfs']>;
  /** Encode buffers of large transactions, reused once their append has been written. */
  private readonly txBuffers = new BufferPool(4);
  /**
   * Events put by this process and not yet taken, up to `recentBytes`: a take of them needs no read
   * back from the log. They are the very objects that were put and written: the log stays the only
   * durable copy, and recovery always reads it. The default holds more than a second of a 1 KB-line
   * stream at 100 MB/s, so that a sink running behind its source (a burst, a backlog after a
   * restart of the next hop) still takes from memory: with 32 MiB, the bench:collect chain read
   * 7–24% of its takes back from the logs, and spent ~10% more CPU in the collector.
   */
  private readonly recent: RecentEvents;

  constructor(
    readonly name: string,
    private readonly cfg: FileChannelConfig,
    ctx: ChannelContext,
    opts: FileChannelOptions = {},
  ) {
    this.capacity = cfg.capacity;
    this.transactionCapacity = cfg.transactionCapacity;
    this.keepAliveMs = cfg['keep-alive'] * 1000;
    this.checkpointDir = resolve(cfg.checkpointDir ?? join(ctx.dataDir, name, 'checkpoint'));
    const dirs = (cfg.dataDirs ?? '').split(',').map((d) => d.trim()).filter(Boolean);
    this.dataDirs = (dirs.length > 0 ? dirs : [join(ctx.dataDir, name, 'data')]).map((d) => resolve(d));
    this.statfs = opts.statfs ?? ((p) => statfs(p));
    this.recent = new RecentEvents(opts.recentBytes ?? cfg.recentBytes);
    this.log = ctx.log;
    this.counters = ctx.counters;
    this.reader = new EventReader(name, this.dataDirs, ctx.counters, ctx.log);
    this.counters.gauge('ChannelSize', () => this.size());
    this.counters.gauge('ChannelCapacity', () => this.capacity);
    this.counters.gauge('ChannelFillPercentage', () => (this.size() * 100) / this.capacity);
    this.counters.inc('CorruptRecordCount', 0);
    this.counters.inc('CheckpointWriteErrorCount', 0);
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new MonsoonError(ErrorCodes.CHANNEL_CLOSED, `channel ${this.name} was already started`);
    this.state = 'starting';
    try {
      for (const d of new Set([this.checkpointDir, ...this.dataDirs])) {
        await mkdir(d, { recursive: true });
        this.unlocks.push(
          await lockDir(d, 'in_use.lock', (holder, path) =>
            holder === 'this process'
              ? new MonsoonError(ErrorCodes.CHANNEL_LOCKED, `channel ${this.name}: ${d} is already in use by another channel of this process`)
              : new MonsoonError(ErrorCodes.CHANNEL_LOCKED, `channel ${this.name}: ${d} is in use by process ${holder} (${path}); two channels must not share a directory`),
          ),
        );
      }
      if (this.cfg.useDualCheckpoints || this.cfg.backupCheckpointDir) {
        this.log.warn({ channel: this.name }, `channel ${this.name}: useDualCheckpoints/backupCheckpointDir are accepted but not used; the checkpoint is replaced atomically instead`);
      }
      const rec = await recover(this.name, this.dataDirs, this.checkpointDir, this.log);
      this.counters.inc('CorruptRecordCount', rec.corrupt);
      this.queue.pushAll(rec.queue);
      for (const [k, v] of rec.markers) this.markers.set(k, v);
      this.writer = new LogWriter(this.dataDirs, this.cfg.maxFileSize, rec.nextFileId, this.cfg.directIo ? await this.directStaging() : undefined);
      await this.writer.open();
      this.log.info({ channel: this.name, events: this.queue.length, replayed: rec.replayed, directIo: this.writer.directIo }, `channel ${this.name}: recovered ${this.queue.length} event(s), ${rec.replayed} transaction(s) replayed from the log`);
      this.dirty = true;
      await this.checkpoint();
    } catch (e) {
      await this.release();
      this.state = 'stopped';
      throw e;
    }
    this.timer = setInterval(() => void this.checkpoint().catch((e) => this.log.error({ channel: this.name, err: e }, `channel ${this.name}: checkpoint failed`)), this.cfg.checkpointInterval);
    this.timer.unref();
    this.state = 'running';
  }

  /** Aligned memory for direct writes when every data directory takes them (see file/direct.ts). */
  private async directStaging(): Promise<Staging | undefined> {
    const staging = await directStaging(this.dataDirs);
    if (typeof staging !== 'string') return staging;
    this.log.warn({ channel: this.name, reason: staging }, `channel ${this.name}: writing the log through the page cache: ${staging}`);
    return undefined;
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    clearInterval(this.timer);
    try {
      await this.writer!.idle();
      if (this.cfg.checkpointOnClose) await this.checkpoint();
    } finally {
      await this.release();
      this.state = 'stopped';
      this.counters.stopTime = Date.now();
      this.dataSignal.notify();
      this.spaceSignal.notify();
    }
  }

  /** @internal Stops without a checkpoint or waiting for commits, as a crash would (tests only). */
  async halt(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopped';
    clearInterval(this.timer);
    await this.checkpointing.catch(() => {});
    await this.release();
  }

  private async release(): Promise<void> {
    this.recent.clear();
    await this.writer?.close().catch(() => {});
    await this.reader.close();
    for (const u of this.unlocks.splice(0)) await u();
  }

  size(): number {
    return this.queue.length + this.inflight;
  }

  marker(key: string): string | undefined {
    return this.markers.get(key);
  }

  waitForData(ms: number): Promise<void> {
    return this.queue.length > 0 ? Promise.resolve() : this.dataSignal.wait(ms);
  }

  waitForSpace(ms: number): Promise<void> {
    return this.size() < this.capacity ? Promise.resolve() : this.spaceSignal.wait(ms);
  }

  transaction(): ChannelTx {
    return new FileTx(this);
  }

  /**
   * Writes a checkpoint now (also runs every checkpointInterval and on stop), then deletes data
   * files that precede it and that no queued event points into.
   */
  checkpoint(): Promise<void> {
    this.checkpointing = this.checkpointing.catch(() => {}).then(() => this.writeCheckpointNow());
    return this.checkpointing;
  }

  private async writeCheckpointNow(): Promise<void> {
    const writer = this.writer;
    if (!this.dirty || !writer) return;
    // Snapshot synchronously so that the queue, the markers and the log position agree.
    const pos = writer.applied;
    const open: Pointer[] = [];
    for (const tx of this.takers) for (const p of tx.takes) open.push(p);
    open.sort((a, b) => pointerKey(a.f, a.o) - pointerKey(b.f, b.o));
    const queue = open.concat(this.queue.toArray());
    const markers = new Map(this.markers);
    this.dirty = false;
    try {
      await writeCheckpoint(this.checkpointDir, { pos, queue, markers });
    } catch (e) {
      this.dirty = true;
      this.counters.inc('CheckpointWriteErrorCount', 1);
      throw e;
    }
    const used = new Set<number>();
    for (const p of queue) used.add(p.f);
    for (const [id, path] of await listDataFiles(this.dataDirs)) {
      if (id >= pos.f || used.has(id) || id === writer.currentFile) continue;
      await this.reader.close(id);
      await unlink(path).catch(() => {});
    }
  }

  /** @internal */ count(name: string, n: number): void {
    this.counters.inc(name, n);
  }

  /** @internal */ ensureRunning(): void {
    if (this.state !== 'running') throw new MonsoonError(ErrorCodes.CHANNEL_CLOSED, `channel ${this.name} is not running`);
  }

  /** @internal */ async reserve(n: number): Promise<void> {
    const deadline = Date.now() + this.keepAliveMs;
    while (this.size() + this.reserved + n > this.capacity) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new ChannelFullError(
          `channel ${this.name} is full: cannot commit ${n} event(s) (${this.size()}/${this.capacity} events); the sinks are not keeping up`,
        );
      }
      await this.spaceSignal.wait(left);
    }
    this.reserved += n;
  }

  /** @internal */ unreserve(n: number): void {
    this.reserved -= n;
    this.spaceSignal.notify();
  }

  /** @internal Refuses a put commit while a data directory's filesystem is below minimumRequiredSpace. */
  async checkSpace(): Promise<void> {
    const min = this.cfg.minimumRequiredSpace;
    if (min <= 0 || Date.now() < this.spaceOkUntil) return;
    for (const d of this.dataDirs) {
      const st = await this.statfs(d);
      const free = st.bavail * st.bsize;
      if (free < min) {
        this.spaceOkUntil = 0;
        throw new MonsoonError(
          ErrorCodes.CHANNEL_DISK_SPACE,
          `channel ${this.name}: only ${free} bytes free on the filesystem of ${d}, below minimumRequiredSpace ${min}; puts are refused until space is freed`,
          { retriable: true },
        );
      }
    }
    this.spaceOkUntil = Date.now() + SPACE_CHECK_MS;
  }

  /** @internal Appends one transaction and applies it once durable. */
  async append(tx: FileTx, puts: readonly Event[], takes: Pointer[], markers: Readonly<Record<string, string>>): Promise<void> {
    this.ensureRunning();
    const enc = encodeTx(puts, takes, markers, (n) => (n >= POOLED_TX_BYTES ? this.txBuffers.take(n) : Buffer.allocUnsafe(n)));
    try {
      await this.writer!.append(enc.buf, (f, o) => this.apply(tx, enc, f, o, puts, takes, markers));
    } finally {
      // the writer no longer touches the buffer once the append settled
      if (enc.backing.length >= POOLED_TX_BYTES) this.txBuffers.give(enc.backing);
    }
  }

  private apply(tx: FileTx, enc: EncodedTx, f: number, o: number, puts: readonly Event[], takes: Pointer[], markers: Readonly<Record<string, string>>): void {
    const n = enc.offsets.length;
    if (n > 0) {
      const ptrs: Pointer[] = new Array(n);
      for (let i = 0; i < n; i++) ptrs[i] = { f, o: o + enc.offsets[i]!, l: enc.lengths[i]!, e: undefined };
      this.recent.remember(ptrs, puts);
      this.queue.pushAll(ptrs);
      this.reserved -= n;
      this.counters.inc('EventPutSuccessCount', n);
      this.dataSignal.notify();
    }
    if (takes.length > 0) {
      this.recent.forget(takes);
      this.inflight -= takes.length;
      this.counters.inc('EventTakeSuccessCount', takes.length);
      this.spaceSignal.notify();
    }
    this.takers.delete(tx);
    for (const k in markers) this.markers.set(k, markers[k]!);
    this.dirty = true;
  }

  /** @internal */ takePointers(tx: FileTx, n: number): Pointer[] {
    const ptrs = this.queue.shiftMany(n);
    this.inflight += ptrs.length;
    if (ptrs.length > 0) this.takers.add(tx);
    return ptrs;
  }

  /** @internal */ returnPointers(tx: FileTx, ptrs: Pointer[]): void {
    this.takers.delete(tx);
    if (ptrs.length === 0) return;
    this.inflight -= ptrs.length;
    this.queue.unshiftAll(ptrs);
    this.dataSignal.notify();
  }

  /** @internal The events of taken pointers: kept ones from memory, the others read from the log. */
  readEvents(ptrs: readonly Pointer[]): Promise<Event[]> {
    if (this.recent.size === 0) return this.reader.read(ptrs);
    const out: Event[] = new Array(ptrs.length);
    const missing: Pointer[] = [];
    const at: number[] = [];
    for (let i = 0; i < ptrs.length; i++) {
      const e = this.recent.get(ptrs[i]!);
      if (e !== undefined) out[i] = e;
      else {
        missing.push(ptrs[i]!);
        at.push(i);
      }
    }
    if (missing.length === 0) return Promise.resolve(out);
    if (missing.length === ptrs.length) return this.reader.read(ptrs);
    return this.reader.readAligned(missing).then((read) => {
      for (let j = 0; j < read.length; j++) out[at[j]!] = read[j]!;
      // a damaged record (counted and logged by the reader) is left out, as in a take from the log
      return read.includes(undefined) ? out.filter((e) => e !== undefined) : out;
    });
  }

  /** @internal Group commits so far: fdatasync calls of the log. */
  get syncCount(): number {
    return this.writer?.syncs ?? 0;
  }
}

defineChannel({
  type: 'file',
  aliases: ['org.apache.flume.channel.file.FileChannel'],
  description: 'Durable channel: a write-ahead log with group commit and checkpoints; survives crashes of the process and the machine.',
  schema,
  check: (c) => (c.transactionCapacity > c.capacity ? [['transactionCapacity', `(${c.transactionCapacity}) must not exceed capacity (${c.capacity})`]] : []),
  create: (cfg, ctx) => new FileChannel(ctx.name, cfg, ctx),
});
