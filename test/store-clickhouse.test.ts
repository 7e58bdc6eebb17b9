import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import '../src/collect/builtins.js';
import { memoryChannel, sinkContext } from '../src/collect/testkit.js';
import { putAll } from '../src/collect/sinks/sink-testkit.js';
import type { Sink } from '../src/collect/contracts.js';
import { resolveComponent, validateComponent } from '../src/core/config/component.js';
import { MonsoonError } from '../src/core/errors.js';
import { makeEvent, type Event } from '../src/core/event.js';
import { ClickHouseWriter } from '../src/store/clickhouse/writer.js';
import { startClickHouse, type ClickHouseServer } from './support/clickhouse.js';

const events = (n: number, from = 0): Event[] =>
  Array.from({ length: n }, (_, i) => makeEvent(`record ${from + i}`, { 'monsoon.origin': 'h1/a1', 'monsoon.seq': String(from + i), msisdn: String(13800000000 + ((from + i) % 7)) }));

function sink(props: Record<string, string>, ch = memoryChannel()): { s: Sink; ch: ReturnType<typeof memoryChannel> } {
  const r = resolveComponent('sink', 'clickhouse');
  assert.ok('spec' in r);
  const v = validateComponent(r.spec, { type: 'clickhouse', ...props }, 'a1.sinks.k1');
  assert.deepEqual(v.errors, []);
  return { s: r.spec.create(v.config, sinkContext('k1', ch)) as Sink, ch };
}

describe('clickhouse sink against a throwaway clickhouse-server', () => {
  let server: ClickHouseServer;
  before(async () => {
    server = await startClickHouse();
  });
  after(async () => {
    await server?.stop();
  });
  const sql = async (query: string): Promise<string> => {
    const r = await fetch(`${server.url}/`, { method: 'POST', body: query });
    const text = await r.text();
    if (!r.ok) throw new Error(text);
    return text.trim();
  };

  it('inserts typed columns once per batch; replayed batches collapse to one row per identity', async () => {
    await sql('CREATE TABLE calls (id String, msisdn UInt64, body String, seq UInt64, origin Nullable(String)) ENGINE = ReplacingMergeTree() ORDER BY id');
    const { s, ch } = sink({ url: server.url, table: 'calls', columns: 'msisdn=header.msisdn body=body seq=seq origin=origin', batchSize: '50' });
    await s.start();
    await putAll(ch, events(120));
    await putAll(ch, events(120)); // the same identities again
    while ((await s.process()) === 'READY');
    await s.stop();
    assert.equal(await sql('SELECT count() FROM calls FINAL'), '120');
    assert.equal(await sql('SELECT uniqExact(id) FROM calls'), '120');
    assert.equal(await sql("SELECT concat(toString(msisdn), ' ', body, ' ', toString(seq)) FROM calls FINAL WHERE id = 'h1/a1:0000000000000007'"), '13800000000 record 7 7');
    await sql('OPTIMIZE TABLE calls FINAL');
    assert.equal(await sql('SELECT count() FROM calls'), '120');
  });

  it('takes rows directly (what a bolt hands it): numbers, big integers, booleans, NULLs', async () => {
    await sql('CREATE TABLE agg (id String, n UInt64, total Float64, ok UInt8, note Nullable(String)) ENGINE = ReplacingMergeTree() ORDER BY id');
    const w = new ClickHouseWriter({ url: server.url, database: 'default', table: 'agg', idColumn: 'id', columns: ['n', 'total', 'ok', 'note'], createTable: false, timeoutMs: 5000 });
    const rows = [
      { id: 'w1', values: { n: 18446744073709551615n, total: 1.5, ok: true, note: null } },
      { id: 'w2', values: { n: 2, total: 0, ok: false, note: Buffer.from('b') } },
    ];
    await w.write(rows);
    await w.write(rows);
    await w.close();
    assert.equal(await sql('SELECT id, n, total, ok, note FROM agg FINAL ORDER BY id FORMAT TSV'), 'w1\t18446744073709551615\t1.5\t1\t\\N\nw2\t2\t0\t0\tb');
  });

  it('refuses a batch for a column the table lacks without retrying, naming the column', async () => {
    await sql('CREATE TABLE narrow (id String, body String) ENGINE = ReplacingMergeTree() ORDER BY id');
    const { s, ch } = sink({ url: server.url, table: 'narrow', columns: 'body=body extra=header.msisdn' });
    await s.start();
    await putAll(ch, events(2));
    await assert.rejects(s.process(), (e: unknown) => e instanceof MonsoonError && e.code === 'MON_ERR_STORE_REJECTED' && !e.retriable && /no column extra/.test(e.message));
    assert.equal(ch.size(), 2);
    await s.stop();
  });

  it('server killed mid-run: batches fail retriably, the sink retries after the restart, exactly N rows (created table)', async () => {
    const N = 3000;
    const { s, ch } = sink({ url: server.url, table: 'crash', columns: 'body=body msisdn=header.msisdn', batchSize: '100', timeout: '5000' });
    await s.start();
    await putAll(ch, events(N));
    let batches = 0;
    let killed = false;
    const failures: MonsoonError[] = [];
    while (ch.size() > 0) {
      if (batches === 10 && !killed) {
        killed = true;
        await server.kill();
        for (let i = 0; i < 3; i++) {
          await s.process().then(
            () => assert.fail('a batch succeeded with the server down'),
            (e: unknown) => failures.push(e as MonsoonError),
          );
        }
        await server.start();
      }
      try {
        await s.process();
        batches++;
      } catch (e) {
        failures.push(e as MonsoonError);
        if (failures.length > 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await s.stop();
    assert.ok(failures.length >= 3);
    for (const f of failures) assert.ok(f instanceof MonsoonError && f.code === 'MON_ERR_STORE_UNAVAILABLE' && f.retriable, String(f));
    assert.equal(await sql('SELECT count() FROM crash FINAL'), String(N));
    assert.equal(await sql('SELECT uniqExact(id) FROM crash'), String(N));
  });
});
