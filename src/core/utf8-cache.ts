/**
 * Decodes short UTF-8 strings that recur event after event (header names, origins) to one shared
 * string instead of allocating it again: a small direct-mapped cache keyed by the bytes, compared
 * byte for byte. A slot that was hit since it was filled survives one miss (second chance), so that
 * one-off values (sequence numbers) do not evict the recurring ones. Bounded: `slots × maxLen` bytes.
 */
export class Utf8Cache {
  private readonly bytes: Uint8Array;
  private readonly lens: Int32Array;
  private readonly strs: string[];
  private readonly hot: Uint8Array;
  private readonly mask: number;

  constructor(
    slots = 128,
    private readonly maxLen = 128,
  ) {
    let n = 1;
    while (n < slots) n <<= 1;
    this.mask = n - 1;
    this.bytes = new Uint8Array(n * maxLen);
    this.lens = new Int32Array(n).fill(-1);
    this.strs = new Array<string>(n).fill('');
    this.hot = new Uint8Array(n);
  }

  /** `buf.toString('utf8', start, end)`, shared when the same bytes were decoded recently. */
  decode(buf: Buffer, start: number, end: number): string {
    const n = end - start;
    if (n <= 0) return '';
    if (n > this.maxLen) return buf.toString('utf8', start, end);
    const h = (Math.imul(n, 0x9e3779b1) ^ Math.imul(buf[start]!, 31) ^ Math.imul(buf[end - 1]!, 131) ^ Math.imul(buf[start + (n >> 1)]!, 7)) & this.mask;
    const base = h * this.maxLen;
    const bytes = this.bytes;
    if (this.lens[h] === n) {
      let i = 0;
      while (i < n && bytes[base + i] === buf[start + i]) i++;
      if (i === n) {
        this.hot[h] = 1;
        return this.strs[h]!;
      }
    }
    const s = (n <= 8 && asciiShort(buf, start, end)) || buf.toString('utf8', start, end);
    if (this.hot[h] === 1) {
      this.hot[h] = 0;
    } else {
      for (let i = 0; i < n; i++) bytes[base + i] = buf[start + i]!;
      this.lens[h] = n;
      this.strs[h] = s;
    }
    return s;
  }
}

const fcc = String.fromCharCode;

/**
 * Up to 8 ASCII bytes as a string without a native call (one-off values such as sequence numbers:
 * ~13 ns against ~87 for Buffer#toString, measured side by side), or '' when one is not ASCII.
 */
function asciiShort(b: Buffer, s: number, e: number): string {
  let or = 0;
  for (let i = s; i < e; i++) or |= b[i]!;
  if (or >= 0x80) return '';
  switch (e - s) {
    case 1:
      return fcc(b[s]!);
    case 2:
      return fcc(b[s]!, b[s + 1]!);
    case 3:
      return fcc(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    default:
      return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
  }
}
