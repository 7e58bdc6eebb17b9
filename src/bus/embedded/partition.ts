import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../../core/log.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { ConsumedRecord } from '../bus.js';
import { BATCH_HEADER, checkBatch, decodeRecords, firstOffsetAtOrAfter, readHeader, stampBaseOffset, type BatchHeader } from './batch.js';
import { fsyncDir, writevAll } from '../../core/fs.js';
import { DIRECT_WRITE_FLAGS, writeSplitDirect, type DirectSlots } from '../../core/direct-io.js';
import { Segment } from './segment.js';

export interface LogOptions {
  segmentBytes: number;
  segmentMs: number;
  indexIntervalBytes: number;
  /** Largest batch a scan or read accepts (bounds a damaged length field). */
  maxBatchBytes: number;
  /** false: appends are acknowledged once written to the OS, without fdatasync (see EmbeddedOptions.fsync). */
  fsync: boolean;
  /** Bytes of newly appended batches all partitions of the log may keep for their readers together. */
  readCache: ReadCacheBudget;
  /**
   * Aligned memory for direct appends (see core/direct-io.ts), shared by all partitions of the log;
   * without it, or while all its slots are lent, appends go through the page cache.
   */
  direct?: DirectSlots;
  log: Logger;
}

/** One budget shared by every partition's read cache. */
export interface ReadCacheBudget {
  limit: number;
  used: number;
}

interface PendingAppend {
  batches: Buffer[];
  counts: number[];
  resolve: (base: number) => void;
  reject: (e: unknown) => void;
}

const READ_CHUNK = 256 * 1024;
/**
 * Bytes of the newest batches a partition keeps in memory after appending them, for readers that
 * keep up with the writer (a topology's spout a few batches behind the collector): they are decoded
 * from the very buffers that were written — no read call, no checksum pass — and the log file stays
 * the only durable copy. Readers further behind read the file. Only a partition read within the
 * last READER_IDLE_MS caches, at most this much and this many batches, and all partitions together
 * stay within the log's `readCache` budget.
 */
const TAIL_CACHE_BYTES = 8 * 1024 * 1024;
const TAIL_CACHE_BATCHES = 4096;
const READER_IDLE_MS = 10_000;

interface CachedBatch {
  header: BatchHeader;
  buf: Buffer;
}

/**
 * One partition: its segments, an appender with group commit, and readers. Appends queued while a
 * write + fdatasync is in flight share the next one. Offsets are given out when the batches are
 * written, and become visible to readers (the high watermark) only after the fdatasync, so a consumer
 * never sees a record that a crash could still take away.
 */
