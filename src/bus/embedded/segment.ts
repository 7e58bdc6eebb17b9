import { open, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { crc32 } from '../../core/crc32.js';
import { join } from 'node:path';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { checkBatch } from './batch.js';

/**
 * One segment of a partition: `<baseOffset, 20 digits>.log` holding whole batches, and, once sealed,
 * `<base>.index` with the sparse offset index. The index maps a batch's first offset to its file
 * position every `indexInterval` bytes, with the largest timestamp of all batches before it (for
 * seeking by time). It is kept in memory; the active segment's index is rebuilt at open by the
 * recovery scan, a sealed segment's is read from its file (or rebuilt when the file is missing or
 * damaged).
 *
 *   index := magic:u32 next:f64 size:f64 maxTimestamp:f64 count:u32 (offset:f64 position:f64 tsBefore:f64){count} crc:u32
 */
const INDEX_MAGIC = 0x4d424958;
const SCAN_CHUNK = 4 * 1024 * 1024;

export const segmentName = (base: number): string => String(base).padStart(20, '0');

interface ScanMark {
  pos: number;
  next: number;
  maxTimestamp: number;
  sinceIndexed: number;
  indexed: number;
}

export class Segment {
  /** Bytes of whole, durable batches. */
  size = 0;
  /** The offset after the last record stored here. */
  next: number;
  maxTimestamp = -Infinity;
  /** When the segment file was created (for segmentMs). */
  createdAt = Date.now();
  readonly idxOffset: number[] = [];
  readonly idxPosition: number[] = [];
  readonly idxTsBefore: number[] = [];
  private sinceIndexed = Infinity;
  private reader: FileHandle | undefined;
  private reading = 0;
  private readerOpening: Promise<FileHandle> | undefined;

  constructor(
    readonly dir: string,
    readonly base: number,
  ) {
    this.next = base;
  }

  get logPath(): string {
    return join(this.dir, `${segmentName(this.base)}.log`);
  }

  get indexPath(): string {
    return join(this.dir, `${segmentName(this.base)}.index`);
  }

  /** Records a batch appended at `position` (after it is durable). */
  noteBatch(position: number, baseOffset: number, count: number, size: number, maxTs: number, interval: number): void {
    if (this.sinceIndexed >= interval) {
      this.idxOffset.push(baseOffset);
      this.idxPosition.push(position);
      this.idxTsBefore.push(this.maxTimestamp);
      this.sinceIndexed = 0;
    }
    this.sinceIndexed += size;
    this.size = position + size;
    this.next = baseOffset + count;
    if (maxTs > this.maxTimestamp) this.maxTimestamp = maxTs;
  }

  /** What the scan has noted up to file position `pos`, to go back to it (see scan). */
  private mark(pos: number): ScanMark {
    return { pos, next: this.next, maxTimestamp: this.maxTimestamp, sinceIndexed: this.sinceIndexed, indexed: this.idxOffset.length };
  }

  private restore(m: ScanMark): void {
    this.next = m.next;
    this.maxTimestamp = m.maxTimestamp;
    this.sinceIndexed = m.sinceIndexed;
    this.idxOffset.length = m.indexed;
    this.idxPosition.length = m.indexed;
    this.idxTsBefore.length = m.indexed;
    this.size = m.pos;
  }

  /** The file position of the indexed batch at or before `offset`. */
  positionFor(offset: number): number {
    const o = this.idxOffset;
    let lo = 0;
    let hi = o.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (o[mid]! <= offset) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best < 0 ? 0 : this.idxPosition[best]!;
  }

  /** The position from which every batch may hold a timestamp ≥ ts (all before it are older). */
  positionForTimestamp(ts: number): number {
    let pos = 0;
    for (let i = 0; i < this.idxTsBefore.length; i++) {
      if (this.idxTsBefore[i]! < ts) pos = this.idxPosition[i]!;
      else break;
    }
    return pos;
  }

  async read(buf: Buffer, length: number, position: number): Promise<number> {
    this.reading++;
    try {
      if (!this.reader) {
        this.readerOpening ??= open(this.logPath, 'r');
        this.reader = await this.readerOpening;
      }
      let done = 0;
      while (done < length) {
        const { bytesRead } = await this.reader.read(buf, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    } finally {
      this.reading--;
    }
  }

  /** Closes the read handle unless a read is using it (a reader that finished a sealed segment). */
  releaseReader(): void {
    if (this.reading === 0 && this.reader) void this.closeReader();
  }

  async closeReader(): Promise<void> {
    const r = this.reader ?? (this.readerOpening ? await this.readerOpening.catch(() => undefined) : undefined);
    this.reader = undefined;
    this.readerOpening = undefined;
    await r?.close().catch(() => {});
  }

  async writeIndex(): Promise<void> {
    const n = this.idxOffset.length;
    const buf = Buffer.alloc(32 + n * 24 + 4);
    buf.writeUInt32LE(INDEX_MAGIC, 0);
    buf.writeDoubleLE(this.next, 4);
    buf.writeDoubleLE(this.size, 12);
    buf.writeDoubleLE(this.maxTimestamp, 20);
    buf.writeUInt32LE(n, 28);
    for (let i = 0; i < n; i++) {
      buf.writeDoubleLE(this.idxOffset[i]!, 32 + i * 24);
      buf.writeDoubleLE(this.idxPosition[i]!, 40 + i * 24);
      buf.writeDoubleLE(this.idxTsBefore[i]!, 48 + i * 24);
    }
    buf.writeUInt32LE(crc32(buf.subarray(0, buf.length - 4)), buf.length - 4);
    const tmp = `${this.indexPath}.tmp`;
    await writeFile(tmp, buf);
    await rename(tmp, this.indexPath);
  }

  /** Loads a sealed segment's index; false when it is missing, damaged or does not match the log. */
  async loadIndex(logSize: number): Promise<boolean> {
    const buf = await readFile(this.indexPath).catch(() => undefined);
    if (!buf || buf.length < 36 || buf.readUInt32LE(0) !== INDEX_MAGIC) return false;
    if (crc32(buf.subarray(0, buf.length - 4)) !== buf.readUInt32LE(buf.length - 4)) return false;
    const n = buf.readUInt32LE(28);
    if (buf.length !== 32 + n * 24 + 4 || buf.readDoubleLE(12) !== logSize) return false;
    this.next = buf.readDoubleLE(4);
    this.size = logSize;
    this.maxTimestamp = buf.readDoubleLE(20);
    for (let i = 0; i < n; i++) {
      this.idxOffset.push(buf.readDoubleLE(32 + i * 24));
      this.idxPosition.push(buf.readDoubleLE(40 + i * 24));
      this.idxTsBefore.push(buf.readDoubleLE(48 + i * 24));
    }
    return true;
  }

  /**
   * Reads every batch, checking checksums and offset continuity, and rebuilds the index. A damaged
   * or torn batch ends the scan: the active segment is cut there (`truncate`), a sealed one is
   * reported as corrupt — it was fsynced before it was sealed, so damage there is not a torn write.
   */
  async scan(opts: { truncate: boolean; interval: number; maxBatch: number; onTruncate?: (pos: number, reason: string) => void }): Promise<void> {
    const fh = await open(this.logPath, opts.truncate ? 'r+' : 'r');
    try {
      const fileSize = (await fh.stat()).size;
      let buf = Buffer.alloc(0);
      let bufPos = 0;
      let pos = 0;
      const fill = async (n: number) => {
        const len = Math.min(Math.max(n, SCAN_CHUNK), fileSize - pos);
        buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fh.read(buf, 0, len, pos);
        buf = buf.subarray(0, bytesRead);
        bufPos = pos;
      };
      // Where the last complete append ends (a batch without CONTINUED), and what noteBatch had then.
      let group = this.mark(pos);
      let inAppend = false;
      while (pos < fileSize) {
        if (pos + 32 > bufPos + buf.length) await fill(SCAN_CHUNK);
        let c = checkBatch(buf, pos - bufPos, buf.length, opts.maxBatch);
        if (!c.ok && c.torn && bufPos + buf.length < fileSize) {
          const want = buf.length - (pos - bufPos) >= 12 ? buf.readUInt32LE(pos - bufPos + 8) + 12 : 32;
          await fill(want);
          c = checkBatch(buf, 0, buf.length, opts.maxBatch);
        }
        let reason = c.ok ? '' : c.reason;
        if (c.ok && c.header.baseOffset !== this.next) reason = `batch starts at offset ${c.header.baseOffset}, expected ${this.next}`;
        if (reason) {
          if (!opts.truncate) {
            throw new MonsoonError(ErrorCodes.BUS_CORRUPT, `${this.logPath}: ${reason} at byte ${pos}; this sealed segment is damaged`);
          }
          opts.onTruncate?.(pos, reason);
          await fh.truncate(pos);
          await fh.sync();
          break;
        }
        if (!c.ok) break;
        const h = c.header;
        this.noteBatch(pos, h.baseOffset, h.count, h.size, h.maxTimestamp, opts.interval);
        pos += h.size;
        inAppend = h.continued;
        if (!inAppend) group = this.mark(pos);
      }
      if (inAppend && opts.truncate) {
        // the file ends inside an append whose last batches never reached it: none of it was acknowledged
        opts.onTruncate?.(group.pos, 'an append was cut short (its last batches are missing)');
        await fh.truncate(group.pos);
        await fh.sync();
        this.restore(group);
        pos = group.pos;
      }
      this.size = pos;
    } finally {
      await fh.close();
    }
  }

  async remove(): Promise<void> {
    await this.closeReader();
    await unlink(this.logPath).catch(() => {});
    await unlink(this.indexPath).catch(() => {});
  }
}
