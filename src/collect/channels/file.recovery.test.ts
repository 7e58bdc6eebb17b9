import assert from 'node:assert/strict';
import { open, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileHarness, drain, fileConfig, numbered, putCommit } from './file/test-support.js';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function dataFiles(h: FileHarness): Promise<string[]> {
  const dir = h.channel.dataDirs[0]!;
  const names = (await readdir(dir)).filter((f) => f.startsWith('log-'));
  return names.sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))).map((f) => join(dir, f));
}

/**
 * Where a data file's records end: its size less the zeros a direct-I/O log leaves after its last
 * record up to the next 4 KiB boundary (the records these tests write never end in a zero byte).
 */
async function dataEnd(path: string): Promise<number> {
  const b = await readFile(path);
  let end = b.length;
  if (end % 4096 === 0) while (end > 8 && b[end - 1] === 0 && b.length - end < 4095) end--;
  return end;
}

async function flipByte(path: string, fromEnd: number): Promise<void> {
  const at = (await dataEnd(path)) - fromEnd;
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0x5a;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

/** Three committed batches of ten, then a crash (no checkpoint covers them). */
async function threeBatchesThenCrash(h: FileHarness): Promise<string> {
  await h.channel.start();
  for (let b = 0; b < 3; b++) await putCommit(h.channel, numbered(b * 10, 10), { pos: String(b) });
  await h.channel.halt();
  const files = await dataFiles(h);
  return files[files.length - 1]!;
}

// Both ways of writing the log: direct I/O (zero padding after the last record) and buffered.
for (const directIo of [true, false]) {
const io = directIo ? 'direct I/O' : 'buffered';
describe(`file channel recovery from damaged logs (${io})`, () => {
  it('replays committed transactions after a crash; the latest marker wins', async () => {
    const h = new FileHarness(fileConfig({ directIo }));
    try {
      await threeBatchesThenCrash(h);
      const ch = await h.reopen();
      assert.equal(ch.marker('pos'), '2');
      assert.deepEqual(await drain(ch, 7), range(0, 30));
      assert.equal(h.corrupt(), 0);
    } finally {
      await h.cleanup();
    }
  });

  it('a log cut in the middle of its last record loses only that transaction, and says so once', async () => {
    const h = new FileHarness(fileConfig({ directIo }));
    try {
      const last = await threeBatchesThenCrash(h);
      await truncate(last, (await dataEnd(last)) - 7);
      const ch = await h.reopen();
      assert.equal(h.corrupt(), 1);
      assert.equal(ch.marker('pos'), '1');
      assert.deepEqual(await drain(ch), range(0, 20));
      await putCommit(ch, numbered(100, 2));
      await ch.halt();
      const again = await h.reopen();
      assert.equal(h.corrupt(), 1, 'the cut tail was truncated, not found again');
      assert.deepEqual(await drain(again), [100, 101]);
    } finally {
      await h.cleanup();
    }
  });

  it('a flipped byte in the last record is caught by its checksum', async () => {
    const h = new FileHarness(fileConfig({ directIo }));
    try {
      const last = await threeBatchesThenCrash(h);
      await flipByte(last, 3);
      const ch = await h.reopen();
      assert.equal(h.corrupt(), 1);
      assert.deepEqual(await drain(ch), range(0, 20));
    } finally {
      await h.cleanup();
    }
  });

  it('damage in one data file keeps the other files’ data', async () => {
    // Each transaction is about 330 bytes, so a 400-byte limit puts every batch in its own file.
    const h = new FileHarness(fileConfig({ maxFileSize: 400, directIo }));
    try {
      await h.channel.start();
      for (let b = 0; b < 4; b++) await putCommit(h.channel, numbered(b * 10, 10));
      await h.channel.halt();
      const files = await dataFiles(h);
      assert.ok(files.length >= 4, `expected a file per batch, got ${files.length}`);
      const sizes = await Promise.all(files.map(dataEnd));
      const second = files[sizes.findIndex((s) => s > 8) + 1]!;
      await flipByte(second, 100);
      const ch = await h.reopen();
      assert.equal(h.corrupt(), 1);
      assert.deepEqual(await drain(ch), [...range(0, 10), ...range(20, 40)]);
    } finally {
      await h.cleanup();
    }
  });

  it('an unreadable checkpoint falls back to replaying every data file', async () => {
    const h = new FileHarness(fileConfig({ directIo }));
    try {
      await h.channel.start();
      await putCommit(h.channel, numbered(0, 10), { pos: 'a' });
      await h.channel.stop();
      const ck = join(h.channel.checkpointDir, 'checkpoint');
      const bytes = await readFile(ck);
      bytes[bytes.length - 1] ^= 0xff;
      await writeFile(ck, bytes);
      const ch = await h.reopen();
      assert.equal(h.corrupt(), 1);
      assert.equal(ch.marker('pos'), 'a');
      assert.deepEqual(await drain(ch), range(0, 10));
    } finally {
      await h.cleanup();
    }
  });

  it('takes committed after the checkpoint stay taken; open takes come back in order', async () => {
    const h = new FileHarness(fileConfig({ directIo }));
    try {
      await h.channel.start();
      await putCommit(h.channel, numbered(0, 20));
      await h.channel.checkpoint();
      const t1 = h.channel.transaction();
      assert.equal((await t1.take(5)).length, 5);
      await t1.commit({ out: '5' });
      const open1 = h.channel.transaction();
      await open1.take(3);
      const t2 = h.channel.transaction();
      await t2.take(4);
      await t2.commit();
      await h.channel.checkpoint();
      const open2 = h.channel.transaction();
      await open2.take(2);
      await h.channel.halt();
      const ch = await h.reopen();
      assert.equal(ch.marker('out'), '5');
      assert.deepEqual(await drain(ch), [5, 6, 7, ...range(12, 20)]);
    } finally {
      await h.cleanup();
    }
  });
});

describe(`file channel data files (${io})`, () => {
  it('rolls at maxFileSize and deletes files that are consumed and covered by a checkpoint', async () => {
    const h = new FileHarness(fileConfig({ maxFileSize: 600, directIo }));
    try {
      await h.channel.start();
      for (let b = 0; b < 20; b++) await putCommit(h.channel, numbered(b * 5, 5));
      await h.channel.checkpoint();
      const before = await dataFiles(h);
      assert.ok(before.length >= 4, `expected rolling, got ${before.length} file(s)`);
      for (const f of before) assert.ok((await dataEnd(f)) <= 600, f);
      const tx = h.channel.transaction();
      assert.deepEqual((await tx.take(50)).map((e) => Number(e.headers.n)), range(0, 50));
      await tx.commit();
      await h.channel.checkpoint();
      const middle = await dataFiles(h);
      assert.ok(middle.length < before.length && middle.length > 1, `some but not all files deleted: ${before.length} → ${middle.length}`);
      assert.deepEqual(await drain(h.channel), range(50, 100));
      await h.channel.checkpoint();
      assert.equal((await dataFiles(h)).length, 1, 'only the file being written remains');
      await h.channel.stop();
      const ch = await h.reopen();
      assert.equal(ch.size(), 0);
      await putCommit(ch, numbered(200, 3));
      assert.deepEqual(await drain(ch), [200, 201, 202]);
    } finally {
      await h.cleanup();
    }
  });
});
}
