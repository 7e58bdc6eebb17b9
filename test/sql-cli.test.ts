import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openBus } from '../src/bus/url.js';
import { freePort, kill9, MONSOON_BIN, spawnMonsoon } from './support/procs.js';

const run = (args: string[], input?: string) => spawnSync(process.execPath, [MONSOON_BIN, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}), env: { ...process.env, HOME: dir } });
const dir = mkdtempSync(join(tmpdir(), 'monsoon-sql-'));
const works: string[] = [];
after(() => {
  for (const d of [dir, ...works]) rmSync(d, { recursive: true, force: true });
});
const EXAMPLE = new URL('../../examples/sql/clicks.cql', import.meta.url).pathname;

describe('monsoon sql', () => {
  it('--explain prints the plan of the example application and exits 0', () => {
    const r = run(['sql', '--explain', EXAMPLE]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /application clicks_app — time zone UTC\+08:00/);
    assert.match(r.stdout, /q1\.aggregate\s+aggregate\s+×4\s+GROUP BY userId: count\(\*\), max\(latencyMs\)/);
    assert.match(r.stdout, /q3\.join\s+join/);
  });

  it('--explain --json prints the plan as JSON', () => {
    const r = run(['sql', '--explain', '--json', EXAMPLE]);
    assert.equal(r.status, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { version: number; application: string; nodes: { id: string }[] };
    assert.equal(plan.version, 1);
    assert.equal(plan.application, 'clicks_app');
    assert.ok(plan.nodes.some((n) => n.id === 'q2.filter'));
  });

  it('lists every error with file:line:column and exits non-zero', () => {
    const f = join(dir, 'bad.cql');
    writeFileSync(f, `CREATE INPUT STREAM s (id INT) SOURCE KafkaInput PROPERTIES (topic = 't');\nINSERT INTO x SELECT nope FROM s;\n  INSERT INTO y SELECT id FROM missing;\n`);
    const r = run(['sql', '--explain', f]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:22: error MON_ERR_SQL_UNKNOWN_COLUMN: .*unknown column 'nope'`));
    assert.match(r.stderr, /bad\.cql:3:32: error MON_ERR_SQL_UNKNOWN_STREAM: .*unknown stream 'missing'/);
    assert.match(r.stderr, /2 errors; nothing of .* was submitted/);
    assert.equal(r.stdout, '');
  });

  it('reports a syntax error with its position', () => {
    const f = join(dir, 'syntax.cql');
    writeFileSync(f, `INSERT INTO x\nSELECT id,, name FROM s;\n`);
    const r = run(['sql', '--explain', f]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /syntax\.cql:2:11: error MON_ERR_SQL_SYNTAX: expected .* but found ','/);
  });

  it('runs an application: bus input produced beforehand → filter, group by → output topic', async () => {
    const work = mkdtempSync(join(tmpdir(), 'monsoon-sql-run-'));
    works.push(work);
    const busDir = join(work, 'bus');
    const bus = await openBus(busDir);
    await bus.admin.createTopic('clicks', { partitions: 2 });
    const lines = ['1,a,5', '2,b,0.5', '3,a,7', '4,c,2', '5,a,1.5', '6,b,9'];
    await bus.produce('clicks', lines.map((l) => ({ value: Buffer.from(l) })));
    await bus.close();
    const app = join(work, 'app.cql');
    writeFileSync(app, `
      CREATE INPUT STREAM clicks (id INT, name STRING, v DOUBLE) SERDE CsvSerDe SOURCE BusInput PROPERTIES (url = '${busDir}', topic = 'clicks');
      CREATE OUTPUT STREAM counts (name STRING, n LONG, total DOUBLE) SERDE JSON SINK KafkaOutput PROPERTIES (topic = 'counts');
      INSERT INTO counts SELECT name, count(*), sum(v) FROM clicks(v > 1) GROUP BY name PARALLEL 2;
      SUBMIT APPLICATION e2e;`);
    const port = await freePort();
    const p = spawnMonsoon(['sql', app, '--bus', busDir, '--api-port', String(port)]);
    try {
      // The filter runs in the spout task, so the one record it drops is acked there without a tuple:
      // the spout's acked counter reaches the 5 records that pass.
      const passing = 5;
      let acked = 0;
      for (let i = 0; i < 300 && acked < passing; i++) {
        await new Promise((r) => setTimeout(r, 100));
        try {
          const s = (await (await fetch(`http://127.0.0.1:${port}/api/v1/topology/summary`)).json()) as { topologies: { id: string; name: string }[] };
          const t = s.topologies.find((x) => x.name === 'e2e');
          if (!t) continue;
          const page = (await (await fetch(`http://127.0.0.1:${port}/api/v1/topology/${encodeURIComponent(t.id)}`)).json()) as { spouts: { acked: number }[] };
          acked = page.spouts.reduce((a, x) => a + x.acked, 0);
        } catch { /* not listening yet */ }
      }
      assert.equal(acked, passing, p.tail());
      // The shell talks to the running application through its REST API; DROP stops it.
      const sh = run(['sql', '--api', `http://127.0.0.1:${port}`], 'SHOW APPLICATIONS;\nDEACTIVE APPLICATION e2e;\nSHOW APPLICATIONS;\nDROP APPLICATION e2e;\n\\q\n');
      assert.equal(sh.status, 0, sh.stderr);
      assert.match(sh.stdout, /e2e\tACTIVE\t/);
      assert.match(sh.stdout, /deactivated e2e/);
      assert.match(sh.stdout, /e2e\tINACTIVE\t/);
      assert.match(sh.stdout, /dropped e2e/);
      assert.equal(await p.exited, 0, p.tail());
    } finally {
      await kill9(p);
    }
    const check = await openBus(busDir);
    try {
      const c = await check.consumer('check', ['counts'], { from: 'earliest' });
      const got: unknown[] = [];
      for (let i = 0; i < 20 && got.length < 5; i++) for (const b of await c.poll(100, 200)) for (const r of b.records) got.push(JSON.parse(r.value.toString()));
      await c.close();
      const last = new Map<string, unknown>();
      for (const r of got as { name: string }[]) last.set(r.name, r);
      assert.equal(got.length, 5);
      assert.deepEqual(last.get('a'), { name: 'a', n: 3, total: 13.5 });
      assert.deepEqual(last.get('c'), { name: 'c', n: 1, total: 2 });
      assert.deepEqual(last.get('b'), { name: 'b', n: 1, total: 9 });
    } finally {
      await check.close();
    }
  });

  it('the interactive shell submits an application, lists, rebalances and drops it', () => {
    const r = run(['sql'], [
      `CREATE INPUT STREAM readings (id INT, v DOUBLE) SOURCE RandomGen PROPERTIES (timeUnit = 'SECONDS', period = '1', eventNumPerPeriod = '2');`,
      `CREATE OUTPUT STREAM n (k INT, c LONG) SINK ConsoleOutput;`,
      `INSERT INTO n SELECT id % 2, count(*) FROM readings[RANGE 2 SECONDS SLIDE] GROUP BY id % 2;`,
      `SUBMIT APPLICATION live;`,
      `SUBMIT APPLICATION live;`,
      `SHOW APPLICATIONS;`,
      `REBALANCE APPLICATION live SET WORKER 3;`,
      `DEACTIVE APPLICATION live;`,
      `DROP APPLICATION live;`,
      `SHOW APPLICATIONS;`,
      `\\q`,
    ].join('\n') + '\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /submitted live; it runs in this shell/);
    // After a submit the shell starts a new, empty application: a second SUBMIT has no queries.
    assert.doesNotMatch(r.stdout.split('submitted live')[2] ?? '', /./, 'submitted once');
    assert.match(r.stdout, /live\tACTIVE\t/);
    assert.match(r.stdout, /error: .*(worker|numWorkers)/i, 'the local runtime refuses another worker count with a message');
    assert.match(r.stdout, /deactivated live/);
    assert.match(r.stdout, /dropped live/);
    assert.match(r.stdout, /\(no applications\)/);
  });

  it('the interactive shell checks statements at each ;, across lines', () => {
    const r = run(['sql'], [
      `CREATE INPUT STREAM s (id INT, name STRING)`,
      `  SOURCE RandomGen;`,
      `INSERT INTO x SELECT nope FROM s;`,
      `INSERT INTO x SELECT id FROM s WHERE id > 1;`,
      `EXPLAIN APPLICATION demo;`,
      `\\q`,
    ].join('\n') + '\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /error MON_ERR_SQL_UNKNOWN_COLUMN at 1:22: .*unknown column 'nope'/);
    assert.match(r.stdout, /application demo/);
    assert.match(r.stdout, /q1\.where\s+filter/);
  });
});
