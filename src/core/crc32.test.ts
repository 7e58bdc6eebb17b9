import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { crc32, crc32At, crc32Implementation, crc32Table } from './crc32.js';
import { seededNonZeroBytes } from './random.js';

describe('crc32', () => {
  it('uses the SIMD implementation on this platform (its prebuilt binary installed from npm)', () => {
    assert.equal(crc32Implementation, 'simd');
  });

  it('gives the standard CRC-32 check values', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.alloc(0)), 0);
  });

  it('agrees with zlib and the table on every size and on views at any offset', () => {
    const bytes = seededNonZeroBytes(70_000, 7);
    for (const len of [1, 3, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1024, 4099, 65_537]) {
      for (const start of [0, 1, 5, 4096]) {
        const view = bytes.subarray(start, start + len);
        const want = zlib.crc32(view) >>> 0;
        assert.equal(crc32Table(view), want, `table, ${len} bytes at ${start}`);
        assert.equal(crc32(view), want, `crc32, ${len} bytes at ${start}`);
        assert.equal(crc32(new Uint8Array(view)), want, `crc32 of a plain Uint8Array, ${len} bytes`);
        assert.equal(crc32At(bytes, start, len), want, `crc32At, ${len} bytes at ${start}`);
      }
    }
  });
});
