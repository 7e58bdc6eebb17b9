import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import '../src/collect/builtins.js';
import { memoryChannel, sinkContext } from '../src/collect/testkit.js';
import { putAll } from '../src/collect/sinks/sink-testkit.js';
import type { Sink } from '../src/collect/contracts.js';
import { resolveComponent, validateComponent } from '../src/core/config/component.js';
import { MonsoonError } from '../src/core/errors.js';
import { makeEvent, type Event } from '../src/core/event.js';
import { PgWriter } from '../src/store/postgres/writer.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const events = (n: number, from = 0): Event[] =>
  Array.from({ length: n }, (_, i) => makeEvent(`record ${from + i}`, { 'monsoon.origin': 'h1/a1', 'monsoon.seq': String(from + i), msisdn: String(13800000000 + ((from + i) % 7)) }));

function sink(props: Record<string, string>, ch = memoryChannel()): { s: Sink; ch: ReturnType<typeof memoryChannel> } {
  const r = resolveComponent('sink', props.type ?? 'postgres');
  assert.ok('spec' in r);
  const v = validateComponent(r.spec, { type: 'postgres', ...props }, 'a1.sinks.k1');
  assert.deepEqual(v.errors, []);
  return { s: r.spec.create(v.config, sinkContext('k1', ch)) as Sink, ch };
}

describe('postgres sink against a throwaway PostgreSQL', () => {
  let server: PostgresServer;
  let db: pg.Client;
  before(async () => {
    server = await startPostgres();
    db = new pg.Client({ connectionString: server.url });
    db.on('error', () => {}); // the crash test kills the server under this connection
    await db.connect();
  });
  after(async () => {
    await db?.end();
    await server?.stop();
  });
  const count = async (table: string) => (await db.query<{ n: string; d: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM ${table}`)).rows[0]!;

  it('writes typed columns in one upsert per batch; a replayed batch adds no rows', async () => {
    await db.query('CREATE TABLE calls (id text PRIMARY KEY, msisdn bigint, body text, headers jsonb, seq integer)');
    const { s, ch } = sink({ url: server.url.replace(/^postgres:/, 'jdbc:postgresql:'), table: 'calls', columns: 'msisdn=header.msisdn body=body headers=headers seq=seq', batchSize: '50' });
    await s.start();
    const batch = events(120);
    await putAll(ch, batch);
    await putAll(ch, events(120)); // the same identities again
    while ((await s.process()) === 'READY');
    await s.stop();
    assert.deepEqual(await count('calls'), { n: '120', d: '120' });
    const row = (await db.query('SELECT msisdn, body, headers->>$1 AS origin, seq FROM calls WHERE id = $2', ['monsoon.origin', 'h1/a1:0000000000000007'])).rows[0];
    assert.deepEqual(row, { msisdn: '13800000000', body: 'record 7', origin: 'h1/a1', seq: 7 });
  });

  it('takes rows directly (what a bolt hands it): numbers, big integers, bytes into bytea, NULLs; a replay adds nothing', async () => {
    await db.query('CREATE TABLE agg (id text PRIMARY KEY, n bigint, total numeric, raw bytea, note text, ok boolean)');
    const w = new PgWriter({ connectionString: server.url, table: ['agg'], idColumn: 'id', columns: ['n', 'total', 'raw', 'note', 'ok'], onConflict: 'nothing', createTable: false, timeoutMs: 5000 });
    const rows = [
      { id: 'w1', values: { n: 9007199254740993n, total: 1.5, raw: Buffer.from([0, 255, 10]), note: null, ok: true } },
      { id: 'w2', values: { n: 2, total: 0, raw: Buffer.from('x'), note: 'b', ok: false } },
    ];
    await w.write(rows);
    await w.write(rows);
    await w.close();
    const got = (await db.query("SELECT id, n::text, total::text, encode(raw, 'hex') AS raw, note, ok FROM agg ORDER BY id")).rows;
    assert.deepEqual(got, [
      { id: 'w1', n: '9007199254740993', total: '1.5', raw: '00ff0a', note: null, ok: true },
      { id: 'w2', n: '2', total: '0', raw: '78', note: 'b', ok: false },
    ]);
  });

  it('creates a missing table; onConflict = update rewrites a replayed row', async () => {
    const { s, ch } = sink({ url: server.url, table: 'public.auto', columns: 'body=body', onConflict: 'update' });
    await s.start();
    await putAll(ch, events(3));
    await s.process();
    const changed = events(1);
    changed[0]!.body = Buffer.from('corrected');
    await putAll(ch, changed);
    await s.process();
    await s.stop();
    assert.deepEqual((await db.query('SELECT id, body FROM auto ORDER BY id')).rows.map((r) => r.body), ['corrected', 'record 1', 'record 2']);
  });

  it('refuses a batch for a column the table lacks without retrying, naming the column', async () => {
    await db.query('CREATE TABLE narrow (id text PRIMARY KEY, body text)');
    const { s, ch } = sink({ url: server.url, table: 'narrow', columns: 'body=body extra=header.msisdn' });
    await s.start();
    await putAll(ch, events(2));
    await assert.rejects(s.process(), (e: unknown) => e instanceof MonsoonError && e.code === 'MON_ERR_STORE_REJECTED' && !e.retriable && /no column extra/.test(e.message));
    assert.equal(ch.size(), 2);
    await s.stop();
  });

  it('server killed mid-run: batches fail retriably, the sink retries after the restart, exactly N rows land', async () => {
    const N = 3000;
    const { s, ch } = sink({ url: server.url, table: 'crash', columns: 'body=body', batchSize: '100', timeout: '3000' });
    await s.start();
    await putAll(ch, events(N));
    let batches = 0;
    const failures: MonsoonError[] = [];
    let killed = false;
    while (ch.size() > 0) {
      if (batches === 10 && !killed) {
        killed = true;
        await server.kill();
        // Fail a few batches against the dead server, then bring it back.
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
    await db.end().catch(() => {});
    db = new pg.Client({ connectionString: server.url });
    await db.connect();
    assert.deepEqual(await count('crash'), { n: String(N), d: String(N) });
  });
});
