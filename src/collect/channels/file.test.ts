import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { channelConformance } from './conformance.js';
import { FileChannel } from './file.js';
import { FileHarness, drain, fileConfig, numbered, putCommit } from './file/test-support.js';
import { RecentEvents } from './file/recent.js';
import type { Pointer } from './file/records.js';
import { makeEvent, type Event } from '../../core/event.js';

channelConformance(
  'file',
  async ({ capacity, transactionCapacity }) => {
    const h = new FileHarness(fileConfig({ capacity, transactionCapacity }));
    return {
      channel: h.channel,
      reopen: async () => {
        await h.channel.stop();
        h.channel = new FileChannel('c1', h.cfg, h.ctx, h.opts);
        return h.channel;
      },
      cleanup: () => h.cleanup(),
    };
  },
  { durable: true },
);

describe('file channel configuration', () => {
  it('is registered under Flume names with Flume defaults and checks transactionCapacity', () => {
    for (const name of ['file', 'org.apache.flume.channel.file.FileChannel']) {
      const r = resolveComponent('channel', name);
      assert.ok('spec' in r, name);
    }
    const r = resolveComponent('channel', 'FILE');
    assert.ok('spec' in r);
    const v = validateComponent(r.spec, { checkpointDir: '/tmp/x/ck', dataDirs: '/tmp/x/d1,/tmp/x/d2' }, 'a1.channels.c1');
    assert.deepEqual(v.errors, []);
    assert.equal(v.config.capacity, 1_000_000);
    assert.equal(v.config.transactionCapacity, 10_000);
    assert.equal(v.config.checkpointInterval, 30_000);
    assert.equal(v.config.maxFileSize, 2_146_435_071);
    assert.equal(v.config.minimumRequiredSpace, 524_288_000);
    assert.equal(v.config['keep-alive'], 3);
    assert.equal(v.config.recentBytes, 128 * 1024 * 1024);
    const bad = validateComponent(r.spec, { capacity: '10', transactionCapacity: '20' }, 'a1.channels.c1');
    assert.equal(bad.errors[0]?.key, 'a1.channels.c1.transactionCapacity');
  });

  it('spreads data files over every directory of dataDirs', async () => {
    const base = new FileHarness();
    const dirs = [join(base.ctx.dataDir, 'd1'), join(base.ctx.dataDir, 'd2')];
    const h = new FileHarness(fileConfig({ dataDirs: dirs.join(', '), maxFileSize: 600 }));
    await h.channel.start();
    try {
      for (let i = 0; i < 10; i++) await putCommit(h.channel, numbered(i * 3, 3));
      await h.channel.stop();
      for (const d of dirs) assert.ok((await readdir(d)).some((f) => f.startsWith('log-')), d);
      assert.deepEqual(await drain(await h.reopen()), Array.from({ length: 30 }, (_, i) => i));
    } finally {
      await h.cleanup();
      await base.cleanup();
    }
  });
});

