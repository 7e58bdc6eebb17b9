import { isUtf8 } from 'node:buffer';
import { ByteSlab } from '../../../core/slab.js';

/**
 * Input charsets of the spooling directory source. Every supported charset is ASCII-compatible, so
 * a 0x0A byte is always a newline and lines can be cut in byte space before decoding. Note that
 * TextDecoder('iso-8859-1') is really windows-1252; ISO-8859-1 is decoded with Buffer's latin1.
 */
export type DecodePolicy = 'FAIL' | 'REPLACE' | 'IGNORE';

export type Decoded = { text: string } | { badAt: number };

export interface InputCharset {
  readonly name: string;
  /** Byte length of the character that starts at `b[i]` (malformed input counts as short characters). */
  charLen(b: Buffer, i: number): number;
  /** Decodes `b`; under FAIL a malformed sequence gives the index of its first byte (0 when unknown). */
  decode(b: Buffer, policy: DecodePolicy): Decoded;
  /**
   * `b` as UTF-8 in `slab` when that takes no string: what encoding `decode(b)`'s text as UTF-8
   * gives. Undefined when the bytes need decoding (malformed input, whose result the policy decides).
   */
  utf8Bytes?(b: Buffer, slab: ByteSlab): Buffer | undefined;
}

/** Length of a well-formed UTF-8 sequence at b[i], or 0 when the bytes there are malformed. */
function utf8Seq(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

const utf8: InputCharset = {
  name: 'UTF-8',
  charLen(b, i) {
    const c = b[i]!;
    const need = c < 0xc0 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
    let n = 1;
    while (n <= need && i + n < b.length && (b[i + n]! & 0xc0) === 0x80) n++;
    return n;
  },
  decode(b, policy) {
    if (isUtf8(b)) return { text: b.toString('utf8') };
    if (policy === 'REPLACE') return { text: new TextDecoder('utf-8').decode(b) };
    if (policy === 'FAIL') {
      for (let i = 0; i < b.length; ) {
        const n = utf8Seq(b, i);
        if (n === 0) return { badAt: i };
        i += n;
      }
      return { badAt: 0 };
    }
    const keep = Buffer.allocUnsafe(b.length);
    let k = 0;
    for (let i = 0; i < b.length; ) {
      const n = utf8Seq(b, i);
      if (n === 0) i++;
      else {
        b.copy(keep, k, i, i + n);
        k += n;
        i += n;
      }
    }
    return { text: keep.toString('utf8', 0, k) };
  },
  // Well-formed UTF-8 decodes and encodes back to the same bytes.
  utf8Bytes: (b, slab) => (isUtf8(b) ? slab.copy(b) : undefined),
};

const latin1: InputCharset = {
  name: 'ISO-8859-1',
  charLen: () => 1,
  decode: (b) => ({ text: b.toString('latin1') }),
  utf8Bytes: (b, slab) => slab.latin1AsUtf8(b),
};

const ascii: InputCharset = {
  name: 'US-ASCII',
  charLen: () => 1,
  decode(b, policy) {
    const bad = b.findIndex((c) => c >= 0x80);
    if (bad < 0) return { text: b.toString('latin1') };
    if (policy === 'FAIL') return { badAt: bad };
    const s = b.toString('latin1');
    return { text: s.replace(/[\x80-\xff]/g, policy === 'REPLACE' ? '\ufffd' : '') };
  },
};

function gb(name: string): InputCharset {
  const fatal = new TextDecoder(name, { fatal: true });
  const lenient = new TextDecoder(name);
  return {
    name: name.toUpperCase(),
    charLen(b, i) {
      const c = b[i]!;
      if (c < 0x81 || c === 0xff || i + 1 >= b.length) return 1;
      const d = b[i + 1]!;
      if (d >= 0x30 && d <= 0x39) return Math.min(4, b.length - i);
      return 2;
    },
    decode(b, policy) {
      if (policy === 'FAIL') {
        try {
          return { text: fatal.decode(b) };
        } catch {
          return { badAt: 0 };
        }
      }
      const s = lenient.decode(b);
      // A U+FFFD written in GB18030 itself is rare enough that IGNORE drops every replacement character.
      return { text: policy === 'IGNORE' ? s.replace(/\ufffd/g, '') : s };
    },
  };
}

const inputs: Record<string, () => InputCharset> = {
  'utf-8': () => utf8,
  utf8: () => utf8,
  'iso-8859-1': () => latin1,
  'iso8859-1': () => latin1,
  'iso8859_1': () => latin1,
  latin1: () => latin1,
  'us-ascii': () => ascii,
  ascii: () => ascii,
  gbk: () => gb('gbk'),
  gb2312: () => gb('gbk'),
  gb18030: () => gb('gb18030'),
};

export const supportedInputCharsets = ['UTF-8', 'ISO-8859-1', 'US-ASCII', 'GBK', 'GB2312', 'GB18030'];
export const supportedOutputCharsets = ['UTF-8', 'ISO-8859-1', 'US-ASCII'];

export function inputCharset(name: string): InputCharset | undefined {
  return inputs[name.trim().toLowerCase()]?.();
}

/** Whether `name` (a supported output charset) is UTF-8. */
export const isUtf8Charset = (name: string): boolean => ['utf-8', 'utf8'].includes(name.trim().toLowerCase());

/**
 * Encodes text for the event body; characters the charset cannot hold become '?', as Java does.
 * UTF-8 bodies are written into `slab`.
 */
export function outputEncoder(name: string, slab: ByteSlab = new ByteSlab()): ((s: string) => Buffer) | undefined {
  if (isUtf8Charset(name)) return (s) => slab.utf8(s);
  switch (name.trim().toLowerCase()) {
    case 'iso-8859-1':
    case 'latin1':
      return (s) => Buffer.from(s.replace(/[\u{100}-\u{10ffff}]/gu, '?'), 'latin1');
    case 'us-ascii':
    case 'ascii':
      return (s) => Buffer.from(s.replace(/[\u{80}-\u{10ffff}]/gu, '?'), 'latin1');
    default:
      return undefined;
  }
}
