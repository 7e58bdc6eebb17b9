/**
 * Event bodies carved one after another out of shared 64 KiB buffers, for sources that make one
 * small buffer per event (a spooled line). Buffer.from makes each one out of Node's 8 KiB pool: a
 * new pool every eight 1 KB lines, each a backing store of its own that the garbage collector
 * tracks, plus a pass over a string to measure it before encoding. Here a UTF-8 body is encoded
 * straight into the slab with room for its worst case, and a slab serves ~64 such lines.
 *
 * A body keeps its whole slab alive, as a pool slice keeps its pool; consumers that bound memory
 * by backing buffer (the file channel's recent events) see the slab as one buffer. A memory
 * channel's byteCapacity counts bodies, as Flume's does: where an interceptor or selector keeps one
 * line in many, each kept body may hold up to 64 KiB where a pool slice held 8 KiB. Empty bodies
 * hold nothing.
 */
export const SLAB_BYTES = 64 * 1024;
/** Larger pieces get a buffer of their own, so one piece never wastes most of a slab. */
const OWN_FROM = SLAB_BYTES / 8;
const EMPTY = Buffer.alloc(0);

export class ByteSlab {
  private buf = Buffer.allocUnsafe(0);
  private used = 0;

  /** A copy of `src`. */
  copy(src: Uint8Array): Buffer {
    const n = src.length;
    if (n === 0) return EMPTY;
    if (n >= OWN_FROM) return Buffer.from(src);
    const at = this.room(n);
    this.buf.set(src, at);
    this.used = at + n;
    return this.buf.subarray(at, at + n);
  }

  /** `s` encoded as UTF-8 (lone surrogates become U+FFFD, as Buffer.from writes them). */
  utf8(s: string): Buffer {
    // at most 3 bytes per UTF-16 unit (a surrogate pair's 4 bytes take two units)
    const worst = 3 * s.length;
    if (worst === 0) return EMPTY;
    if (worst >= OWN_FROM) return Buffer.from(s, 'utf8');
    const at = this.room(worst);
    const n = this.buf.write(s, at, worst, 'utf8');
    this.used = at + n;
    return this.buf.subarray(at, at + n);
  }

  /** Where `n` bytes fit: the current slab's free part, or a new slab. */
  private room(n: number): number {
    if (this.buf.length - this.used >= n) return this.used;
    this.buf = Buffer.allocUnsafe(SLAB_BYTES);
    this.used = 0;
    return 0;
  }
}
