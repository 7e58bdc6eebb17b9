import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { OutputCollector, TopologyContext } from '../../compute/api.js';
import { RowBatchBuilder } from '../../compute/row-batch.js';
import { Fields, StreamInfo, Tuple } from '../../compute/tuple.js';
import { acquireKvStore } from '../kv/shared.js';
import { KvStoreBolt } from './kv.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-kv-bolt-'));
after(() => rmSync(root, { recursive: true, force: true }));

const info = new StreamInfo('etl', 'default', new Fields('row', 'qualifier', 'value'));
const tuple = (i: number, qualifier: unknown = `${String(1763700000000 + i).padStart(13, '0')}#run-${i}`) =>
  new Tuple([`row${i % 37}`, qualifier, JSON.stringify({ i })], info, 1, 32);
const ctx = { getThisComponentId: () => 'kv', getThisTaskIndex: () => 0 } as TopologyContext;

async function until(f: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(f(), 'timed out');
}

describe('KvStoreBolt', () => {
  it('acks a tuple only once its cell is committed, and a replay leaves the table as it was', async () => {
    const dir = join(root, 'acks');
    const reader = acquireKvStore(dir);
    const table = reader.store.table('cdr');
    const acked: Tuple[] = [];
    const visible: boolean[] = [];
    const collector = {
      ack: (t: Tuple) => {
        acked.push(t);
        const cells = table.get(t.getStringByField('row'), { columns: [`content:${t.getStringByField('qualifier')}`] });
        visible.push(cells.length === 1 && cells[0]!.value.toString() === t.getStringByField('value'));
      },
      fail: () => assert.fail('no tuple should fail'),
      reportError: (e: unknown) => assert.fail(String(e)),
    } as unknown as OutputCollector;
    const bolt = new KvStoreBolt({ store: dir, table: 'cdr', family: 'content', rowField: 'row', qualifierField: 'qualifier', valueField: 'value', maxBatch: 300 });
    await bolt.prepare({}, ctx, collector);
    for (let i = 0; i < 2000; i++) bolt.execute(tuple(i));
    await until(() => acked.length === 2000);
    assert.ok(visible.every(Boolean), 'a tuple was acked before its cell was readable');
    assert.equal(table.count(), 2000);
    assert.ok(bolt.counters.batches >= 7);
    for (let i = 0; i < 2000; i += 3) bolt.execute(tuple(i));
    await until(() => acked.length === 2000 + 667);
    assert.equal(table.count(), 2000);
    await bolt.cleanup();
    await reader.release();
  });

  it('fails every tuple of a batch holding a cell it cannot write, and writes none of them', async () => {
    const dir = join(root, 'fails');
    const acked: Tuple[] = [];
    const failed: Tuple[] = [];
    const errors: unknown[] = [];
    const collector = { ack: (t: Tuple) => acked.push(t), fail: (t: Tuple) => failed.push(t), reportError: (e: unknown) => errors.push(e) } as unknown as OutputCollector;
    const bolt = new KvStoreBolt({ store: dir, table: 'cdr', family: 'content', rowField: 'row', qualifierField: 'qualifier', valueField: 'value' });
    await bolt.prepare({}, ctx, collector);
    bolt.execute(tuple(1));
    bolt.execute(tuple(2, 12345));
    bolt.execute(tuple(3));
    await until(() => failed.length === 3);
    assert.equal(acked.length, 0);
    assert.match(String(errors[0]), /strings or bytes/);
    bolt.execute(tuple(4));
    await until(() => acked.length === 1);
    const reader = acquireKvStore(dir);
    assert.equal(reader.store.table('cdr').count(), 1);
    await reader.release();
    await bolt.cleanup();
  });

  it('writes every row of a row batch as a cell, counts rows against maxBatch, and fails a batch tuple whose rows it cannot write', async () => {
    const dir = join(root, 'rows');
    const acked: Tuple[] = [];
    const failed: Tuple[] = [];
    const errors: unknown[] = [];
    const collector = { ack: (t: Tuple) => acked.push(t), fail: (t: Tuple) => failed.push(t), reportError: (e: unknown) => errors.push(e) } as unknown as OutputCollector;
    const batchInfo = new StreamInfo('etl', 'default', new Fields('rows'));
    const batch = (from: number, n: number, row = (i: number) => `row${i % 37}`) => {
      const out = new RowBatchBuilder(['value', 'row', 'qualifier'], n);
      for (let i = from; i < from + n; i++) {
        for (const v of [JSON.stringify(i % 10 === 7 ? { i, pad: 'x'.repeat(200) } : { i }), row(i), `${String(1763700000000 + i).padStart(13, '0')}#run-${i}`]) {
          out.text(v);
          out.endField();
        }
        out.endRow();
      }
      return new Tuple([out.finish()], batchInfo, 1, 64);
    };
    const bolt = new KvStoreBolt({ store: dir, table: 'cdr', family: 'content', rowsField: 'rows', rowField: 'row', qualifierField: 'qualifier', valueField: 'value', maxBatch: 250 });
    await bolt.prepare({}, ctx, collector);
    for (let i = 0; i < 2000; i += 100) bolt.execute(batch(i, 100));
    await until(() => acked.length === 20);
    assert.equal(bolt.counters.written, 2000);
    assert.ok(bolt.counters.batches >= 8, `${bolt.counters.batches} writes of at most 250 rows`);
    const reader = acquireKvStore(dir);
    const table = reader.store.table('cdr');
    assert.equal(table.count(), 2000);
    const cell = table.get('row5', { columns: [`content:${String(1763700000000 + 42).padStart(13, '0')}#run-42`] });
    assert.equal(cell[0]?.value.toString(), '{"i":42}');
    // values of 128 bytes and more are copied the other way
    const long = table.get('row7', { columns: [`content:${String(1763700000000 + 7).padStart(13, '0')}#run-7`] });
    assert.equal(long[0]?.value.toString(), JSON.stringify({ i: 7, pad: 'x'.repeat(200) }));
    // a replayed batch rewrites its cells; a batch with an empty row key fails whole
    bolt.execute(batch(0, 100));
    await until(() => acked.length === 21);
    bolt.execute(batch(5000, 10, (i) => (i === 5005 ? '' : 'x')));
    await until(() => failed.length === 1);
    assert.match(String(errors[0]), /empty row key/);
    // a batch without one of the fields fails alone, before it joins a write
    const other = new RowBatchBuilder(['value', 'row'], 1);
    for (const v of ['v', 'r']) {
      other.text(v);
      other.endField();
    }
    other.endRow();
    bolt.execute(new Tuple([other.finish()], batchInfo, 1, 64));
    bolt.execute(batch(6000, 5));
    await until(() => failed.length === 2 && acked.length === 22);
    assert.match(String(errors[1]), /the row batch in field rows has no field "qualifier"; its fields are "value", "row"/);
    assert.equal(table.count(), 2005);
    await reader.release();
    await bolt.cleanup();
  });
});
