import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';

/**
 * CRC-32 (IEEE 802.3, the one zlib and gzip use) of the logs' records and batches: the file
 * channel's write-ahead log, the embedded bus's segments and checkpoints. Every value is the same
 * whichever implementation computes it, so logs written by one are read by any other.
 *
 * Implementations, fastest first: `@node-rs/crc32` (a native SIMD CRC-32 whose prebuilt binary
 * comes from the npm registry as an optional package; on this machine 2× zlib's rate for 1 KB
 * records and 3.5× for whole batches; zlib's still takes inputs under SIMD_FROM bytes), Node's
 * `zlib.crc32` (from Node 20.15), and a table in JavaScript.
 */
export type Crc32Implementation = 'simd' | 'zlib' | 'table';

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** The JavaScript table version: the reference the others are tested against. */
export function crc32Table(b: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < b.length; i++) c = TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

type Native = (b: Uint8Array) => number;

function simd(): Native | undefined {
  try {
    const m = createRequire(import.meta.url)('@node-rs/crc32') as { crc32?: Native };
    return typeof m.crc32 === 'function' ? m.crc32 : undefined;
  } catch {
    return undefined; // no prebuilt binary for this platform
  }
}

const fast = simd();
const zcrc32 = (zlib as { crc32?: Native }).crc32;

/**
 * Below this many bytes zlib's call is the cheaper one (the SIMD version's call costs ~100–200 ns
 * against zlib's ~60–110 ns; it wins from ~256 bytes): commit records, short lines.
 */
const SIMD_FROM = 256;

/** The native CRC-32 for each size, or undefined when only the table is there. */
const native: Native | undefined = fast && zcrc32 ? (b) => (b.length < SIMD_FROM ? zcrc32(b) : fast(b)) : (fast ?? zcrc32);

export const crc32Implementation: Crc32Implementation = fast ? 'simd' : zcrc32 ? 'zlib' : 'table';

/** CRC-32 of `b`, unsigned. */
export const crc32: (b: Uint8Array) => number = native ? (b) => native(b) >>> 0 : crc32Table;

/** CRC-32 of `len` bytes of `buf` from `start`: one native call on a view, no Buffer made. */
export const crc32At: (buf: Uint8Array, start: number, len: number) => number = native
  ? (buf, start, len) => native(new Uint8Array(buf.buffer, buf.byteOffset + start, len)) >>> 0
  : (buf, start, len) => crc32Table(buf.subarray(start, start + len));
