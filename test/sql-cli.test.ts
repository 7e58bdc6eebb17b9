import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MONSOON_BIN } from './support/procs.js';

const run = (args: string[], input?: string) => spawnSync(process.execPath, [MONSOON_BIN, ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}), env: { ...process.env, HOME: dir } });
const dir = mkdtempSync(join(tmpdir(), 'monsoon-sql-'));
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

  it('without --explain says submission needs the compute runtime', () => {
    const r = run(['sql', EXAMPLE]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /is valid, but submitting applications needs the compute runtime, which is not available yet/);
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
