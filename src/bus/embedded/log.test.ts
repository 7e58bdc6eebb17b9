import assert from 'node:assert/strict';
import { appendFile, open, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { alignedMemory, BLOCK, DirectSlots } from '../../core/direct-io.js';
import { silentLogger, type Logger } from '../../core/log.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { scratchDirs } from '../../core/testing.js';
import { drain, pollUntil } from '../conformance.js';
import { openEmbeddedBus, type EmbeddedOptions } from './embedded.js';

/** Embedded-log behaviour beyond the contract: recovery, retention, group commit, index, lock. */
const scratch = scratchDirs('monsoon-log-');
const isCode = (code: string) => (e: unknown) => e instanceof MonsoonError && e.code === code;
const values = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`r${from + i}`) }));
const partDir = (dir: string, topic: string, p = 0) => join(dir, 'topics', topic, String(p));
async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
}

async function readAll(dir: string, topic: string, opts: EmbeddedOptions = {}): Promise<string[]> {
  const bus = await openEmbeddedBus(dir, opts);
  try {
    const c = await bus.consumer(`check-${Date.now()}`, [topic], { from: 'earliest' });
    return (await drain(c, 1_000_000, 100)).map((r) => r.value.toString());
  } finally {
    await bus.close();
  }
}

describe('embedded log', () => {
  it('cuts a torn batch at the end of the active segment and keeps every whole one', async () => {
    const dir = await scratch();
    let bus = await openEmbeddedBus(dir);
    await bus.admin.createTopic('t', { partitions: 1 });
    await bus.produce('t', values(5));
    await bus.produce('t', values(5, 5));
    await bus.close();
    const seg = join(partDir(dir, 't'), (await segments(partDir(dir, 't')))[0]!);
    const whole = (await stat(seg)).size;
    await appendFile(seg, Buffer.alloc(20, 7)); // a batch header cut short
    assert.deepEqual(await readAll(dir, 't'), values(10).map((v) => v.value.toString()));
    assert.equal((await stat(seg)).size, whole, 'the torn bytes are gone');
    await truncate(seg, whole - 3); // the last batch itself torn
    bus = await openEmbeddedBus(dir);
    assert.equal((await bus.admin.describeTopic('t')).partitions[0]!.latest, 5);
    assert.deepEqual(await bus.produce('t', values(1, 99)), [{ partition: 0, offset: 5 }], 'appends continue after the cut');
    await bus.close();
    assert.deepEqual(await readAll(dir, 't'), [...values(5), ...values(1, 99)].map((v) => v.value.toString()));
  });

  it('keeps a produce of several batches all or nothing: an append whose last batches are missing is cut back to its start', async () => {
    const dir = await scratch();
    let bus = await openEmbeddedBus(dir);
    await bus.admin.createTopic('t', { partitions: 1 });
    await bus.produce('t', values(3));
    const big = Array.from({ length: 40 }, (_, i) => ({ value: Buffer.alloc(20_000, 97 + (i % 26)) })); // ~800 KB: several batches
    await bus.produce('t', big);
    await bus.close();
    const seg = join(partDir(dir, 't'), (await segments(partDir(dir, 't')))[0]!);
    const size = (await stat(seg)).size;
    // a whole number of batches of the big append reached the file, the rest did not
    const batches: number[] = [];
    const fh = await open(seg, 'r');
    for (let pos = 0; pos < size; ) {
      const head = Buffer.alloc(12);
      await fh.read(head, 0, 12, pos);
      batches.push(pos);
      pos += head.readUInt32LE(8) + 12;
    }
    await fh.close();
    assert.ok(batches.length >= 3, `the big produce took ${batches.length - 1} batches`);
    await truncate(seg, batches[batches.length - 1]!);
    bus = await openEmbeddedBus(dir);
    assert.equal((await bus.admin.describeTopic('t')).partitions[0]!.latest, 3, 'none of the cut append is left');
    assert.deepEqual(await bus.produce('t', values(1, 99)), [{ partition: 0, offset: 3 }], 'appends continue after the cut');
    await bus.close();
    assert.deepEqual(await readAll(dir, 't'), ['r0', 'r1', 'r2', 'r99']);
  });

  it('cuts a batch whose checksum fails in the active segment', async () => {
    const dir = await scratch();
    const bus = await openEmbeddedBus(dir);
    await bus.admin.createTopic('t', { partitions: 1 });
    await bus.produce('t', values(3));
    await bus.produce('t', values(3, 3));
    await bus.close();
    const seg = join(partDir(dir, 't'), (await segments(partDir(dir, 't')))[0]!);
    const fh = await open(seg, 'r+');
    const size = (await fh.stat()).size;
    await fh.write(Buffer.from('X'), 0, 1, size - 2);
    await fh.close();
    assert.deepEqual(await readAll(dir, 't'), ['r0', 'r1', 'r2']);
  });

  it('refuses to open a damaged sealed segment, naming the file, and rebuilds a missing index', async () => {
    const dir = await scratch();
    const opts = { segmentBytes: 4096 };
    const bus = await openEmbeddedBus(dir, opts);
    await bus.admin.createTopic('t', { partitions: 1 });
    for (let i = 0; i < 20; i++) await bus.produce('t', [{ value: Buffer.alloc(1000, 97 + (i % 26)) }]);
    await bus.close();
    const pd = partDir(dir, 't');
    const segs = await segments(pd);
    assert.ok(segs.length >= 4, `rolled into several segments (${segs.length})`);
    await unlink(join(pd, segs[1]!.replace('.log', '.index')));
    assert.equal((await readAll(dir, 't', opts)).length, 20);
    const fh = await open(join(pd, segs[1]!), 'r+');
    await fh.write(Buffer.from('Z'), 0, 1, 100);
    await fh.close();
    await unlink(join(pd, segs[1]!.replace('.log', '.index')));
    await assert.rejects(openEmbeddedBus(dir, opts), (e: unknown) => isCode(ErrorCodes.BUS_CORRUPT)(e) && (e as Error).message.includes(segs[1]!));
  });

  it('reads across segments from any offset, before and after a restart', async () => {
    const dir = await scratch();
    const opts = { segmentBytes: 2048, indexIntervalBytes: 512 };
    let bus = await openEmbeddedBus(dir, opts);
    await bus.admin.createTopic('t', { partitions: 1 });
    for (let i = 0; i < 100; i++) await bus.produce('t', values(10, i * 10).map((r, k) => ({ ...r, timestamp: 1_000_000 + (i * 10 + k) * 10 })));
    for (let round = 0; round < 2; round++) {
      const c = await bus.consumer('g', ['t'], { from: 'earliest' });
      for (const at of [0, 7, 10, 333, 999]) {
        await c.seek({ topic: 't', partition: 0 }, { timestamp: 1_000_000 + at * 10 - 5 });
        assert.deepEqual((await drain(c, 1, 100)).map((r) => r.offset), [at], `timestamp just before offset ${at}`);
      }
      for (const at of [0, 1, 9, 10, 11, 333, 500, 998, 999]) {
        await c.seek({ topic: 't', partition: 0 }, at);
        const got = await drain(c, 3, 100);
        assert.deepEqual(got.map((r) => r.offset), [at, at + 1, at + 2].filter((o) => o < 1000), `from ${at}`);
        assert.deepEqual(got.map((r) => r.value.toString()), got.map((r) => `r${r.offset}`));
      }
      await c.close();
      await bus.close();
      bus = await openEmbeddedBus(dir, opts);
    }
    assert.ok((await segments(partDir(dir, 't'))).length > 5);
    const fds = async () => (await readdir('/proc/self/fd')).length;
    const before = await fds();
    const all = await drain(await bus.consumer('whole', ['t'], { from: 'earliest' }), 1000, 100);
    assert.equal(all.length, 1000);
    assert.ok((await fds()) - before <= 2, 'finished sealed segments do not keep their handles open');
    await bus.close();
  });

  it('deletes whole old segments by size and by time, and consumers skip to the new start', async () => {
    const dir = await scratch();
    const bus = await openEmbeddedBus(dir, { segmentBytes: 4096, retentionCheckMs: 0 });
    await bus.admin.createTopic('sized', { partitions: 1, retentionBytes: 10_000 });
    await bus.admin.createTopic('timed', { partitions: 1, retentionMs: 60_000 });
    const c = await bus.consumer('g', ['sized'], { from: 'earliest' });
    assert.equal((await drain(c, 1, 50)).length, 0);
    for (let i = 0; i < 40; i++) await bus.produce('sized', [{ value: Buffer.alloc(1000, 120), headers: { i: String(i) } }]);
    const old = Date.now() - 3_600_000;
    for (let i = 0; i < 20; i++) await bus.produce('timed', [{ value: Buffer.alloc(1000), timestamp: old }]);
    await bus.produce('timed', [{ value: Buffer.from('fresh') }]);
    assert.ok((await bus.enforceRetention()) > 0);
    const sized = (await bus.admin.describeTopic('sized')).partitions[0]!;
    const bytes = (await Promise.all((await segments(partDir(dir, 'sized'))).map((f) => stat(join(partDir(dir, 'sized'), f))))).reduce((n, s) => n + s.size, 0);
    assert.ok(sized.earliest > 0 && sized.latest === 40, JSON.stringify(sized));
    assert.ok(bytes >= 10_000 && bytes < 10_000 + 4096, `kept ${bytes} bytes`);
    const got = await drain(c, 40, 100);
    assert.equal(got[0]!.offset, sized.earliest, 'the consumer resumes at the new log start');
    assert.deepEqual(got.map((r) => Number(r.headers.i)), Array.from({ length: 40 - sized.earliest }, (_, i) => sized.earliest + i));
    const timed = (await bus.admin.describeTopic('timed')).partitions[0]!;
    assert.ok(timed.earliest > 0, 'old segments of the timed topic are gone');
    assert.equal((await bus.lag('g')).find((l) => l.topic === 'sized')!.committed, null);
    await bus.close();
  });

  it('moves a partition to a joining member, which reads it from the committed offset', async () => {
    const dir = await scratch();
    const bus = await openEmbeddedBus(dir);
    await bus.admin.createTopic('t', { partitions: 2 });
    await bus.produce('t', [{ key: Buffer.from('21'), value: Buffer.from('a') }, { key: Buffer.from('abc'), value: Buffer.from('b') }]);
    const a = await bus.consumer('g', ['t'], { from: 'earliest' });
    assert.equal((await drain(a, 2, 100)).length, 2);
    const b = await bus.consumer('g', ['t'], { from: 'earliest' });
    assert.deepEqual(a.assignment(), [{ topic: 't', partition: 0 }]);
    assert.deepEqual(b.assignment(), [{ topic: 't', partition: 1 }]);
    assert.equal((await drain(b, 1, 100)).length, 1, 'uncommitted records of a moved partition are delivered again');
    await assert.rejects(a.commit([{ topic: 't', partition: 1, offset: 1 }]), isCode(ErrorCodes.BUS_NOT_ASSIGNED));
    await a.commit();
    await b.commit();
    assert.deepEqual((await bus.lag('g')).map((l) => l.lag), [0, 0]);
    await bus.close();
    await assert.rejects(a.poll(1, 0), isCode(ErrorCodes.BUS_CLOSED));
  });

  it('seals a segment by age so time retention reaches a slowly written topic', async () => {
    const dir = await scratch();
    const bus = await openEmbeddedBus(dir, { segmentMs: 1, retentionCheckMs: 0 });
    await bus.admin.createTopic('slow', { partitions: 1, retentionMs: 60_000 });
    await bus.produce('slow', [{ value: Buffer.from('old'), timestamp: Date.now() - 3_600_000 }]);
    await new Promise((r) => setTimeout(r, 5));
    await bus.produce('slow', [{ value: Buffer.from('new') }]);
    assert.equal((await segments(partDir(dir, 'slow'))).length, 2);
    assert.equal(await bus.enforceRetention(), 1);
    assert.deepEqual((await bus.admin.describeTopic('slow')).partitions[0], { partition: 0, earliest: 1, latest: 2 });
    await bus.close();
  });

  it('shares one fdatasync among concurrent produces to a partition (group commit)', async () => {
    const dir = await scratch();
    const bus = await openEmbeddedBus(dir);
    await bus.admin.createTopic('t', { partitions: 1 });
    const before = bus.syncCount();
    const res = await Promise.all(Array.from({ length: 200 }, (_, i) => bus.produce('t', [{ value: Buffer.from(`r${i}`) }])));
    assert.deepEqual(res.map((r) => r[0]!.offset).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i));
    assert.ok(bus.syncCount() - before < 200, `200 produces took ${bus.syncCount() - before} syncs`);
    await bus.close();
  });

  it('rejects a record larger than maxRecordBytes and writes nothing of its batch', async () => {
    const dir = await scratch();
    const bus = await openEmbeddedBus(dir, { maxRecordBytes: 1000 });
    await bus.admin.createTopic('t', { partitions: 1 });
    await assert.rejects(bus.produce('t', [{ value: Buffer.from('ok') }, { value: Buffer.alloc(2000) }]), isCode(ErrorCodes.BUS_RECORD_TOO_LARGE));
    await assert.rejects(bus.produce('t', [{ value: 'text' as unknown as Buffer }]), isCode(ErrorCodes.BUS_INVALID_ARGUMENT));
    assert.equal((await bus.admin.describeTopic('t')).partitions[0]!.latest, 0);
    await bus.close();
  });

  it('locks its directory: a second open is refused, a dead owner’s lock is taken over', async () => {
    const dir = await scratch();
    const bus = await openEmbeddedBus(dir);
    await assert.rejects(openEmbeddedBus(dir), isCode(ErrorCodes.BUS_LOCKED));
    await bus.close();
    await writeFile(join(dir, 'bus.lock'), '2147483646\n');
    const again = await openEmbeddedBus(dir);
    await again.close();
    await assert.rejects(again.produce('t', []), isCode(ErrorCodes.BUS_CLOSED));
  });

  it('writes the whole blocks of its appends with direct I/O where the filesystem takes it; the files are the same without', async () => {
    const rec = (i: number) => ({ key: Buffer.from(`k${i % 5}`), value: Buffer.alloc(i % 3 === 0 ? 9000 : 30 + (i % 200), 97 + (i % 26)) });
    const run = async (opts: EmbeddedOptions) => {
      const dir = await scratch();
      const bus = await openEmbeddedBus(dir, opts);
      try {
        await bus.admin.createTopic('t', { partitions: 6 });
        // concurrent produces to six partitions, more than the log's direct slots (one without a free slot goes buffered)
        for (let round = 0; round < 5; round++) {
          await Promise.all(Array.from({ length: 12 }, (_, w) => bus.produce('t', Array.from({ length: 1 + ((w * 37 + round) % 150) }, (_, i) => rec(round * 10_000 + w * 200 + i)))));
        }
        await bus.produce('t', Array.from({ length: 150 }, (_, i) => rec(i)).concat([{ key: Buffer.from('k0'), value: Buffer.alloc(1_500_000, 1) }])); // one append larger than a slot
        const sizes: number[] = [];
        for (let p = 0; p < 6; p++) for (const f of await segments(partDir(dir, 't', p))) sizes.push((await stat(join(partDir(dir, 't', p), f))).size);
        return { direct: bus.directBytes(), sizes, dir };
      } finally {
        await bus.close();
      }
    };
    // small segments: appends after a roll go direct too (the 1.5 MB one always starts a segment)
    const on = await run({ segmentBytes: 256 * 1024 });
    const off = await run({ segmentBytes: 256 * 1024, directIo: false });
    const takes = typeof (await alignedMemory([on.dir], BLOCK)) !== 'string';
    const total = on.sizes.reduce((a, b) => a + b, 0);
    // before any roll at most 6 × 256 KiB can go direct: a quarter of all needs the rolled segments too
    if (takes) assert.ok(on.direct > total / 4 && on.direct > 6 * 256 * 1024, `${on.direct} of ${total} bytes written direct`);
    else assert.equal(on.direct, 0, 'a filesystem without direct I/O is written through the page cache');
    assert.equal(off.direct, 0, 'directIo: false writes nothing direct');
    assert.deepEqual(on.sizes, off.sizes, 'the same segment sizes: no padding');
    const read = async (dir: string) => (await readAll(dir, 't', { readCacheBytes: 0 })).sort();
    assert.deepEqual(await read(on.dir), await read(off.dir), 'the same records, read back from the files');
  });

  it('goes on through the page cache when a direct write is refused, losing nothing', async () => {
    const dir = await scratch();
    const warnings: string[] = [];
    const log = Object.assign(Object.create(silentLogger) as Logger, { warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)) });
    // memory one byte off its alignment: the device refuses the direct write (EINVAL)
    const take = DirectSlots.prototype.take;
    DirectSlots.prototype.take = function (this: DirectSlots) {
      const s = take.call(this);
      return s && Buffer.from(s.buffer, s.byteOffset + 1, s.length - BLOCK);
    };
    try {
      const bus = await openEmbeddedBus(dir, { log, segmentBytes: 64 * 1024 });
      await bus.admin.createTopic('t', { partitions: 1 });
      for (let b = 0; b < 8; b++) await bus.produce('t', Array.from({ length: 20 }, (_, i) => ({ value: Buffer.from(`b${b}-${i}:${'x'.repeat(1000)}`) })));
      assert.equal(bus.directBytes(), 0);
      await bus.close();
    } finally {
      DirectSlots.prototype.take = take;
    }
    if (typeof (await alignedMemory([dir], BLOCK)) !== 'string') assert.equal(warnings.filter((w) => /direct writes refused/.test(w)).length, 1, warnings.join('\n'));
    const got = await readAll(dir, 't', { readCacheBytes: 0 });
    assert.deepEqual(got.map((v) => v.split(':')[0]), Array.from({ length: 160 }, (_, k) => `b${Math.floor(k / 20)}-${k % 20}`));
  });

  it('serves readers close behind the writer from the batches it wrote, and others from the file', async () => {
    const big = Buffer.alloc(10_000, 120);
    const rec = (i: number) => ({ value: Buffer.concat([Buffer.from(`r${i}:`), big]), headers: { i: String(i), 'naïve': 'é' } });
    /**
     * Writes 1,600 records of ~10 KB (about twice what a partition keeps), then damages the file at
     * its start and near its end, and reads the newest records: from the batches written when the
     * partition was being read as they were appended and the cache allows it, else from the file
     * (where the damage shows).
     */
    const scenario = async (opts: EmbeddedOptions, readWhileWriting: boolean) => {
      const dir = await scratch();
      const bus = await openEmbeddedBus(dir, opts);
      try {
        await bus.admin.createTopic('t', { partitions: 1 });
        const tail = await bus.consumer('tail', ['t'], { from: 'latest' });
        if (readWhileWriting) {
          await pollUntil([tail], () => tail.assignment().length === 1, 'an assignment');
          assert.deepEqual(await tail.poll(10, 0), [], 'nothing yet: the reader waits at the end');
        }
        for (let b = 0; b < 16; b++) await bus.produce('t', Array.from({ length: 100 }, (_, i) => rec(b * 100 + i)));
        const seg = join(partDir(dir, 't'), (await segments(partDir(dir, 't')))[0]!);
        const size = (await stat(seg)).size;
        const fh = await open(seg, 'r+');
        await fh.write(Buffer.alloc(64, 0), 0, 64, 100);
        await fh.write(Buffer.alloc(64, 0), 0, 64, size - 5000);
        await fh.close();
        await pollUntil([tail], () => tail.assignment().length === 1, 'an assignment');
        await tail.seek({ topic: 't', partition: 0 }, 1_590);
        let got: Awaited<ReturnType<typeof drain>>;
        try {
          got = await drain(tail, 10, 100);
        } catch (e) {
          if (isCode(ErrorCodes.BUS_CORRUPT)(e)) return 'file';
          throw e;
        }
        assert.deepEqual(got.map((r) => r.offset), Array.from({ length: 10 }, (_, i) => 1_590 + i));
        for (const r of got) {
          assert.equal(r.value.subarray(0, 6).toString(), `r${r.offset}:`);
          assert.ok(r.value.subarray(6).equals(big));
          assert.deepEqual({ ...r.headers }, { i: String(r.offset), 'naïve': 'é' });
        }
        const head = await bus.consumer('head', ['t'], { from: 'earliest' });
        await assert.rejects(drain(head, 10, 100), isCode(ErrorCodes.BUS_CORRUPT), 'the start is read from the file');
        return 'memory';
      } finally {
        await bus.close();
      }
    };
    assert.equal(await scenario({}, true), 'memory', 'a partition being read caches its newest batches');
    assert.equal(await scenario({}, false), 'file', 'a partition nobody reads caches nothing');
    assert.equal(await scenario({ readCacheBytes: 0 }, true), 'file', 'readCacheBytes 0 turns the cache off');
  });
});
