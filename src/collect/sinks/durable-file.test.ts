import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BLOCK } from '../../core/direct-io.js';
import { seededNonZeroBytes as bytes } from '../../core/random.js';
import { DirectMemory, OutputFile } from './durable-file.js';

/** Runs `fn` in a fresh directory on the machine's disk, removed afterwards. */
async function inDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-outfile-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function memoryIn(dir: string, size?: number): Promise<DirectMemory> {
  const m = await DirectMemory.for(dir, size);
  // the development and CI machines' filesystem (ext4) takes direct writes
  assert.ok(typeof m !== 'string', `${dir} should take direct writes on this machine: ${m}`);
  return m;
}

describe('output files with direct I/O', () => {
  it('appends of any size land back to back; the file is never longer than its data', () =>
    inDir(async (dir) => {
      // a small memory (3 blocks), so that large appends go in parts
      const memory = await memoryIn(dir, 3 * BLOCK);
      const path = join(dir, 'out');
      const f = await OutputFile.create(path, memory);
      assert.ok(f.isDirect);
      const want: Buffer[] = [];
      const sizes = [8, 100, 5000, BLOCK - ((8 + 100 + 5000) % BLOCK), 1, 3 * BLOCK + 17, BLOCK * 3, 5, 2 * BLOCK - 5, 10 * BLOCK + 1, 0, 7];
      let seed = 1;
      for (const n of sizes) {
        const b = bytes(n, seed++);
        await f.append(b);
        want.push(b);
        const got = await readFile(path);
        assert.equal(got.length, f.length, `file size after ${n} bytes`);
        assert.ok(got.equals(Buffer.concat(want)), `content after an append of ${n} bytes`);
      }
      // serialized in place: reserve() hands out the memory behind the file's partial block
      for (const size of [() => 300, () => 2 * BLOCK + 9, () => 3 * BLOCK - (f.length % BLOCK)]) {
        const n = size();
        const dst = f.reserve(n);
        assert.ok(dst, `room for ${n} bytes`);
        bytes(n, seed).copy(dst);
        want.push(bytes(n, seed++));
        await f.append(dst);
        assert.ok((await readFile(path)).equals(Buffer.concat(want)), `content after an in-place append of ${n} bytes`);
      }
      assert.equal(f.reserve(3 * BLOCK - (f.length % BLOCK) + 1), undefined, 'no room past the memory');
      await f.close();
    }));

  it('a truncate, and an open cut back to a committed length, continue from the right partial block', () =>
    inDir(async (dir) => {
      const memory = await memoryIn(dir);
      const path = join(dir, 'out');
      const a = bytes(BLOCK + 700, 1);
      const b = bytes(2 * BLOCK + 5, 2);
      const c = bytes(3000, 3);
      const f = await OutputFile.create(path, memory);
      await f.append(a);
      await f.append(b);
      await f.truncate(a.length); // a batch undone
      await f.append(c);
      assert.ok((await readFile(path)).equals(Buffer.concat([a, c])));
      await f.close();
      // a restart: the file holds a + c + an uncommitted d; the committed length is a + c
      const d = bytes(5000, 4);
      const g0 = await OutputFile.open(path, undefined, memory);
      await g0.append(d);
      await g0.close();
      const g = await OutputFile.open(path, a.length + c.length, memory);
      assert.ok(g.isDirect);
      assert.equal(g.length, a.length + c.length);
      const e = bytes(BLOCK * 2, 5);
      await g.append(e);
      assert.ok((await readFile(path)).equals(Buffer.concat([a, c, e])));
      await g.close();
    }));

  it('a reader during appends sees a prefix of the data, never padding', () =>
    inDir(async (dir) => {
      const memory = await memoryIn(dir);
      const path = join(dir, 'out');
      const f = await OutputFile.create(path, memory);
      const all = bytes(64 * BLOCK, 9);
      let off = 0;
      let checks = 0;
      const writer = (async () => {
        for (let i = 1; off < all.length; i++) {
          const n = Math.min(all.length - off, (i * 1237) % (3 * BLOCK) + 1);
          await f.append(all.subarray(off, off + n));
          off += n;
        }
      })();
      let done = false;
      void writer.finally(() => (done = true));
      while (!done) {
        const got = await readFile(path);
        assert.ok(got.equals(all.subarray(0, got.length)), `a read of ${got.length} bytes is a prefix of the data`);
        checks++;
      }
      await writer;
      assert.ok(checks > 3, `the reader ran alongside (${checks} reads)`);
      assert.equal((await stat(path)).size, all.length);
      await f.close();
    }));

  it('an append that failed part-way is cut off before the next one is written', () =>
    inDir(async (dir) => {
      const memory = await memoryIn(dir);
      const path = join(dir, 'out');
      const f = await OutputFile.create(path, memory);
      const a = bytes(BLOCK + 100, 1);
      await f.append(a);
      // the direct handle writes one block of the next append, then fails (a disk error mid-batch)
      const direct = (f as unknown as { direct: { fh: FileHandle } }).direct.fh;
      const write = direct.write.bind(direct) as (b: Buffer, o: number, l: number, p: number) => Promise<{ bytesWritten: number }>;
      direct.write = (async (b: Buffer, o: number, _l: number, p: number) => {
        await write(b, o, BLOCK, p);
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      }) as unknown as FileHandle['write'];
      await assert.rejects(f.append(bytes(4 * BLOCK, 2)), /EIO/);
      assert.ok((await stat(path)).size > a.length, 'the failed append left bytes behind');
      direct.write = write as unknown as FileHandle['write'];
      // no truncate by the caller: the next append cuts them off itself
      const c = bytes(2 * BLOCK + 3, 3);
      await f.append(c);
      assert.ok((await readFile(path)).equals(Buffer.concat([a, c])));
      await f.close();
    }));

  it('direct memory must hold two blocks; probe files a killed process left behind are removed', () =>
    inDir(async (dir) => {
      await assert.rejects(DirectMemory.for(dir, BLOCK), /at least 8192 bytes/);
      // a pid that cannot be running (above the kernel's pid_max) and this process's own
      await writeFile(join(dir, '.direct-io-probe-999999999-0-1'), 'x');
      await writeFile(join(dir, `.direct-io-probe-${process.pid}-7-1`), 'x');
      await memoryIn(dir);
      assert.deepEqual(await readdir(dir), [`.direct-io-probe-${process.pid}-7-1`]);
    }));

  it('probing for direct I/O makes no file appear in the directory (an unnamed O_TMPFILE probe on ext4)', () =>
    inDir(async (dir) => {
      // 'rename' is a name created or removed; writes to the unnamed file show as 'change' of "#<inode>"
      const seen: string[] = [];
      const w = watch(dir, (event, name) => {
        if (event === 'rename') seen.push(String(name));
      });
      try {
        await memoryIn(dir);
        await new Promise((r) => setTimeout(r, 100)); // inotify events arrive asynchronously
      } finally {
        w.close();
      }
      assert.deepEqual(seen, []);
      assert.deepEqual(await readdir(dir), []);
    }));

  it('two files cannot append through the same memory at once', () =>
    inDir(async (dir) => {
      const memory = await memoryIn(dir);
      const f = await OutputFile.create(join(dir, 'a'), memory);
      const g = await OutputFile.create(join(dir, 'b'), memory);
      const first = f.append(bytes(3 * BLOCK, 1));
      await assert.rejects(g.append(bytes(3 * BLOCK, 2)), /another file is appending through the same direct memory/);
      await first;
      await g.append(bytes(3 * BLOCK, 2));
      assert.equal(g.length, 3 * BLOCK);
      await f.close();
      await g.close();
    }));

  it('a directory that takes no direct writes is named; without memory, files are written through the page cache', () =>
    inDir(async (dir) => {
      const m = await DirectMemory.for(join(dir, 'missing'));
      assert.match(String(m), /missing does not take direct I\/O \(ENOENT/);
      const f = await OutputFile.create(join(dir, 'out'));
      assert.ok(!f.isDirect);
      assert.equal(f.reserve(10), undefined);
      await f.append(bytes(5000, 1));
      await f.append(bytes(3 * BLOCK, 2));
      await f.truncate(5000);
      assert.ok((await readFile(join(dir, 'out'))).equals(bytes(5000, 1)));
      await f.close();
    }));
});
