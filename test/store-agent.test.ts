/**
 * The store sinks in a real agent, through crashes: TAILDIR → replicating selector → four file
 * channels → kv, postgres, clickhouse and rolled_files sinks. The agent is SIGKILLed twice while it
 * delivers and restarted; afterwards every store holds every line exactly once.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { KvStore } from '../src/store/kv/store.js';
import { startClickHouse, type ClickHouseServer } from './support/clickhouse.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';
import { kill9, spawnMonsoon, type Proc } from './support/procs.js';

const N = 20_000;
const line = (n: number) => `cdr-${String(n).padStart(8, '0')},1380000${n % 1000}`;

describe('store sinks in an agent killed with SIGKILL', () => {
  const root = mkdtempSync(join(tmpdir(), 'monsoon-store-agent-'));
  let pgs: PostgresServer;
  let ch: ClickHouseServer;
  const procs = new Set<Proc>();
  before(async () => {
    [pgs, ch] = await Promise.all([startPostgres(), startClickHouse()]);
  });
  after(async () => {
    for (const p of procs) await kill9(p);
    await pgs?.stop();
    await ch?.stop();
    if (!process.exitCode) rmSync(root, { recursive: true, force: true });
  });

  it('kv, postgres, clickhouse and rolled_files each end with every line exactly once', async () => {
    mkdirSync(join(root, 'logs'));
    writeFileSync(join(root, 'logs', 'cdr.log'), Array.from({ length: N }, (_, i) => line(i)).join('\n') + '\n');
    const d = join(root, 'agent');
    const chans = ['c1', 'c2', 'c3', 'c4'];
    const conf = `a.sources = r1\na.channels = ${chans.join(' ')}\na.sinks = kv pg ch files
a.sources.r1.type = TAILDIR\na.sources.r1.filegroups = f1\na.sources.r1.filegroups.f1 = ${root}/logs/cdr\\\\.log
a.sources.r1.positionFile = ${d}/taildir_position.json\na.sources.r1.batchSize = 500\na.sources.r1.channels = ${chans.join(' ')}
${chans.map((c) => `a.channels.${c}.type = file\na.channels.${c}.checkpointDir = ${d}/${c}/cp\na.channels.${c}.dataDirs = ${d}/${c}/data\na.channels.${c}.capacity = 100000\na.channels.${c}.transactionCapacity = 1000\n`).join('')}
a.sinks.kv.type = hbase\na.sinks.kv.channel = c1\na.sinks.kv.store = ${root}/kv\na.sinks.kv.table = cdr\na.sinks.kv.columnFamily = f\na.sinks.kv.batchSize = 200
a.sinks.pg.type = postgres\na.sinks.pg.channel = c2\na.sinks.pg.url = ${pgs.url}\na.sinks.pg.table = cdr\na.sinks.pg.batchSize = 200
a.sinks.ch.type = clickhouse\na.sinks.ch.channel = c3\na.sinks.ch.url = ${ch.url}\na.sinks.ch.table = cdr\na.sinks.ch.batchSize = 200
a.sinks.files.type = rolled_files\na.sinks.files.channel = c4\na.sinks.files.path = ${root}/files/open\na.sinks.files.moveTo = ${root}/files/done\na.sinks.files.rotation.size = 64\na.sinks.files.rotation.sizeUnits = KB\na.sinks.files.batchSize = 200
`;
    writeFileSync(join(root, 'agent.properties'), conf);
    const start = () => {
      const p = spawnMonsoon(['agent', '-n', 'a', '-f', join(root, 'agent.properties'), '--data-dir', join(d, 'state'), '--agent-id', 'test-agent']);
      procs.add(p);
      return p;
    };
    const db = new pg.Client({ connectionString: pgs.url });
    await db.connect();
    const pgCount = async () => Number((await db.query('SELECT count(*) AS n FROM cdr').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n);
    const chCount = async () => {
      const r = await fetch(`${ch.url}/?query=${encodeURIComponent('SELECT count() FROM cdr FINAL')}`);
      return r.ok ? Number((await r.text()).trim()) : 0;
    };
    const kvRows = () => {
      try {
        const s = KvStore.open(join(root, 'kv'), { readOnly: true });
        try {
          return s.table('cdr').scan();
        } finally {
          void s.close();
        }
      } catch {
        return [];
      }
    };
    const fileLines = () =>
      ['open', 'done'].flatMap((sub) => {
        const dir = join(root, 'files', sub);
        try {
          return readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
        } catch {
          return [];
        }
      });
    try {
      let agent = start();
      // Kill while the stores fill: once a tenth, then half of the lines reached PostgreSQL.
      for (const frac of [0.1, 0.5]) {
        const end = Date.now() + 60_000;
        while ((await pgCount()) < N * frac) {
          assert.ok(Date.now() < end, `PostgreSQL got ${await pgCount()} of ${N * frac} rows; agent: ${agent.tail()}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        await kill9(agent);
        procs.delete(agent);
        agent = start();
      }
      const end = Date.now() + 90_000;
      for (;;) {
        const counts = [await pgCount(), await chCount(), kvRows().length];
        if (counts.every((c) => c >= N)) break;
        assert.ok(Date.now() < end, `stores hold ${counts.join('/')} (pg/ch/kv) of ${N}; agent: ${agent.tail()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // A clean stop closes and moves the open file; then the files hold exactly the lines too.
      agent.child.kill('SIGTERM');
      await agent.exited;
      procs.delete(agent);
      const expected = Array.from({ length: N }, (_, i) => line(i));
      assert.deepEqual((await db.query('SELECT body FROM cdr ORDER BY body')).rows.map((r) => r.body), expected);
      const chBodies = await (await fetch(`${ch.url}/?query=${encodeURIComponent('SELECT body FROM cdr FINAL ORDER BY body')}`)).text();
      assert.deepEqual(chBodies.trim().split('\n'), expected);
      assert.deepEqual(kvRows().map((r) => r.cells.find((c) => c.qualifier.toString() === 'payload')!.value.toString()).sort(), expected);
      assert.deepEqual(readdirSync(join(root, 'files', 'open')), []);
      assert.deepEqual(fileLines().sort(), expected);
    } finally {
      await db.end();
    }
  });
});
