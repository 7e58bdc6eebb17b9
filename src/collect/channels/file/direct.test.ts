import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BLOCK, DIRECT_CREATE_FLAGS, directStaging, isZeroPaddedEnd } from './direct.js';

/** Deterministic bytes, never zero (so padding is told apart from data). */
function bytes(n: number, seed: number): Buffer {
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

describe('file channel direct I/O', () => {
  it('appends of any size land back to back, the file padded with zeros to the next block', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-direct-'));
    try {
      // the development and CI machines' filesystem (ext4) takes direct writes; where it does not,
      // the channel falls back to buffered writes, which the recovery tests cover too
      const staging = await directStaging(dir);
      assert.ok(staging, `${dir} should take direct writes on this machine`);
      assert.deepEqual(await readdir(dir), [], 'the probe file is removed');
      const path = join(dir, 'log');
      const fh = await open(path, DIRECT_CREATE_FLAGS);
      const expected: Buffer[] = [];
      try {
        // small appends inside one block, appends across blocks, several buffers at once, one
        // larger than the staging memory (written in parts), and appends ending on a block boundary
        const sizes = [[8], [100], [3000, 2000], [BLOCK - ((8 + 100 + 5000) % BLOCK)], [1], [9 * 1024 * 1024 + 17], [BLOCK * 3], [5, 6, 7]];
        let seed = 1;
        for (const group of sizes) {
          const bufs = group.map((n) => bytes(n, seed++));
          await staging.append(fh, bufs, staging.end);
          expected.push(...bufs);
          const want = Buffer.concat(expected);
          const got = await readFile(path);
          assert.equal(got.length, Math.ceil(want.length / BLOCK) * BLOCK, `file size after ${want.length} bytes`);
          assert.ok(got.subarray(0, want.length).equals(want), `content after ${want.length} bytes`);
          assert.ok(isZeroPaddedEnd(got, want.length, got.length - want.length, want.length, got.length), 'zero padding up to the block boundary');
        }
        await assert.rejects(staging.append(fh, [bytes(10, 99)], 0), /direct append at 0/);
      } finally {
        await fh.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports no direct I/O where the probe cannot even open a file', async () => {
    assert.equal(await directStaging(join(tmpdir(), 'monsoon-no-such-dir', 'x')), undefined);
  });

  it('tells the zero padding after the last record from damage', () => {
    const b = Buffer.alloc(BLOCK * 2);
    b.fill(7, 0, 5000);
    assert.ok(isZeroPaddedEnd(b, 5000, BLOCK * 2 - 5000, 5000, BLOCK * 2), 'zeros to the block boundary: the clean end');
    assert.ok(!isZeroPaddedEnd(b, 3000, BLOCK * 2 - 3000, 3000, BLOCK * 2), 'non-zero bytes after the position');
    assert.ok(!isZeroPaddedEnd(b, 100, BLOCK * 2 - 100, 100, BLOCK * 2), 'zeros must end at the first boundary after the position');
    b.fill(0);
    assert.ok(!isZeroPaddedEnd(b, 4000, BLOCK, 4000, BLOCK * 2), 'a file longer than the next boundary is not padding');
    assert.ok(!isZeroPaddedEnd(b, 5000, 10, 5000, BLOCK * 2), 'all the padding must be at hand');
  });
});
