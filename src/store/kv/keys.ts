/**
 * Cell keys of the embedded key-value store. A cell is addressed by (row, family, qualifier); the key
 * is the concatenation of each part encoded as its bytes with 0x00 escaped to 0x00 0xFF, followed by
 * the terminator 0x00 0x01. The escaping keeps byte order: for rows a < b (bytewise, a shorter prefix
 * first), every cell key of a sorts before every cell key of b, and the cells of one row sit together,
 * ordered by family, then qualifier.
 *
 * Bounds for scans follow from that: every row starting with p has cell keys starting with escape(p),
 * and rows >= s have cell keys >= escape(s) (row s itself continues with 0x00 0x01, a longer row with
 * 0x00 0xFF or a byte above 0x00), so [escape(start), escape(stop)) selects rows in [start, stop).
 */
const ESC = 0x00;
const ESC_ZERO = 0xff;
const TERM = 0x01;

export function escapePart(part: Buffer): Buffer {
  let zeros = 0;
  for (const b of part) if (b === ESC) zeros++;
  if (zeros === 0) return part;
  const out = Buffer.allocUnsafe(part.length + zeros);
  let o = 0;
  for (const b of part) {
    out[o++] = b;
    if (b === ESC) out[o++] = ESC_ZERO;
  }
  return out;
}

/** The encoded tuple of `parts`, each escaped and terminated. */
export function encodeKey(...parts: Buffer[]): Buffer {
  const escaped = parts.map(escapePart);
  let size = 0;
  for (const e of escaped) size += e.length + 2;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const e of escaped) {
    o += e.copy(out, o);
    out[o++] = ESC;
    out[o++] = TERM;
  }
  return out;
}

/** Splits an encoded key back into its parts; throws on bytes encodeKey cannot have produced. */
export function decodeKey(key: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < key.length; i++) {
    const b = key[i]!;
    if (b !== ESC) {
      cur.push(b);
      continue;
    }
    const next = key[++i];
    if (next === ESC_ZERO) cur.push(ESC);
    else if (next === TERM) {
      parts.push(Buffer.from(cur));
      cur = [];
    } else throw new Error(`malformed cell key at byte ${i}`);
  }
  if (cur.length) throw new Error('malformed cell key: unterminated part');
  return parts;
}

/** The key range of rows starting with `prefix`: [escape(prefix), next) where next is the first key past them. */
export function prefixRange(prefix: Buffer): { start: Buffer; end: Buffer | undefined } {
  const start = escapePart(prefix);
  return { start, end: prefixEnd(start) };
}

/** The smallest key greater than every key starting with `p` (undefined when p is all 0xFF or empty). */
export function prefixEnd(p: Buffer): Buffer | undefined {
  let i = p.length - 1;
  while (i >= 0 && p[i] === 0xff) i--;
  if (i < 0) return undefined;
  const end = Buffer.from(p.subarray(0, i + 1));
  end[i]!++;
  return end;
}
