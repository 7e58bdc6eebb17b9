/**
 * Measures and writes the short strings of record formats (header names and values) as UTF-8 into a
 * buffer being encoded, cheaper than Buffer.byteLength plus Buffer#write: two native calls per
 * string. Short ASCII strings (names, sequence numbers) are measured and written by a JS loop. A
 * longer string measured again, or written again, while it is among the last few seen (an origin,
 * a file path: once per event) has its bytes kept, so it is encoded once per run and copied from
 * then on; strings seen once, and strings over CACHED_MAX characters, take the native calls and are
 * never copied. Measuring counts on its own: an encoder sizes a whole batch before it writes any of
 * it, and a batch usually starts a new origin (a new file), so waiting for the second write kept it
 * only after every event of that batch had been measured natively. A string measured and then
 * written once (an encoder that writes each string right after measuring it) is not kept.
 */

/** Strings shorter than this are measured and written by a JS loop when they are ASCII. */
const SHORT = 16;
/** Longer strings whose bytes are kept, and strings remembered as seen once. */
const RECENT = 4;
/** Strings longer than this are never kept. */
const CACHED_MAX = 1024;
const EMPTY = Buffer.alloc(0);

export class Utf8Strings {
  private readonly strs: string[] = new Array<string>(RECENT).fill('');
  private readonly bytes: Buffer[] = new Array<Buffer>(RECENT).fill(EMPTY);
  private next = 0;
  private readonly seen: string[] = new Array<string>(RECENT).fill('');
  /** Whether each `seen` entry was noted by a write (1) or a measure (0). */
  private readonly seenWritten = new Uint8Array(RECENT);
  private seenNext = 0;

  /** UTF-8 byte length of `s`. */
  length(s: string): number {
    const n = s.length;
    if (n < SHORT) {
      let i = 0;
      while (i < n && s.charCodeAt(i) < 0x80) i++;
      return i === n ? n : Buffer.byteLength(s);
    }
    const b = this.cached(s, 0);
    return b ? b.length : Buffer.byteLength(s);
  }

  /** Writes `s` as UTF-8 at `off` (room for length(s) bytes is there); returns the offset after it. */
  write(buf: Buffer, off: number, s: string): number {
    const n = s.length;
    if (n < SHORT) {
      let p = off;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      return i === n ? p : off + buf.write(s, off);
    }
    const b = this.cached(s, 1);
    if (!b) return off + buf.write(s, off);
    const len = b.length;
    if (len < 128) {
      for (let i = 0; i < len; i++) buf[off + i] = b[i]!;
    } else {
      buf.set(b, off);
    }
    return off + len;
  }

  /**
   * The kept bytes of `s`, or undefined. Measuring (`written` 0) or writing (1) a string noted
   * recently by the same kind of call keeps its bytes; otherwise the call is noted.
   */
  private cached(s: string, written: 0 | 1): Buffer | undefined {
    for (let i = 0; i < RECENT; i++) if (this.strs[i] === s) return this.bytes[i]!;
    if (s.length > CACHED_MAX) return undefined;
    for (let i = 0; i < RECENT; i++) {
      if (this.seen[i] !== s || this.seenWritten[i] !== written) continue;
      this.seen[i] = '';
      const b = Buffer.from(s);
      this.strs[this.next] = s;
      this.bytes[this.next] = b;
      this.next = (this.next + 1) % RECENT;
      return b;
    }
    this.seen[this.seenNext] = s;
    this.seenWritten[this.seenNext] = written;
    this.seenNext = (this.seenNext + 1) % RECENT;
    return undefined;
  }
}
