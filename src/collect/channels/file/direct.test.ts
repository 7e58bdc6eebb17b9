import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BLOCK, DIRECT_CREATE_FLAGS, directStaging, isZeroPaddedEnd } from './direct.js';
import { encodeTx } from './records.js';
import { drain, fileConfig, FileHarness, numbered, putCommit } from './test-support.js';
import { LogWriter, SCAN_CHUNK, dataFilePath, scanFile } from './wal.js';
import { seededNonZeroBytes as bytes } from '../../../core/random.js';


describe('file channel direct I/O', () => {
  it('appends of any size land back to back, the file padded with zeros to the next block', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-direct-'));
    try {
      // the development and CI machines' filesystem (ext4) takes direct writes; where it does not,
      // the channel falls back to buffered writes, which the recovery tests cover too
      const staging = await directStaging([dir]);
      assert.ok(typeof staging !== 'string', `${dir} should take direct writes on this machine: ${staging}`);
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
    const missing = join(tmpdir(), 'monsoon-no-such-dir', 'x');
    assert.match(String(await directStaging([missing])), /monsoon-no-such-dir\/x does not take direct I\/O \(ENOENT/);
  });

  it('finds memory that suits every data directory, on different filesystems', async () => {
    // tmpfs takes direct writes from memory of any alignment, ext4 on this machine's disk wants 512
    // bytes: a start probed in the first directory alone fails in the second
    const shm = await mkdtemp('/dev/shm/monsoon-direct-');
    const disk = await mkdtemp(join(tmpdir(), 'monsoon-direct-'));
    const h = new FileHarness(fileConfig({ dataDirs: `${shm},${disk}`, maxFileSize: 600 }));
    try {
      await h.channel.start();
      for (let i = 0; i < 6; i++) await putCommit(h.channel, numbered(i * 5, 5));
      assert.ok((await readdir(disk)).some((f) => f.startsWith('log-')), 'files were written in both directories');
      assert.ok((await readdir(shm)).some((f) => f.startsWith('log-')));
      assert.deepEqual(await drain(h.channel), Array.from({ length: 30 }, (_, i) => i));
    } finally {
      await h.cleanup();
      await rm(shm, { recursive: true, force: true });
      await rm(disk, { recursive: true, force: true });
    }
  });

  it('a clean file whose padding lies past the end of the scan buffer reads as clean', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-direct-'));
    const staging = await directStaging([dir]);
    assert.ok(typeof staging !== 'string', String(staging));
    const w = new LogWriter([dir], 1 << 30, 1, staging);
    try {
      await w.open();
      // the scan reads 4 MiB at a time: the second transaction starts a buffer and ends 100 bytes
      // before its end, with ~2 KiB of padding after it, mostly outside the buffer
      const overhead = encodeTx([{ headers: {}, body: Buffer.alloc(0) }], [], { name: 'x' }).buf.length;
      const txOf = (n: number): Buffer => encodeTx([{ headers: {}, body: Buffer.alloc(n - overhead, 0x41) }], [], { name: 'x' }).buf;
      await w.append(txOf(2000), () => {});
      await w.append(txOf(SCAN_CHUNK - 100), () => {});
      const corrupt: string[] = [];
      let commits = 0;
      await scanFile(dataFilePath([dir], 1), 1, 0, { commit: () => commits++, corrupt: (o, r) => corrupt.push(`${o}: ${r}`) });
      assert.equal(commits, 2);
      assert.deepEqual(corrupt, [], 'a clean end is not damage');
    } finally {
      await w.close();
      await rm(dir, { recursive: true, force: true });
    }
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
