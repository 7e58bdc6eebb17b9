import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { open, type Database, type DatabaseOptions } from 'lmdb';
import { makeEvent } from '../../core/event.js';
import { isRetriable, MonsoonError } from '../../core/errors.js';
import { memoryChannel, scratchDir, sinkContext } from '../../collect/testkit.js';
import { putAll } from '../../collect/sinks/sink-testkit.js';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import '../../collect/builtins.js';
import { CellBatch, decodeKey, encodeKey, escapePart, putOrder } from './keys.js';
import { kvGet, kvScan } from './lookup.js';
import { KvStore, SPACE_FLOOR_BYTES } from './store.js';

/** A stand-in writer thread (test/support/kv-crash-thread.ts). */
const CRASHING_THREAD = fileURLToPath(new URL('../../../test/support/kv-crash-thread.js', import.meta.url));
const rows = (rs: Array<{ row: Buffer }>) => rs.map((r) => r.row.toString());
/** statfs's f_type of tmpfs. */
const TMPFS_MAGIC = 0x01021994;

describe('kv cell keys', () => {
  it('sort cells by row (bytewise, shorter prefix first), then family, then qualifier, for rows holding 0x00 and 0xFF', () => {
    const alphabet = [0x00, 0x01, 0x61, 0xfe, 0xff];
    const parts: Buffer[] = [];
    for (let i = 0; i < 200; i++) parts.push(Buffer.from(Array.from({ length: i % 4 }, (_, j) => alphabet[(i * 7 + j * 3) % alphabet.length]!)));
    const cells = parts.flatMap((row) => [Buffer.from('a'), Buffer.from('b')].map((q) => ({ row, q, key: encodeKey(row, Buffer.from('f'), q) })));
    const byKey = [...cells].sort((x, y) => Buffer.compare(x.key, y.key));
    const byTuple = [...cells].sort((x, y) => Buffer.compare(x.row, y.row) || Buffer.compare(x.q, y.q));
    assert.deepEqual(byKey.map((c) => [c.row.toString('hex'), c.q.toString()]), byTuple.map((c) => [c.row.toString('hex'), c.q.toString()]));
    for (const c of cells) assert.deepEqual(decodeKey(c.key), [c.row, Buffer.from('f'), c.q]);
  });

  it('decode to copies of their parts, and refuse bytes encodeKey cannot have produced', () => {
    const row = Buffer.from([0x00, 0x61, 0x00, 0x00, 0xff]);
    const key = encodeKey(row, Buffer.from(''), Buffer.from('q\u0000'));
    const parts = decodeKey(key);
    assert.deepEqual(parts, [row, Buffer.alloc(0), Buffer.from('q\u0000')]);
    key.fill(0x7a);
    assert.deepEqual(parts, [row, Buffer.alloc(0), Buffer.from('q\u0000')], 'the parts do not share memory with the key');
    assert.deepEqual(decodeKey(Buffer.alloc(0)), []);
    assert.throws(() => decodeKey(Buffer.from([0x61, 0x00, 0x02])), /malformed cell key at byte 2/);
    assert.throws(() => decodeKey(Buffer.from([0x61, 0x00])), /malformed cell key at byte 2/);
    assert.throws(() => decodeKey(Buffer.from([0x61, 0x00, 0x01, 0x62])), /unterminated part/);
  });

  it('are put in the order of the 4 bytes after the prefix all share, equal ones in batch order', () => {
    const batchOf = (rows: string[]) => {
      const b = new CellBatch(rows.length);
      rows.forEach((r, i) => {
        b.keyPart(r);
        b.keyPart('cf');
        b.keyPart('q');
        b.end(i, false);
        b.raw(String(i));
        b.end(i, true);
      });
      return putOrder(b.buf, b.ends);
    };
    // rows sharing "user:" are ordered by what follows it; the two "user:b" cells keep their order
    assert.deepEqual([...batchOf(['user:d', 'user:b', 'user:a9', 'user:b', 'user:a1', 'user:c'])], [4, 2, 1, 3, 5, 0]);
    assert.deepEqual([...batchOf(['9', '0', '5'])], [1, 2, 0]);
    assert.deepEqual([...batchOf(['same', 'same'])], [0, 1], 'equal keys: the later one is put last and wins');
    assert.deepEqual([...batchOf(['only'])], [0]);
  });

  it('keep a row prefix a prefix of the key', () => {
    const row = Buffer.from([0x61, 0x00, 0x62]);
    assert.ok(encodeKey(row, Buffer.from('f'), Buffer.from('q')).subarray(0, 3).equals(escapePart(row.subarray(0, 2))));
  });
});

