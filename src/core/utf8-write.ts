/**
 * Measures and writes the short strings of record formats (header names and values) as UTF-8 into a
 * buffer being encoded, cheaper than Buffer.byteLength plus Buffer#write: two native calls per
 * string. Short ASCII strings (names, sequence numbers) are measured and written by a JS loop; the
 * bytes of the last few longer ones (an origin, a file path, recurring event after event) are kept,
 * so each is encoded once per run and copied from then on.
 */

/** Strings shorter than this are measured and written by a JS loop when they are ASCII. */
const SHORT = 16;
/** Longer strings whose bytes are kept. */
const RECENT = 4;

export class Utf8Strings {
  private readonly strs: string[] = new Array<string>(RECENT).fill('');
  private readonly bytes: Buffer[] = new Array<Buffer>(RECENT).fill(Buffer.alloc(0));
  private next = 0;

  /** UTF-8 byte length of `s`. */
  length(s: string): number {
    const n = s.length;
    if (n < SHORT) {
      let i = 0;
      while (i < n && s.charCodeAt(i) < 0x80) i++;
      return i === n ? n : Buffer.byteLength(s);
    }
    return this.encoded(s).length;
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
    const b = this.encoded(s);
    const len = b.length;
    if (len < 128) {
      for (let i = 0; i < len; i++) buf[off + i] = b[i]!;
    } else {
      buf.set(b, off);
    }
    return off + len;
  }

  private encoded(s: string): Buffer {
    for (let i = 0; i < RECENT; i++) if (this.strs[i] === s) return this.bytes[i]!;
    const b = Buffer.from(s);
    this.strs[this.next] = s;
    this.bytes[this.next] = b;
    this.next = (this.next + 1) % RECENT;
    return b;
  }
}
