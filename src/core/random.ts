/**
 * mulberry32: a small, fast, seeded generator of numbers in [0, 1), so generated data (RandomGen
 * rows, the CDR generator's records) repeats exactly from its seed. Not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` deterministic bytes from `seed` (xorshift), none of them zero: test data for file formats,
 * where zero bytes would be mistaken for (or hide) padding.
 */
export function seededNonZeroBytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = (x & 0xfe) | 1;
  }
  return b;
}