describe('kv store', () => {
  it('writes idempotently: a replayed batch leaves every cell as it was', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    const t = store.table('cdr');
    const batch = Array.from({ length: 100 }, (_, i) => ({ row: `r${String(i).padStart(3, '0')}`, family: 'cf', qualifier: 'payload', value: `v${i}` }));
    await t.write(batch);
    await t.write(batch);
    const all = t.scan();
    assert.equal(all.length, 100);
    assert.ok(all.every((r) => r.cells.length === 1));
    await t.write([{ row: 'r000', family: 'cf', qualifier: 'payload', value: 'changed' }]);
    assert.equal(t.get('r000')[0]!.value.toString(), 'changed');
    // put in key order, the later of two writes of a cell in one batch still wins
    await t.write([9, 1, 5, 1].map((i, k) => ({ row: `r00${i}`, family: 'cf', qualifier: 'payload', value: `w${k}` })));
    assert.deepEqual([9, 1, 5].map((i) => t.get(`r00${i}`)[0]!.value.toString()), ['w0', 'w3', 'w2']);
    await store.close();
  });

  it('gets a row whole, by family and by columns; scans by prefix, by [start, stop) and with a limit', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    const t = store.table('subs');
    await t.write([
      { row: '1380000', family: 'a', qualifier: 'x', value: '1' },
      { row: '1380000', family: 'b', qualifier: 'y', value: '2' },
      { row: '1380000', family: 'a', qualifier: 'w', value: '0' },
      { row: '13800001', family: 'a', qualifier: 'x', value: '3' },
      { row: '1380001', family: 'a', qualifier: 'x', value: '4' },
      { row: '1390000', family: 'a', qualifier: 'x', value: '5' },
      { row: Buffer.from([0x31, 0x33, 0x38, 0x00]), family: 'a', qualifier: 'x', value: Buffer.from([0xff]) },
    ]);
    assert.deepEqual(t.get('1380000').map((c) => `${c.family}:${c.qualifier}=${c.value}`), ['a:w=0', 'a:x=1', 'b:y=2']);
    assert.deepEqual(t.get('1380000', { family: 'b' }).map((c) => c.value.toString()), ['2']);
    assert.deepEqual(t.get('1380000', { columns: ['b:y', 'a:nope', 'a:x'] }).map((c) => c.value.toString()), ['2', '1']);
    assert.deepEqual(t.get('138000'), []);
    assert.deepEqual(rows(t.scan({ prefix: '1380000' })), ['1380000', '13800001']);
    assert.deepEqual(rows(t.scan({ prefix: '138000' })), ['1380000', '13800001', '1380001']);
    assert.deepEqual(rows(t.scan({ prefix: '138' })).length, 4);
    assert.deepEqual(rows(t.scan({ start: '1380000', stop: '1380001' })), ['1380000', '13800001']);
    assert.deepEqual(rows(t.scan({ start: '13800001' })), ['13800001', '1380001', '1390000']);
    assert.deepEqual(rows(t.scan({ stop: '1380000' })), ['138\0']);
    assert.deepEqual(rows(t.scan({ prefix: '13', limit: 2 })), ['138\0', '1380000']);
    assert.deepEqual(rows(t.scan({ start: '2', stop: '1' })), []);
    assert.deepEqual(t.scan({ prefix: '1380000', family: 'b' }).map((r) => r.cells.length), [1]);
    await store.close();
  });

  it('refuses a write, retriably and before writing any cell, while the filesystem lacks room for its commit', async () => {
    let free = SPACE_FLOOR_BYTES + 32 * 4096 + 10 * 3 * 4096 + 4096;
    const dir = scratchDir('kv-');
    const store = KvStore.open(dir, { freeSpace: async () => free });
    const t = store.table('t');
    const cells = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ row: `r${i}`, family: 'f', qualifier: 'q', value: `${tag}${i}` }));
    await t.write(cells(10, 'a')); // fits: the floor, 32 pages per commit, three per cell and twice the batch's ~200 bytes
    await assert.rejects(t.write(cells(11, 'b')), (e: unknown) => {
      assert.ok(e instanceof MonsoonError && e.code === 'MON_ERR_STORE_UNAVAILABLE' && isRetriable(e), String(e));
      assert.match(e.message, new RegExp(`table t: only ${free} bytes free on the filesystem of ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, a commit of 11 cell\\(s\\) needs \\d+`));
      return true;
    });
    assert.equal(t.get('r0')[0]!.value.toString(), 'a0');
    assert.equal(t.count(), 10);
    free = Number.MAX_SAFE_INTEGER; // space freed: the replay goes through
    await t.write(cells(11, 'b'));
    assert.equal(t.get('r0')[0]!.value.toString(), 'b0');
    assert.equal(t.count(), 11);
    await store.close();
  });

  it('refuses a write to a closed store with a retriable error instead of ending the process', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    const t = store.table('t');
    await t.write([{ row: 'r', family: 'f', qualifier: 'q', value: 'v' }]);
    await store.close();
    await assert.rejects(t.write([{ row: 'r2', family: 'f', qualifier: 'q', value: 'v' }]), (e: unknown) => e instanceof MonsoonError && e.code === 'MON_ERR_STORE_UNAVAILABLE' && isRetriable(e) && /is closed/.test(e.message));
    await new Promise((r) => setTimeout(r, 50)); // lmdb's own callback would have thrown by now
  });

  it('shows a write to a read on this thread as soon as it resolved (the writer thread commits it)', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    const t = store.table('t');
    for (let i = 0; i < 40; i++) {
      await t.write([{ row: 'r', family: 'f', qualifier: 'q', value: `v${i}` }, { row: `r${i}`, family: 'f', qualifier: 'q', value: 'x' }]);
      assert.equal(t.get('r')[0]?.value.toString(), `v${i}`, `write ${i}`);
      assert.equal(t.count(), i + 2, `write ${i}`);
    }
    await store.close();
  });

  it('fails a write whose writer thread ended before confirming it, retriably, and writes the replay through a new thread', async () => {
    const dir = scratchDir('kv-');
    const store = KvStore.open(dir, { writerModule: CRASHING_THREAD });
    const t = store.table('t');
    const cells = [{ row: 'r', family: 'f', qualifier: 'q', value: 'v' }];
    // the replay goes as soon as the failure is known, before the old thread's exit
    const replay = t.write(cells).then(
      () => assert.fail('the write to the crashed thread resolved'),
      (e: unknown) => {
        assert.ok(e instanceof MonsoonError && e.code === 'MON_ERR_STORE_UNAVAILABLE' && isRetriable(e), String(e));
        assert.match(e.message, /table t: the writer thread of .* failed: simulated crash; the write was not confirmed/);
        return t.write(cells);
      },
    );
    await replay;
    assert.equal(t.get('r')[0]?.value.toString(), 'v');
    const w = store.writeStats();
    assert.deepEqual({ commits: w.commits, cells: w.cells, failures: w.failures }, { commits: 1, cells: 1, failures: 1 }, 'the lost write counts as a failure, the replay as a commit');
    await store.close();
  });

  it('counts the commits, their cells and the writer thread\'s time in them', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    const t = store.table('t');
    assert.deepEqual(store.writeStats(), { commits: 0, cells: 0, commitSeconds: 0, failures: 0 });
    for (let b = 0; b < 3; b++) await t.write(Array.from({ length: 1000 * (b + 1) }, (_, i) => ({ row: `r${b}-${i}`, family: 'f', qualifier: 'q', value: 'v' })));
    const w = store.writeStats();
    assert.equal(w.commits, 3);
    assert.equal(w.cells, 6000);
    assert.ok(w.commitSeconds > 0 && w.commitSeconds < 60, `${w.commitSeconds} s`);
    assert.equal(w.failures, 0);
    await store.close();
  });

  it('fails every write, not retriably and naming why, when the writer thread cannot open the store', async () => {
    const dir = scratchDir('kv-');
    writeFileSync(join(dir, 'broken'), '');
    const store = KvStore.open(dir, { writerModule: CRASHING_THREAD });
    const t = store.table('t');
    for (let i = 0; i < 2; i++) {
      await assert.rejects(t.write([{ row: 'r', family: 'f', qualifier: 'q', value: 'v' }]), (e: unknown) => {
        assert.ok(e instanceof MonsoonError && e.code === 'MON_ERR_STORE_UNAVAILABLE' && !isRetriable(e), String(e));
        assert.match(e.message, /table t: the writer thread of .* could not open it: failed: simulated: the environment cannot be opened/);
        return true;
      });
    }
    await store.close();
  });

  it('refuses to write one encoded batch twice: its buffers went to the writer thread', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    const t = store.table('t');
    const batch = new CellBatch(1);
    batch.keyPart('r');
    batch.keyPart('f');
    batch.keyPart('q');
    batch.end(0, false);
    batch.raw('v');
    batch.end(0, true);
    await t.writeEncoded(batch, 1);
    await assert.rejects(t.writeEncoded(batch, 1), (e: unknown) => e instanceof MonsoonError && e.code === 'MON_ERR_STORE_INVALID_ARGUMENT' && /written already/.test(e.message));
    assert.equal(t.get('r')[0]?.value.toString(), 'v');
    await store.close();
  });

  it('refuses a write to a store opened read-only, naming it', async () => {
    const dir = scratchDir('kv-');
    const w = KvStore.open(dir);
    await w.table('t').write([{ row: 'r', family: 'f', qualifier: 'q', value: 'v' }]);
    await w.close();
    const store = KvStore.open(dir, { readOnly: true });
    const t = store.table('t');
    await assert.rejects(t.write([{ row: 'r2', family: 'f', qualifier: 'q', value: 'v' }]), (e: unknown) => e instanceof MonsoonError && e.code === 'MON_ERR_STORE_INVALID_ARGUMENT' && /is open read-only/.test(e.message));
    assert.equal(t.count(), 1);
    await store.close();
  });

  it('refuses bad table names and oversize keys without writing any cell of the batch', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    assert.throws(() => store.table('a/b'), (e: unknown) => e instanceof MonsoonError && e.code === 'MON_ERR_STORE_INVALID_ARGUMENT');
    const t = store.table('t');
    await assert.rejects(t.write([{ row: 'ok', family: 'f', qualifier: 'q', value: 'v' }, { row: randomBytes(3000), family: 'f', qualifier: 'q', value: 'v' }]), (e: unknown) => e instanceof MonsoonError && !isRetriable(e) && /over the 1978-byte limit/.test(e.message));
    assert.deepEqual(t.scan(), []);
    await store.close();
  });

  it('keeps the key layout: each cell under encodeKey(row, family, qualifier) with its value bytes as given', async () => {
    const dir = scratchDir('kv-');
    const store = KvStore.open(dir);
    const t = store.table('layout');
    const big = Buffer.alloc(5000, 0x7a);
    const cells = [
      { row: '5432100000131', family: 'content', qualifier: '1763700000000#run-1', value: '{"a":"héllo ☎"}' },
      { row: Buffer.from([0x61, 0x00, 0xff]), family: 'cf', qualifier: Buffer.from([0x00]), value: Buffer.from([0x00, 0x01, 0xff]) },
      { row: 'r\u0000s', family: 'cf', qualifier: 'q\u0000', value: new Uint8Array([1, 2, 3]) as Buffer },
      { row: 'ünï', family: 'cf', qualifier: '☎', value: '' },
      // Values past the batch buffer's first estimate.
      ...Array.from({ length: 40 }, (_, i) => ({ row: `big${i}`, family: 'cf', qualifier: 'v', value: i % 2 ? big : big.toString() })),
    ];
    await t.write(cells);
    await store.close();
    const env = open({ path: join(dir, 'kv.mdb'), maxDbs: 256, readOnly: true });
    const db = env.openDB({ name: 'layout', keyEncoding: 'binary', encoding: 'binary' } as DatabaseOptions & { name: string }) as Database<Buffer, Buffer>;
    const raw = [...db.getRange({})].map(({ key, value }) => [key.toString('hex'), Buffer.from(value).toString('hex')]);
    await env.close();
    const b = (v: Buffer | string | Uint8Array) => (typeof v === 'string' ? Buffer.from(v) : Buffer.from(v));
    const want = cells.map((c) => [encodeKey(b(c.row), Buffer.from(c.family), b(c.qualifier)).toString('hex'), b(c.value).toString('hex')]).sort((x, y) => Buffer.compare(Buffer.from(x[0]!, 'hex'), Buffer.from(y[0]!, 'hex')));
    assert.deepEqual(raw, want);
  });

  it('keeps the last of several writes of one cell in a batch, and a replay of the batch changes nothing', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    const t = store.table('dups');
    const batch = [
      { row: 'r1', family: 'f', qualifier: 'q', value: 'first' },
      { row: 'r2', family: 'f', qualifier: 'q', value: 'other' },
      { row: 'r1', family: 'f', qualifier: 'q', value: 'second' },
      { row: 'r1', family: 'g', qualifier: 'q', value: 'family g' },
    ];
    await t.write(batch);
    await t.write(batch);
    assert.deepEqual(t.get('r1').map((c) => `${c.family}:${c.qualifier}=${c.value}`), ['f:q=second', 'g:q=family g']);
    assert.equal(t.count(), 3);
    await store.close();
  });

  it('refuses a batch holding an empty row key or a row, qualifier or value that is neither a string nor bytes, writing none of it', async () => {
    const store = KvStore.open(scratchDir('kv-'));
    const t = store.table('bad');
    const ok = { row: 'ok', family: 'f', qualifier: 'q', value: 'v' };
    const refused = (e: unknown) => e instanceof MonsoonError && e.code === 'MON_ERR_STORE_INVALID_ARGUMENT' && !isRetriable(e);
    await assert.rejects(t.write([ok, { row: '', family: 'f', qualifier: 'q', value: 'v' }]), refused);
    await assert.rejects(t.write([ok, { row: Buffer.alloc(0), family: 'f', qualifier: 'q', value: 'v' }]), refused);
    await assert.rejects(t.write([ok, { row: 'r', family: 'f', qualifier: 7 as unknown as string, value: 'v' }]), refused);
    await assert.rejects(t.write([ok, { row: 'r', family: 'f', qualifier: 'q', value: undefined as unknown as string }]), refused);
    await assert.rejects(t.write([ok, { row: 'r', family: 'f/x', qualifier: 'q', value: 'v' }]), refused);
    assert.deepEqual(t.scan(), []);
    await store.close();
  });

  it('resolves a write only once its pages are synced: no page of the mapped file is left dirty', async () => {
    // Writers map the file writable, so the pages a commit changed are dirty in this process's
    // mapping until synced; a write must not resolve before its own commit's sync (/proc's smaps
    // counts them).
    // on tmpfs a sync never cleans a page: the store goes where the repository is instead
    let dir = scratchDir('kv-');
    if ((await statfs(dir)).type === TMPFS_MAGIC) dir = mkdtempSync(join(process.cwd(), '.kv-sync-test-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    assert.notEqual((await statfs(dir)).type, TMPFS_MAGIC, `${dir} is on tmpfs, where syncing cannot be observed`);
    const store = KvStore.open(dir);
    const t = store.table('durable');
    const dirtyKb = () => {
      let inStore = false;
      let kb = 0;
      for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
        if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inStore = line.endsWith('/kv.mdb');
        else if (inStore && /^(Shared|Private)_Dirty:/.test(line)) kb += Number(line.split(/\s+/)[1]);
      }
      return kb;
    };
    for (let b = 0; b < 8; b++) {
      await t.write(Array.from({ length: 2000 }, (_, i) => ({ row: `r${String(((b * 2000 + i) * 7919) % 100_003).padStart(6, '0')}`, family: 'f', qualifier: 'q', value: 'x'.repeat(200) })));
      assert.equal(dirtyKb(), 0, `batch ${b}: pages still dirty after the write resolved`);
    }
    assert.equal(t.count(), 16_000);
    await store.close();
  });

  it('reads through kvGet/kvScan as JSON, refusing a missing store or table', async () => {
    const dir = scratchDir('kv-');
    const store = KvStore.open(dir);
    await store.table('t').write([{ row: 'r1', family: 'f', qualifier: 'q', value: Buffer.from([0xc3, 0x28]) }, { row: 'r2', family: 'f', qualifier: 'q', value: 'héllo' }]);
    assert.deepEqual(await kvGet(dir, 't', 'r2'), { row: 'r2', columns: { 'f:q': 'héllo' } });
    assert.deepEqual(await kvScan(dir, 't', { limit: 1 }), [{ row: 'r1', columns: { 'f:q': { base64: Buffer.from([0xc3, 0x28]).toString('base64') } } }]);
    assert.equal(await kvGet(dir, 't', 'r3'), undefined);
    await assert.rejects(kvGet(dir, 'nope', 'r1'), /no table "nope"/);
    await assert.rejects(kvGet(scratchDir('kv-'), 't', 'r1'), /no key-value store in/);
    await store.close();
  });
});