export class PartitionLog {
  readonly segments: Segment[] = [];
  private writer: FileHandle | undefined;
  /** A second, O_DIRECT handle on the active segment, for the whole blocks of an append. */
  private directWriter: FileHandle | undefined;
  /** Set once a direct open or write failed: no more direct handles for this partition. */
  private directRefused = false;
  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();
  /** fdatasync calls made; fewer than appends when appends were grouped. */
  syncs = 0;
  /** Bytes written with direct I/O (whole blocks of appends). */
  directBytes = 0;
  private closed = false;
  /** The newest appended batches, oldest first, contiguous in offsets and ending at `latest`. */
  private readonly tail: CachedBatch[] = [];
  private tailBytes = 0;
  /** When a reader last read this partition (-Infinity: never). */
  private lastReadAt = -Infinity;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    private readonly opts: LogOptions,
  ) {}

  /** The next offset to be written; everything below it is durable and readable. */
  get latest(): number {
    return this.active.next;
  }

  get earliest(): number {
    return this.segments[0]!.base;
  }

  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Opens the segments; the active one is scanned and a torn or damaged tail cut off. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const bases = (await readdir(this.dir))
      .map((n) => /^(\d{20})\.log$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    if (bases.length === 0) bases.push(0);
    const scan = { interval: this.opts.indexIntervalBytes, maxBatch: this.opts.maxBatchBytes };
    for (let i = 0; i < bases.length; i++) {
      const seg = new Segment(this.dir, bases[i]!);
      const last = i === bases.length - 1;
      if (last) {
        const fh = await open(seg.logPath, 'a');
        const st = await fh.stat();
        seg.createdAt = st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs;
        await fh.close();
        await seg.scan({
          ...scan,
          truncate: true,
          onTruncate: (pos, reason) => this.opts.log.warn({ file: seg.logPath, pos }, `Cut the unacknowledged tail of ${this.topic}-${this.partition} at byte ${pos}: ${reason}.`),
        });
      } else {
        const size = (await open(seg.logPath, 'r').then(async (fh) => { try { return (await fh.stat()).size; } finally { await fh.close(); } }));
        if (!(await seg.loadIndex(size))) {
          await seg.scan({ ...scan, truncate: false });
          await seg.writeIndex();
        }
      }
      const prev = this.segments[this.segments.length - 1];
      if (prev && prev.next !== seg.base) {
        throw new MonsoonError(ErrorCodes.BUS_CORRUPT, `${seg.logPath}: starts at offset ${seg.base} but the segment before it ends at ${prev.next}`);
      }
      this.segments.push(seg);
    }
    this.writer = await open(this.active.logPath, 'r+');
    this.directWriter = await this.openDirect(this.active.logPath);
  }

  /**
   * An O_DIRECT handle on `path` when the log has direct memory and the partition's files take one.
   * Direct writes only save work: a file that cannot be opened so is written through the page cache.
   */
  private async openDirect(path: string): Promise<FileHandle | undefined> {
    if (!this.opts.direct || DIRECT_WRITE_FLAGS === undefined || this.directRefused) return undefined;
    try {
      return await open(path, DIRECT_WRITE_FLAGS);
    } catch (e) {
      this.refuseDirect(path, e);
      return undefined;
    }
  }

  /** Direct writes to this partition failed: it appends through the page cache from now on. */
  private refuseDirect(path: string, e: unknown): void {
    this.directRefused = true;
    this.opts.log.warn({ file: path }, `${this.topic}-${this.partition}: direct writes refused (${(e as Error).message}); appending through the page cache.`);
  }

  /**
   * Writes `bufs` at `pos` of the active segment: its whole blocks direct when a slot of direct
   * memory is free (the bytes are written once and, for readers that keep up, served from the tail
   * cache, so they need not pass through the page cache), else all through the page cache.
   */
  private async write(bufs: Buffer[], pos: number): Promise<void> {
    const slots = this.opts.direct;
    const slot = this.directWriter ? slots?.take() : undefined;
    if (!slot) return writevAll(this.writer!, bufs, pos);
    try {
      this.directBytes += await writeSplitDirect(this.writer!, this.directWriter!, slot, bufs, pos);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      // the device wants another alignment than the log's directory did: this partition goes buffered
      this.refuseDirect(this.active.logPath, e);
      await this.directWriter!.close().catch(() => {});
      this.directWriter = undefined;
      await this.writer!.truncate(pos);
      await writevAll(this.writer!, bufs, pos);
    } finally {
      slots!.give(slot);
    }
  }

  /**
   * Appends encoded batches as one unit; resolves with the first offset once they are durable.
   * Each batch's offsets follow the previous one's.
   */
  append(batches: Buffer[], counts: number[]): Promise<number> {
    if (this.closed) return Promise.reject(new MonsoonError(ErrorCodes.BUS_CLOSED, `${this.topic}-${this.partition} is closed (the bus closed or the topic was deleted)`));
    return new Promise((resolve, reject) => {
      this.pending.push({ batches, counts, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.flush(this.pending.splice(0));
    } finally {
      this.flushing = undefined;
    }
  }

  private async flush(group: PendingAppend[]): Promise<void> {
    let bytes = 0;
    for (const p of group) for (const b of p.batches) bytes += b.length;
    const firsts: number[] = [];
    try {
      const a = this.active;
      if (a.size > 0 && (a.size + bytes > this.opts.segmentBytes || Date.now() - a.createdAt >= this.opts.segmentMs)) await this.roll();
      const seg = this.active;
      const bufs: Buffer[] = [];
      const placed: Array<{ pos: number; base: number; count: number; size: number; maxTs: number }> = [];
      let next = seg.next;
      let pos = seg.size;
      for (const p of group) {
        firsts.push(next);
        for (let i = 0; i < p.batches.length; i++) {
          const b = p.batches[i]!;
          stampBaseOffset(b, 0, next);
          const h = readHeader(b, 0);
          placed.push({ pos, base: next, count: p.counts[i]!, size: b.length, maxTs: h.maxTimestamp });
          bufs.push(b);
          next += p.counts[i]!;
          pos += b.length;
        }
      }
      await this.write(bufs, seg.size);
      if (this.opts.fsync) {
        await this.writer!.datasync();
        this.syncs++;
      }
      for (const x of placed) seg.noteBatch(x.pos, x.base, x.count, x.size, x.maxTs, this.opts.indexIntervalBytes);
      for (const b of bufs) this.cache(b);
    } catch (e) {
      // Nothing of this group is acknowledged; cut whatever part of it reached the file so the next
      // append starts right after the last durable batch.
      await this.writer?.truncate(this.active.size).catch(() => {});
      const err = e instanceof MonsoonError ? e : new MonsoonError(ErrorCodes.IO, `${this.topic}-${this.partition}: append failed: ${(e as Error).message}`, { retriable: true, cause: e });
      for (const p of group) p.reject(err);
      return;
    }
    for (let i = 0; i < group.length; i++) group[i]!.resolve(firsts[i]!);
    this.wake();
  }

  private async roll(): Promise<void> {
    const old = this.active;
    await old.writeIndex();
    const seg = new Segment(this.dir, old.next);
    const fh = await open(seg.logPath, 'wx');
    const direct = await this.openDirect(seg.logPath);
    try {
      await fsyncDir(this.dir);
    } catch (e) {
      // the old segment stays active; the empty new file goes, so that the next roll can create it
      await direct?.close().catch(() => {});
      await fh.close().catch(() => {});
      await unlink(seg.logPath).catch(() => {});
      throw e;
    }
    await this.writer?.close().catch(() => {});
    await this.directWriter?.close().catch(() => {});
    this.writer = fh;
    this.directWriter = direct;
    this.segments.push(seg);
  }

  private cache(buf: Buffer): void {
    const budget = this.opts.readCache;
    if (performance.now() - this.lastReadAt > READER_IDLE_MS || buf.length > Math.min(TAIL_CACHE_BYTES, budget.limit)) {
      this.dropTail(); // nobody reads here lately (or the batch alone is over budget): the file serves them
      return;
    }
    // A small batch is a slice of Node's shared buffer pool: kept as it is, it would pin the whole
    // pool block; it is copied into memory of its own size.
    let own = buf;
    if (buf.byteOffset !== 0 || buf.buffer.byteLength !== buf.length) {
      own = Buffer.allocUnsafeSlow(buf.length);
      buf.copy(own);
    }
    this.tail.push({ header: readHeader(own, 0), buf: own });
    this.tailBytes += own.length;
    budget.used += own.length;
    while (this.tail.length > 0 && (this.tailBytes > TAIL_CACHE_BYTES || this.tail.length > TAIL_CACHE_BATCHES || budget.used > budget.limit)) this.evictOldest();
  }

  private evictOldest(): void {
    const n = this.tail.shift()!.buf.length;
    this.tailBytes -= n;
    this.opts.readCache.used -= n;
  }

  private dropTail(): void {
    while (this.tail.length > 0) this.evictOldest();
  }

  /** Records from `offset` out of the cached batches (the caller checked it is covered). */
  private readCached(offset: number, max: number, maxBytes: number): ConsumedRecord[] {
    const t = this.tail;
    let lo = 0;
    let hi = t.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (t[mid]!.header.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    const out: ConsumedRecord[] = [];
    let bytes = 0;
    for (let i = lo; i < t.length && out.length < max && bytes < maxBytes; i++) {
      const before = out.length;
      decodeRecords(t[i]!.buf, 0, t[i]!.header, this.topic, this.partition, offset, max - out.length, out);
      for (let j = before; j < out.length; j++) bytes += out[j]!.value.length + (out[j]!.key?.length ?? 0);
    }
    return out;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Calls `fn` (once) when new records become readable; returns an unsubscribe function. */
  onData(fn: () => void): () => void {
    const once = () => {
      this.waiters.delete(once);
      fn();
    };
    this.waiters.add(once);
    return () => this.waiters.delete(once);
  }

  /** A consumer polls this partition (whether or not there is anything new): appends start caching. */
  noteReader(): void {
    this.lastReadAt = performance.now();
  }

  /**
   * Up to `max` records from `offset` (≥ earliest), stopping after about `maxBytes`. Returns [] at
   * the end of the log.
   */
  async read(offset: number, max: number, maxBytes: number): Promise<ConsumedRecord[]> {
    this.lastReadAt = performance.now();
    if (this.tail.length > 0 && offset >= this.tail[0]!.header.baseOffset) return offset < this.latest ? this.readCached(offset, max, maxBytes) : [];
    const out: ConsumedRecord[] = [];
    let idx = this.segmentIndex(offset);
    let bytes = 0;
    while (idx >= 0 && idx < this.segments.length && out.length < max && bytes < maxBytes) {
      const seg = this.segments[idx]!;
      const end = seg.size;
      let pos = seg.positionFor(offset);
      while (pos < end && out.length < max && bytes < maxBytes) {
        const len = Math.min(end - pos, READ_CHUNK);
        let buf = Buffer.allocUnsafe(len);
        let n = await this.readSegment(seg, buf, len, pos);
        if (n < 0) return out; // retention deleted the segment meanwhile; the caller moves to the new start
        let at = 0;
        while (at < n && out.length < max) {
          let c = checkBatch(buf, at, n, this.opts.maxBatchBytes);
          if (!c.ok && c.torn && at === 0 && pos + n < end) {
            const need = Math.min(buf.readUInt32LE(8) + 12, end - pos);
            buf = Buffer.allocUnsafe(need);
            n = await this.readSegment(seg, buf, need, pos);
            if (n < 0) return out;
            c = checkBatch(buf, 0, n, this.opts.maxBatchBytes);
          }
          if (!c.ok) {
            if (c.torn && at > 0) break;
            throw new MonsoonError(ErrorCodes.BUS_CORRUPT, `${seg.logPath}: ${c.reason} at byte ${pos + at}`);
          }
          const h = c.header;
          if (h.baseOffset + h.count > offset) {
            const before = out.length;
            decodeRecords(buf, at, h, this.topic, this.partition, offset, max - out.length, out);
            for (let i = before; i < out.length; i++) bytes += out[i]!.value.length + (out[i]!.key?.length ?? 0);
            if (out.length > before) offset = out[out.length - 1]!.offset + 1;
          }
          at += h.size;
        }
        if (at === 0) break;
        pos += at;
      }
      // A sealed segment read to its end is likely done with; its handle is reopened when needed.
      if (pos >= end && seg !== this.active) seg.releaseReader();
      offset = Math.max(offset, seg.next);
      idx++;
    }
    return out;
  }

  /** Bytes read, or -1 when the segment was deleted (by retention) before or during the read. */
  private async readSegment(seg: Segment, buf: Buffer, len: number, pos: number): Promise<number> {
    try {
      return await seg.read(buf, len, pos);
    } catch (e) {
      if (!this.segments.includes(seg)) return -1;
      throw e;
    }
  }

  private segmentIndex(offset: number): number {
    const s = this.segments;
    let lo = 0;
    let hi = s.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]!.base <= offset) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /** The first offset whose record timestamp is ≥ ts, or `latest` when there is none. */
  async offsetForTimestamp(ts: number): Promise<number> {
    for (const seg of this.segments) {
      if (seg.maxTimestamp < ts) continue;
      let pos = seg.positionForTimestamp(ts);
      while (pos < seg.size) {
        const head = Buffer.allocUnsafe(BATCH_HEADER);
        await seg.read(head, BATCH_HEADER, pos);
        const size = head.readUInt32LE(8) + 12;
        const buf = Buffer.allocUnsafe(size);
        const n = await seg.read(buf, size, pos);
        const c = checkBatch(buf, 0, n, this.opts.maxBatchBytes);
        if (!c.ok) throw new MonsoonError(ErrorCodes.BUS_CORRUPT, `${seg.logPath}: ${c.reason} at byte ${pos}`);
        if (c.header.maxTimestamp >= ts) {
          const hit = firstOffsetAtOrAfter(buf, 0, c.header, ts);
          if (hit >= 0) return hit;
        }
        pos += c.header.size;
      }
    }
    return this.latest;
  }

  /**
   * Deletes whole old segments (never the active one): those whose newest record is older than
   * `retentionMs`, and the oldest ones while the partition stays larger than `retentionBytes`
   * without them.
   */
  async enforceRetention(retentionMs: number, retentionBytes: number, now: number): Promise<number> {
    let removed = 0;
    let total = this.sizeBytes;
    while (this.segments.length > 1) {
      const s = this.segments[0]!;
      const byTime = retentionMs > 0 && s.maxTimestamp < now - retentionMs;
      const bySize = retentionBytes > 0 && total - s.size >= retentionBytes;
      if (!byTime && !bySize) break;
      this.segments.shift();
      total -= s.size;
      await s.remove();
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    this.dropTail(); // after the last flush, which may still have cached its batches
    await this.writer?.close().catch(() => {});
    await this.directWriter?.close().catch(() => {});
    this.writer = undefined;
    this.directWriter = undefined;
    for (const s of this.segments) await s.closeReader();
    this.wake();
  }
}
