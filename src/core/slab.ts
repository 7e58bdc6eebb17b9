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
  private wordBuf: ArrayBufferLike | undefined;
  private words: Int32Array<ArrayBufferLike> = new Int32Array(0);
  /** Offsets of a line's high bytes (latin1AsUtf8); grows to the longest line seen. */
  private highs = new Int32Array(0);

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

  /**
   * ISO-8859-1 bytes as UTF-8, without a string in between. (A caller that sees mostly ASCII lines
   * checks them with node:buffer's isAscii and copies those, as the spooling line reader does; this
   * is for the others.) The offsets of the high bytes are found first — where src's bytes sit on
   * 4-byte boundaries of their buffer, 16 bytes at a time (four words OR-ed), only a block with a
   * high bit byte by byte — which gives the exact size; the line is copied in one piece to the end
   * of that extent and the part up to its last high byte moves down into place run by run (one
   * memmove a run, a loop for 16 bytes or fewer), each high byte becoming its two-byte sequence. A
   * 1 KB call record with a few Latin-1 letters: 0.66–1.13 µs against 0.72–1.22 moving runs up from
   * the end and 1.16–1.40 copying run by run and converting byte by byte (measured side by side,
   * three rounds each, on a machine whose speed varied). No 1 KB string is left for the garbage
   * collector.
   */
  latin1AsUtf8(src: Uint8Array): Buffer {
    const n = src.length;
    if (n === 0) return EMPTY;
    const h = this.findHigh(src);
    const size = n + h;
    let out: Buffer;
    let at: number;
    if (size >= OWN_FROM) {
      out = Buffer.allocUnsafe(size);
      at = 0;
    } else {
      at = this.room(size);
      out = this.buf;
      this.used = at + size;
    }
    // The line goes to the end of its extent; each run before a high byte then moves down to its
    // place (the first by h bytes, each later one by one byte less), and after the last high byte
    // the rest is already where it belongs.
    out.set(src, at + h);
    const pos = this.highs;
    let w = at; // where the next byte goes
    let r = at + h; // the next byte not yet moved
    for (let j = 0; j < h; j++) {
      const k = at + h + pos[j]!; // the high byte, where the line was put
      const len = k - r;
      if (len > 16) out.copyWithin(w, r, k);
      else for (let q = 0; q < len; q++) out[w + q] = out[r + q]!;
      w += len;
      const c = out[k]!;
      out[w] = 0xc0 | (c >> 6);
      out[w + 1] = 0x80 | (c & 0x3f);
      w += 2;
      r = k + 1;
    }
    return size >= OWN_FROM ? out : out.subarray(at, at + size);
  }

  /** Puts the offsets of src's bytes from 0x80 into `highs`, in order; returns how many there are. */
  private findHigh(src: Uint8Array): number {
    const n = src.length;
    if (this.highs.length < n) this.highs = new Int32Array(Math.max(n, 2 * this.highs.length));
    const pos = this.highs;
    let h = 0;
    const base = src.byteOffset;
    const w = this.wordsOf(src.buffer);
    const head = Math.min(n, (4 - (base & 3)) & 3); // blocks start at head, head + 16, …
    let i = 0;
    for (; i < head; i++) if (src[i]! >= 0x80) pos[h++] = i;
    for (; i + 16 <= n; i += 16) {
      const wi = (base + i) >>> 2;
      if (((w[wi]! | w[wi + 1]! | w[wi + 2]! | w[wi + 3]!) & 0x80808080) === 0) continue;
      for (let k = i; k < i + 16; k++) if (src[k]! >= 0x80) pos[h++] = k;
    }
    for (; i < n; i++) if (src[i]! >= 0x80) pos[h++] = i;
    return h;
  }

  /**
   * The 4-byte words of `buf`. The view of the last buffer asked about is kept (lines come from one
   * read window), and with it that buffer, until a line from another one comes; a buffer that was
   * resized gets a new view.
   */
  private wordsOf(buf: ArrayBufferLike): Int32Array {
    if (this.wordBuf !== buf || this.words.length !== buf.byteLength >>> 2) {
      this.wordBuf = buf;
      this.words = new Int32Array(buf, 0, buf.byteLength >>> 2);
    }
    return this.words;
  }

  /** Where `n` bytes fit: the current slab's free part, or a new slab. */
  private room(n: number): number {
    if (this.buf.length - this.used >= n) return this.used;
    this.buf = Buffer.allocUnsafe(SLAB_BYTES);
    this.used = 0;
    return 0;
  }
}