describe('file channel free-space guard', () => {
  it('refuses commits with a retriable CHANNEL_DISK_SPACE error below minimumRequiredSpace, and resumes after', async () => {
    let free = 1000;
    const h = new FileHarness(fileConfig({ minimumRequiredSpace: 1 << 20 }), { statfs: async () => ({ bavail: free, bsize: 1 }) });
    await h.channel.start();
    try {
      const tx = h.channel.transaction();
      tx.put(numbered(0, 5));
      await assert.rejects(tx.commit(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_DISK_SPACE && e.retriable && /minimumRequiredSpace/.test(e.message));
      assert.equal(h.channel.size(), 0);
      free = 10 << 20;
      await putCommit(h.channel, numbered(0, 5));
      assert.equal(h.channel.size(), 5);
    } finally {
      await h.cleanup();
    }
  });

  it('uses the real filesystem figures', async () => {
    const h = new FileHarness(fileConfig({ minimumRequiredSpace: Number.MAX_SAFE_INTEGER }));
    await h.channel.start();
    try {
      await assert.rejects(putCommit(h.channel, numbered(0, 1)), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_DISK_SPACE);
    } finally {
      await h.cleanup();
    }
  });
});

describe('file channel directory lock', () => {
  it('refuses a second channel on the same directories', async () => {
    const h = new FileHarness();
    await h.channel.start();
    try {
      const twin = new FileChannel('c1', h.cfg, h.ctx);
      await assert.rejects(twin.start(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_LOCKED);
      await putCommit(h.channel, numbered(0, 1));
      assert.equal(h.channel.size(), 1);
    } finally {
      await h.cleanup();
    }
  });

  it('takes over a lock left by a dead process and refuses one held by a live process', async () => {
    const h = new FileHarness();
    const ckDir = join(h.ctx.dataDir, 'c1', 'checkpoint');
    await mkdir(ckDir, { recursive: true });
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await writeFile(join(ckDir, 'in_use.lock'), `${child.pid}\n`);
      await assert.rejects(h.channel.start(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_LOCKED && e.message.includes(String(child.pid)));
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    await h.reopen();
    await putCommit(h.channel, numbered(0, 1));
    assert.equal(h.channel.size(), 1);
    await h.cleanup();
  });
});

describe('file channel commits', () => {
  it('concurrent commits share fsyncs (group commit) and all land, each batch contiguous', async () => {
    const h = new FileHarness();
    await h.channel.start();
    try {
      const before = h.channel.syncCount;
      await Promise.all(Array.from({ length: 50 }, (_, i) => putCommit(h.channel, numbered(i * 2, 2))));
      const syncs = h.channel.syncCount - before;
      assert.ok(syncs >= 1 && syncs < 25, `50 concurrent commits took ${syncs} fsyncs`);
      const got = await drain(h.channel, 1000);
      assert.equal(got.length, 100);
      assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
      for (let i = 0; i < got.length; i += 2) assert.equal(got[i + 1], got[i]! + 1, 'a transaction’s events stay together');
    } finally {
      await h.cleanup();
    }
  });

  it('refuses transactions once stopped', async () => {
    const h = new FileHarness();
    await h.channel.start();
    try {
      const tx = h.channel.transaction();
      tx.put(numbered(0, 1));
      await h.channel.stop();
      await assert.rejects(tx.commit(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_CLOSED);
      assert.throws(() => h.channel.transaction().put(numbered(1, 1)), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_CLOSED);
    } finally {
      await h.cleanup();
    }
  });

  it('keeps Flume’s channel counters like the memory channel', async () => {
    const h = new FileHarness(fileConfig({ capacity: 10, transactionCapacity: 10 }));
    await h.channel.start();
    try {
      await putCommit(h.channel, numbered(0, 8));
      const tx = h.channel.transaction();
      await tx.take(3);
      await tx.commit();
      const c = h.ctx.counters;
      assert.equal(c.get('ChannelSize'), 5);
      assert.equal(c.get('ChannelCapacity'), 10);
      assert.equal(c.get('ChannelFillPercentage'), 50);
      assert.equal(c.get('EventPutAttemptCount'), 8);
      assert.equal(c.get('EventPutSuccessCount'), 8);
      assert.equal(c.get('EventTakeAttemptCount'), 3);
      assert.equal(c.get('EventTakeSuccessCount'), 3);
      assert.equal(c.get('CorruptRecordCount'), 0);
    } finally {
      await h.cleanup();
    }
  });
});

describe('file channel takes of events put by this process', () => {
  it('charges kept events by the buffers their bodies keep alive: a shared read buffer once, a mostly unused one whole', () => {
    const ptrs = (n: number): Pointer[] => Array.from({ length: n }, (_, i) => ({ f: 1, o: i, l: 1, e: undefined }));
    const MiB = 1024 * 1024;
    const recent = new RecentEvents(5 * MiB);
    // 100 lines of one 1 MiB read: the buffer is charged once
    const chunk = Buffer.alloc(MiB);
    const lines = Array.from({ length: 100 }, (_, i) => makeEvent(chunk.subarray(i * 100, i * 100 + 99), {}));
    const p1 = ptrs(100);
    recent.remember(p1, lines);
    assert.equal(recent.size, 100);
    assert.equal(recent.charged, MiB + 100 * 256);
    // three lines, each from a read of its own (a filtered stream): each read is charged whole
    const sparse = Array.from({ length: 3 }, () => makeEvent(Buffer.alloc(MiB).subarray(0, 50), {}));
    const p2 = ptrs(3);
    recent.remember(p2, sparse);
    assert.equal(recent.size, 103);
    assert.equal(recent.charged, 4 * MiB + 103 * 256);
    // the bound is reached: the next such put is not kept (its takes read the log)
    const p3 = ptrs(1);
    recent.remember(p3, [makeEvent(Buffer.alloc(MiB).subarray(0, 50), {})]);
    assert.equal(recent.get(p3[0]!), undefined);
    // taking some lines of the shared read keeps it charged; taking the last one releases it
    recent.forget(p1.slice(0, 99));
    assert.equal(recent.charged, 4 * MiB + 4 * 256);
    recent.forget(p1.slice(99));
    recent.forget(p2);
    assert.equal(recent.charged, 0);
    assert.equal(recent.size, 0);
  });

  it('reads every take from the log with recentBytes = 0, and refuses a negative bound naming the key', async () => {
    const events = numbered(0, 10);
    const h = new FileHarness(fileConfig({ recentBytes: 0 }));
    try {
      await h.channel.start();
      await putCommit(h.channel, events);
      const t = h.channel.transaction();
      const got = await t.take(10);
      assert.deepEqual(got, events);
      assert.ok(got.every((e, i) => e !== events[i]), 'no event is served from memory');
      await t.commit();
    } finally {
      await h.cleanup();
    }
    const spec = resolveComponent('channel', 'file');
    assert.ok('spec' in spec);
    const bad = validateComponent(spec.spec, { recentBytes: '-1' }, 'a1.channels.c1');
    assert.equal(bad.errors[0]?.key, 'a1.channels.c1.recentBytes');
  });

  it('serves them from memory up to a byte bound and reads the rest from the log, in order', async () => {
    // bodies with buffers of their own, so that each is charged its length (+ 256 for its headers)
    const own = (es: Event[]) => es.map((e) => ({ ...e, body: Buffer.from(e.body.buffer.slice(e.body.byteOffset, e.body.byteOffset + e.body.length)) }));
    const first = own(numbered(0, 5)); // fits the bound
    const second = own(numbered(5, 30)); // does not: read back from the log
    const third = own(numbered(35, 5)); // fits again once the first batch is taken
    const h = new FileHarness(fileConfig(), { recentBytes: third.reduce((n, e) => n + e.body.length + 256, 0) });
    try {
      await h.channel.start();
      await putCommit(h.channel, first);
      await putCommit(h.channel, second);
      const t1 = h.channel.transaction();
      const got1 = await t1.take(8);
      assert.deepEqual(got1.slice(0, 5), first);
      assert.ok(got1.slice(0, 5).every((e, i) => e === first[i]), 'kept events are the objects that were put');
      assert.ok(got1.slice(5).every((e, i) => e !== second[i] && e.body.equals(second[i]!.body)), 'the others come from the log');
      await t1.commit();
      await putCommit(h.channel, third);
      const t2 = h.channel.transaction();
      const got2 = await t2.take(100);
      assert.deepEqual(
        got2.map((e) => Number(e.headers.n)),
        Array.from({ length: 32 }, (_, i) => 8 + i),
      );
      assert.ok(got2.slice(27).every((e, i) => e === third[i]));
      await t2.rollback();
      // after a restart everything comes from the log
      await h.channel.stop();
      const ch = await h.reopen();
      assert.deepEqual(await drain(ch), Array.from({ length: 32 }, (_, i) => 8 + i));
      assert.equal(h.corrupt(), 0);
    } finally {
      await h.cleanup();
    }
  });
});
