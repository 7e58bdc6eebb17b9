import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compileScript } from './index.js';
import { explainText, type LogicalPlan, type PlanNode } from './plan.js';

const DDL = `
CREATE INPUT STREAM s (id INT, name STRING, v DOUBLE, ts TIMESTAMP) SOURCE KafkaInput PROPERTIES (topic = 's') PARALLEL 2;
CREATE INPUT STREAM t (id INT, label STRING) SOURCE RandomGen;
CREATE OUTPUT STREAM o (id INT, n LONG) SINK ConsoleOutput;
`;

function plan(text: string): LogicalPlan {
  const r = compileScript(DDL + text);
  assert.deepEqual(r.errors.map((e) => e.message), []);
  // The plan is plain data.
  assert.deepEqual(JSON.parse(JSON.stringify(r.plan)), r.plan);
  return r.plan!;
}

/** "id op ×par ← from grouping" per node of query 1, for compact assertions. */
function shape(p: LogicalPlan, query = 1): string[] {
  const g = (n: PlanNode) => n.inputs.map((e) => `${e.from} ${e.grouping.kind === 'fields' ? `fields(${e.grouping.keys.join(',')})` : e.grouping.kind}`).join(' + ');
  return p.nodes.filter((n) => n.query === query).map((n) => `${n.id} ${n.op} ×${n.parallelism} ← ${g(n)}`);
}

const into = (p: LogicalPlan, stream: string) => p.nodes.find((n) => n.id === `stream:${stream}`)!.inputs.map((e) => e.from);

