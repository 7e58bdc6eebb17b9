/**
 * Reusable scratch buffers for batch-sized work (encoding a transaction, reading a run of records,
 * assembling a frame). A fresh multi-megabyte Buffer costs a page fault per 4 KiB the first time it
 * is written, and its external memory drives extra garbage collections; a pooled one costs neither.
 *
 * A buffer taken from the pool belongs to the taker until it is given back; nothing may keep a view
 * into it afterwards (copy out what must outlive it). The pool keeps at most `keep` buffers of at
 * most `maxBytes` each, so it is bounded.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly keep = 4,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  /** A buffer of at least `size` bytes (its length may be larger). */
  take(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.length >= size && (best < 0 || b.length < this.free[best]!.length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0]!;
    // Room to grow a little, so that slightly larger batches reuse the buffer too.
    return Buffer.allocUnsafeSlow(size + (size >>> 3));
  }

  /** Returns a buffer obtained from `take` (the whole buffer, not a view of it). */
  give(buf: Buffer): void {
    if (buf.length > this.maxBytes) return;
    if (this.free.length >= this.keep) {
      // keep the larger buffers: they serve every request the smaller ones would
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i]!.length < this.free[smallest]!.length) smallest = i;
      if (this.free[smallest]!.length >= buf.length) return;
      this.free.splice(smallest, 1);
    }
    this.free.push(buf);
  }
}