describe('kv sink', () => {
  const build = (props: Record<string, string>) => {
    const r = resolveComponent('sink', props.type!);
    assert.ok('spec' in r);
    const v = validateComponent(r.spec, props, 'a1.sinks.k1');
    return { spec: r.spec, v };
  };

  it('maps events to cells (identity row key, body → payload, chosen headers) and a replay adds nothing', async () => {
    const dir = scratchDir('kv-');
    const { spec, v } = build({ type: 'hbase', table: 'calls', columnFamily: 'cdr', store: dir, headerColumns: 'msisdn', batchSize: '10' });
    assert.deepEqual(v.errors, []);
    const ch = memoryChannel();
    const sink = spec.create(v.config, sinkContext('k1', ch));
    await sink.start();
    const events = Array.from({ length: 25 }, (_, i) => makeEvent(`call ${i}`, { 'monsoon.origin': 'h1/a1', 'monsoon.seq': String(i), msisdn: `138${i % 3}`, other: 'x' }));
    const copy = () => events.map((e) => makeEvent(Buffer.from(e.body), { ...e.headers }));
    await putAll(ch, copy());
    await putAll(ch, copy()); // the same events again, as a redelivery would bring them
    while ((await sink.process()) === 'READY');
    await sink.stop();
    const got = await kvScan(dir, 'calls', {});
    assert.equal(got.length, 25);
    assert.deepEqual(got[3], { row: 'h1/a1:0000000000000003', columns: { 'cdr:msisdn': '1380', 'cdr:payload': 'call 3' } });
  });

  it('takes a row-key template and reports Flume HBase options it cannot honour', () => {
    const { v } = build({ type: 'org.apache.flume.sink.hbase.HBaseSink', table: 't', columnFamily: 'f', rowKey: '%{msisdn}:%{identity}', 'serializer.rowPrefix': 'p-' });
    assert.deepEqual(v.errors, []);
    const bad = build({ type: 'kv', table: 't/x', columnFamily: 'f', zookeeperQuorum: 'zk:2181', 'serializer.incrementColumn': 'c', serializer: 'org.apache.flume.sink.hbase.RegexHbaseEventSerializer' }).v;
    assert.deepEqual(bad.errors.map((e) => e.key).sort(), ['a1.sinks.k1.serializer', 'a1.sinks.k1.serializer.incrementColumn', 'a1.sinks.k1.table', 'a1.sinks.k1.zookeeperQuorum']);
  });

  it('fails a batch of events without identity with a non-retriable error naming the fix, and keeps it in the channel', async () => {
    const dir = scratchDir('kv-');
    const { spec, v } = build({ type: 'kv', table: 't', columnFamily: 'f', store: dir });
    const ch = memoryChannel();
    const sink = spec.create(v.config, sinkContext('k1', ch));
    await sink.start();
    await putAll(ch, [makeEvent('no id')]);
    await assert.rejects(sink.process(), (e: unknown) => e instanceof MonsoonError && !e.retriable && /has no identity/.test(e.message));
    assert.equal(ch.size(), 1);
    await sink.stop();
  });
});