describe('StreamCQL logical plan', () => {
  it('streams: source → stream, stream → sink, with connector, serde and parallelism', () => {
    const p = plan('');
    const src = p.nodes.find((n) => n.id === 'source:s')!;
    assert.ok(src.op === 'source');
    assert.deepEqual([src.connector, src.serde, src.parallelism], [{ name: 'KafkaInput', props: { topic: 's' } }, { name: 'SimpleSerDe', props: {} }, 2]);
    const sink = p.nodes.find((n) => n.id === 'sink:o')!;
    assert.ok(sink.op === 'sink');
    assert.equal(sink.connector.name, 'ConsoleOutput');
    assert.deepEqual(sink.inputs, [{ from: 'stream:o', grouping: { kind: 'local' } }]);
  });

  it('filter + projection', () => {
    const p = plan(`INSERT INTO x SELECT id, upper(name) AS up FROM s WHERE v > 1.5 PARALLEL 3;`);
    assert.deepEqual(shape(p), [
      'q1.where filter ×3 ← stream:s shuffle',
      'q1.project project ×3 ← q1.where local',
    ]);
    const proj = p.nodes.find((n) => n.id === 'q1.project')!;
    assert.ok(proj.op === 'project');
    assert.deepEqual(proj.names, ['id', 'up']);
    assert.deepEqual(proj.schema, [{ name: 'id', type: 'INT' }, { name: 'up', type: 'STRING' }]);
    assert.deepEqual(into(p, 'x'), ['q1.project']);
  });

  it('windowed group-by with HAVING, ORDER BY and LIMIT', () => {
    const p = plan(`INSERT INTO o SELECT id, count(*) AS n FROM s(v > 0)[RANGE 30 SECONDS SLIDE TRIGGER BY ts] GROUP BY id HAVING sum(v) > 10 ORDER BY n DESC LIMIT 3 PARALLEL 4;`);
    assert.deepEqual(shape(p), [
      'q1.filter filter ×4 ← stream:s fields(id)',
      'q1.window window ×4 ← q1.filter local',
      'q1.aggregate aggregate ×4 ← q1.window local',
      'q1.having filter ×4 ← q1.aggregate local',
      'q1.orderLimit orderLimit ×1 ← q1.having global',
      'q1.project project ×1 ← q1.orderLimit local',
    ]);
    const agg = p.nodes.find((n) => n.id === 'q1.aggregate')!;
    assert.ok(agg.op === 'aggregate');
    assert.deepEqual(agg.aggregates.map((x) => [x.fn, x.sql, x.t]), [['count', 'count(*)', 'LONG'], ['sum', 'sum(v)', 'DOUBLE']]);
    assert.deepEqual(agg.schema.map((c) => c.name), ['id', 'count(*)', 'sum(v)']);
    const w = p.nodes.find((n) => n.id === 'q1.window')!;
    assert.ok(w.op === 'window');
    assert.equal(w.sql, 'RANGE 30 SECONDS SLIDE TRIGGER BY ts');
    const ol = p.nodes.find((n) => n.id === 'q1.orderLimit')!;
    assert.ok(ol.op === 'orderLimit');
    assert.equal(ol.sql, 'ORDER BY count(*) DESC LIMIT 3');
    assert.deepEqual(into(p, 'o'), ['q1.project']);
  });

  it('a ROWS window without PARTITION BY runs in one task, with a warning', () => {
    const p = plan(`INSERT INTO x SELECT id FROM s[ROWS 10 SLIDE] PARALLEL 3;`);
    assert.deepEqual(shape(p), ['q1.window window ×1 ← stream:s shuffle', 'q1.project project ×1 ← q1.window local']);
    assert.match(p.warnings.join('\n'), /ROWS 10 SLIDE window of s has no PARTITION BY/);
    const q = plan(`INSERT INTO x SELECT id FROM s[ROWS 10 SLIDE PARTITION BY name] PARALLEL 3;`);
    assert.deepEqual(shape(q), ['q1.window window ×3 ← stream:s fields(name)', 'q1.project project ×3 ← q1.window local']);
  });

  it('join of two windowed streams, distributed by the ON keys', () => {
    const p = plan(`INSERT INTO j SELECT a.id, b.label FROM s[RANGE 1 MINUTE SLIDE] AS a UNIDIRECTION LEFT JOIN t[ROWS 100 SLIDE] AS b ON a.id = b.id AND b.label <> 'x' PARALLEL 2;`);
    assert.deepEqual(shape(p), [
      'q1.left.window window ×2 ← stream:s fields(id)',
      'q1.right.window window ×2 ← stream:t fields(id)',
      'q1.join join ×2 ← q1.left.window local + q1.right.window local',
      'q1.project project ×2 ← q1.join local',
    ]);
    const j = p.nodes.find((n) => n.id === 'q1.join')!;
    assert.ok(j.op === 'join');
    assert.equal(j.type, 'LEFT');
    assert.equal(j.driver, 'left');
    assert.equal(j.sql, "LEFT JOIN ON a.id = b.id AND label <> 'x' (driven by a)");
    assert.deepEqual(j.schema.map((c) => c.name), ['id', 'name', 'v', 'ts', 'id', 'label']);
  });

  it('combine of two streams by key', () => {
    const p = plan(`INSERT INTO c SELECT s.id, s.name, t.label FROM s, t COMBINE (s.id, t.id);`);
    assert.deepEqual(shape(p), [
      'q1.combine combine ×1 ← stream:s fields(id) + stream:t fields(id)',
      'q1.project project ×1 ← q1.combine local',
    ]);
  });

  it('multi-insert: one FROM, several targets', () => {
    const p = plan(`FROM s INSERT INTO a SELECT id, name WHERE id > 1 INSERT INTO b SELECT count(*) AS n GROUP BY name;`);
    assert.deepEqual(shape(p, 1), ['q1.where filter ×1 ← stream:s shuffle', 'q1.project project ×1 ← q1.where local']);
    assert.deepEqual(shape(p, 2), ['q2.aggregate aggregate ×1 ← stream:s fields(name)', 'q2.project project ×1 ← q2.aggregate local']);
    assert.deepEqual(p.queries.map((q) => q.sql), [
      'INSERT INTO STREAM a SELECT id, name FROM s WHERE id > 1',
      'INSERT INTO STREAM b SELECT count(*) AS n FROM s GROUP BY name',
    ]);
  });

  it('user operator with DISTRIBUTE BY and PARALLEL', () => {
    const p = plan(`CREATE OPERATOR tag AS './tag.js#Tag' INPUT (id INT, label STRING) OUTPUT (id INT, tagged STRING) PROPERTIES (prefix = 'x');
      INSERT INTO tagged USING OPERATOR tag FROM t DISTRIBUTE BY label PARALLEL 5;`);
    assert.deepEqual(shape(p), ['q1.operator operator ×5 ← stream:t fields(label)']);
    const n = p.nodes.find((x) => x.id === 'q1.operator')!;
    assert.ok(n.op === 'operator');
    assert.deepEqual([n.ref, n.props], ['./tag.js#Tag', { prefix: 'x' }]);
    assert.deepEqual(into(p, 'tagged'), ['q1.operator']);
  });

  it('datasource lookup per event', () => {
    const p = plan(`CREATE DATASOURCE users SOURCE RDBDataSource PROPERTIES (url = 'postgres://db/app', password = 'secret');
      INSERT INTO e SELECT s.id, u.uname FROM s, DATASOURCE users[SCHEMA (uname STRING), QUERY ('select name from users where id = ?', s.id)] AS u;`);
    assert.deepEqual(shape(p), ['q1.lookup lookup ×1 ← stream:s shuffle', 'q1.project project ×1 ← q1.lookup local']);
    assert.doesNotMatch(explainText(p), /secret/);
  });

  it('explain text lists streams, operators, parallelism and keys', () => {
    const p = plan(`INSERT INTO o SELECT id, count(*) FROM s[RANGE 10 SECONDS BATCH] GROUP BY id PARALLEL 2; SUBMIT APPLICATION demo;`);
    const text = explainText(p);
    assert.match(text, /^application demo — time zone UTC/);
    assert.match(text, /input  s \(id INT, name STRING, v DOUBLE, ts TIMESTAMP\) ← KafkaInput \{topic="s"\} serde SimpleSerDe parallel 2/);
    assert.match(text, /q1\.window\s+window\s+×2\s+RANGE 10 SECONDS BATCH\s+← stream:s fields\(id\)/);
    assert.match(text, /q1\.aggregate\s+aggregate\s+×2\s+GROUP BY id: count\(\*\)/);
    assert.match(text, /→ stream:o/);
  });

  it('every example application in examples/sql is valid', () => {
    const dir = new URL('../../../examples/sql/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.cql'));
    assert.ok(files.length >= 2);
    for (const f of files) {
      const r = compileScript(readFileSync(new URL(f, dir), 'utf8'));
      assert.deepEqual(r.errors.map((e) => e.message), [], f);
      assert.ok(r.plan && r.plan.nodes.length > 0 && r.plan.application !== null, f);
    }
  });
});
