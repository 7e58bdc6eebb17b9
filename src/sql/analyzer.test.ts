import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCodes, type ErrorCode } from '../core/errors.js';
import { compileScript } from './index.js';

const DDL = `
CREATE INPUT STREAM s (id INT, name STRING, v DOUBLE, ts TIMESTAMP) SOURCE KafkaInput PROPERTIES (topic = 's');
CREATE INPUT STREAM t (id INT, label STRING, ts TIMESTAMP) SOURCE RandomGen;
CREATE OUTPUT STREAM o (id INT, n LONG) SINK ConsoleOutput;
`;

function errorsOf(text: string) {
  return compileScript(text).errors;
}

/** One script per semantic error code; each must fail with exactly that code and name the construct. */
const cases: [ErrorCode, string, RegExp][] = [
  [ErrorCodes.SQL_UNKNOWN_STREAM, `INSERT INTO o SELECT id, 1L FROM nosuch;`, /unknown stream 'nosuch'/],
  [ErrorCodes.SQL_UNKNOWN_STREAM, `INSERT INTO o SELECT x.id, 1L FROM s;`, /'x' in 'x.id' is not a stream or alias/],
  [ErrorCodes.SQL_UNKNOWN_COLUMN, `INSERT INTO o SELECT idd, 1L FROM s;`, /unknown column 'idd' \(columns: id, name, v, ts\)/],
  [ErrorCodes.SQL_UNKNOWN_COLUMN, `INSERT INTO x USING OPERATOR op FROM s DISTRIBUTE BY nope;`, /DISTRIBUTE BY column 'nope'/],
  [ErrorCodes.SQL_AMBIGUOUS_COLUMN, `INSERT INTO j SELECT id FROM s[ROWS 5 SLIDE] JOIN t[ROWS 5 SLIDE] ON s.id = t.id;`, /column 'id' is in more than one stream \(s, t\)/],
  [ErrorCodes.SQL_TYPE_MISMATCH, `INSERT INTO x SELECT name + 1 FROM s;`, /\+ needs numeric operands, got STRING and INT/],
  [ErrorCodes.SQL_TYPE_MISMATCH, `INSERT INTO x SELECT id FROM s WHERE name;`, /WHERE of INSERT INTO x: condition 'name' must be BOOLEAN, got STRING/],
  [ErrorCodes.SQL_TYPE_MISMATCH, `INSERT INTO x SELECT id FROM s WHERE name = 1;`, /cannot compare STRING with INT/],
  [ErrorCodes.SQL_TYPE_MISMATCH, `INSERT INTO x SELECT CAST(ts AS BOOLEAN) FROM s;`, /cannot CAST TIMESTAMP to BOOLEAN/],
  [ErrorCodes.SQL_TYPE_MISMATCH, `INSERT INTO x SELECT v DIV 2 FROM s;`, /DIV needs INT or LONG operands/],
  [ErrorCodes.SQL_TYPE_MISMATCH, `INSERT INTO x SELECT id FROM s[RANGE 10 SECONDS SLIDE TRIGGER BY name];`, /TRIGGER BY column 'name' must be TIMESTAMP/],
  [ErrorCodes.SQL_TYPE_MISMATCH, `INSERT INTO x SELECT CASE WHEN id > 1 THEN 'a' ELSE 2 END FROM s;`, /CASE branches have incompatible types/],
  [ErrorCodes.SQL_UNKNOWN_FUNCTION, `INSERT INTO x SELECT frobnicate(id) FROM s;`, /unknown function frobnicate\(\).*CREATE FUNCTION frobnicate/],
  [ErrorCodes.SQL_UNKNOWN_FUNCTION, `DROP FUNCTION nope;`, /no function nope/],
  [ErrorCodes.SQL_FUNCTION_ARGUMENTS, `INSERT INTO x SELECT substr(name) FROM s;`, /substr\(\) takes 2 to 3 arguments, got 1/],
  [ErrorCodes.SQL_FUNCTION_ARGUMENTS, `INSERT INTO x SELECT upper(id) FROM s;`, /upper\(\) expects STRING, got INT/],
  [ErrorCodes.SQL_FUNCTION_ARGUMENTS, `INSERT INTO x SELECT sum(name) FROM s;`, /sum\(\) expects a number, got STRING/],
  [ErrorCodes.SQL_FUNCTION_ARGUMENTS, `INSERT INTO x SELECT count(id, name) FROM s;`, /BOOLEAN filter/],
  [ErrorCodes.SQL_AGGREGATE_MISUSE, `INSERT INTO x SELECT sum(count(id)) FROM s;`, /aggregates cannot be nested/],
  [ErrorCodes.SQL_AGGREGATE_MISUSE, `INSERT INTO x SELECT id FROM s WHERE count(*) > 1;`, /WHERE of INSERT INTO x: aggregate 'count\(\*\)' is not allowed/],
  [ErrorCodes.SQL_AGGREGATE_MISUSE, `INSERT INTO x SELECT name, count(*) FROM s GROUP BY id;`, /column 'name' is neither in GROUP BY nor inside an aggregate/],
  [ErrorCodes.SQL_AGGREGATE_MISUSE, `INSERT INTO x SELECT id, count(*) FROM s GROUP BY id HAVING name = 'a';`, /HAVING of INSERT INTO x: column 'name' is neither in GROUP BY/],
  [ErrorCodes.SQL_AGGREGATE_MISUSE, `INSERT INTO x SELECT id FROM s HAVING id > 1;`, /HAVING needs GROUP BY or an aggregate/],
  [ErrorCodes.SQL_AGGREGATE_MISUSE, `INSERT INTO x SELECT id FROM s GROUP BY count(*);`, /GROUP BY of INSERT INTO x: aggregate/],
  [ErrorCodes.SQL_AGGREGATE_MISUSE, `INSERT INTO x SELECT sum(PREVIOUS(1, v)) FROM s;`, /PREVIOUS cannot be used inside an aggregate/],
  [ErrorCodes.SQL_WINDOW_INVALID, `INSERT INTO x SELECT id FROM s ORDER BY id LIMIT 3;`, /ORDER BY and LIMIT .* needs a window \(e.g. FROM s\[ROWS 100 BATCH\]\)/],
  [ErrorCodes.SQL_WINDOW_INVALID, `INSERT INTO x SELECT id FROM s[ROWS 10 SLIDE TRIGGER BY ts];`, /TRIGGER BY \(event time\) needs a RANGE window/],
  [ErrorCodes.SQL_WINDOW_INVALID, `INSERT INTO x SELECT id FROM s[ROWS 0 SLIDE];`, /ROWS needs at least 1 row/],
  [ErrorCodes.SQL_WINDOW_INVALID, `INSERT INTO x SELECT id FROM s[ROWS 5 BATCH EXCLUDE NOW];`, /EXCLUDE NOW only applies to SLIDE/],
  [ErrorCodes.SQL_WINDOW_INVALID, `INSERT INTO j SELECT s.id FROM s[RANGE UNBOUNDED] JOIN t[ROWS 5 SLIDE] ON s.id = t.id;`, /join input s has a RANGE UNBOUNDED window; joins support/],
  [ErrorCodes.SQL_WINDOW_INVALID, `INSERT INTO j SELECT s.id FROM s[ROWS 5 BATCH] JOIN t[ROWS 5 SLIDE] ON s.id = t.id;`, /has a BATCH window/],
  [ErrorCodes.SQL_WINDOW_INVALID, `INSERT INTO j SELECT s.id FROM s JOIN t[ROWS 5 SLIDE] ON s.id = t.id;`, /join input s needs a window/],
  [ErrorCodes.SQL_WINDOW_INVALID, `INSERT INTO c SELECT s.id FROM s[ROWS 5 SLIDE], t COMBINE (s.id, t.id);`, /COMBINE input s has a window/],
  [ErrorCodes.SQL_JOIN_INVALID, `INSERT INTO j SELECT s.id FROM s[ROWS 5 SLIDE] JOIN t[ROWS 5 SLIDE] ON s.id > t.id;`, /has no equality between a s column and a t column/],
  [ErrorCodes.SQL_JOIN_INVALID, `INSERT INTO j SELECT s.id FROM s[ROWS 5 SLIDE] CROSS JOIN t[ROWS 5 SLIDE] ON s.id = t.id;`, /CROSS JOIN takes no ON/],
  [ErrorCodes.SQL_JOIN_INVALID, `INSERT INTO j SELECT s.id FROM s UNIDIRECTION FULL JOIN t[ROWS 5 SLIDE] ON s.id = t.id;`, /FULL OUTER JOIN .* takes no UNIDIRECTION/],
  [ErrorCodes.SQL_JOIN_INVALID, `INSERT INTO c SELECT s.id FROM s, t COMBINE (s.id);`, /one key per input stream \(2\), got 1/],
  [ErrorCodes.SQL_UNKNOWN_CLASS, `CREATE INPUT STREAM x (a INT) SOURCE HdfsInput;`, /unknown SOURCE class 'HdfsInput' \(known: KafkaInput, RandomGen/],
  [ErrorCodes.SQL_UNKNOWN_CLASS, `CREATE OUTPUT STREAM x (a INT) SINK KafkaInput PROPERTIES (topic = 'x');`, /unknown SINK class 'KafkaInput'/],
  [ErrorCodes.SQL_UNKNOWN_CLASS, `CREATE INPUT STREAM x (a INT) SERDE XmlSerDe SOURCE RandomGen;`, /unknown SERDE class 'XmlSerDe'/],
  [ErrorCodes.SQL_UNKNOWN_CLASS, `CREATE DATASOURCE d SOURCE MysqlDataSource;`, /unknown DATASOURCE class/],
  [ErrorCodes.SQL_BAD_PROPERTY, `CREATE INPUT STREAM x (a INT) SOURCE KafkaInput PROPERTIES (groupId = 'g');`, /KafkaInput needs property 'topic'/],
  [ErrorCodes.SQL_BAD_PROPERTY, `CREATE INPUT STREAM x (a INT) SOURCE KafkaInput PROPERTIES (topic = 't', colour = 'red');`, /KafkaInput has no property 'colour'/],
  [ErrorCodes.SQL_BAD_PROPERTY, `CREATE INPUT STREAM x (a INT) SOURCE RandomGen PROPERTIES (period = 'often');`, /property 'period' of RandomGen expects a whole number, got 'often'/],
  [ErrorCodes.SQL_BAD_PROPERTY, `CREATE OUTPUT STREAM x (a INT) SINK KVOutput PROPERTIES (path = '/kv', key = 'b');`, /property 'key' names 'b', which is not a column of x/],
  [ErrorCodes.SQL_BAD_PROPERTY, `CREATE FUNCTION f AS 'no-export-here';`, /is not 'module#export'/],
  [ErrorCodes.SQL_BAD_PROPERTY, `SET 'monsoon.sql.timezone' = 'Mars/Olympus';`, /is not a fixed offset/],
  [ErrorCodes.SQL_DUPLICATE, `CREATE INPUT STREAM s (a INT) SOURCE RandomGen;`, /stream s is already defined/],
  [ErrorCodes.SQL_DUPLICATE, `CREATE STREAM y (a INT, A STRING);`, /column 'A' is declared twice/],
  [ErrorCodes.SQL_DUPLICATE, `CREATE FUNCTION upper AS './u.js#upper';`, /function upper is built in/],
  [ErrorCodes.SQL_DUPLICATE, `INSERT INTO x SELECT id, id FROM s;`, /output column 'id' appears twice/],
  [ErrorCodes.SQL_SCHEMA_MISMATCH, `INSERT INTO o SELECT id FROM s;`, /the SELECT gives 1 column but o has 2/],
  [ErrorCodes.SQL_SCHEMA_MISMATCH, `INSERT INTO o SELECT id, name FROM s;`, /column 2 \('name'\) is STRING but o.n is LONG; CAST it/],
  [ErrorCodes.SQL_SCHEMA_MISMATCH, `INSERT INTO x SELECT id FROM s; INSERT INTO x SELECT name FROM s;`, /column 1 \('name'\) is STRING but x.id is INT/],
  [ErrorCodes.SQL_STREAM_ROLE, `INSERT INTO s SELECT id, name, v, ts FROM s;`, /'s' is an INPUT stream/],
  [ErrorCodes.SQL_STREAM_ROLE, `INSERT INTO x SELECT id FROM o;`, /'o' is an OUTPUT stream and cannot be read/],
  [ErrorCodes.SQL_UNKNOWN_OPERATOR, `INSERT INTO x USING OPERATOR nope FROM s;`, /unknown operator 'nope'/],
  [ErrorCodes.SQL_CYCLE, `CREATE STREAM a (id INT); INSERT INTO b SELECT id FROM a; INSERT INTO a SELECT id FROM b WHERE id > 0;`, /INSERT INTO a: rows would loop through (a → b → a|b → a → b)/],
  [ErrorCodes.SQL_UNSUPPORTED, `ADD JAR '/opt/udf.jar';`, /ADD JAR '\/opt\/udf.jar' is not supported.*CREATE FUNCTION f AS 'module#export'/],
  [ErrorCodes.SQL_UNSUPPORTED, `ADD FILE 'dict.txt';`, /ADD FILE 'dict.txt' is not supported/],
];

describe('StreamCQL analyzer', () => {
  for (const [code, text, msg] of cases) {
    it(`${code}: ${text.slice(0, 70)}`, () => {
      const errs = errorsOf(`${DDL}CREATE OPERATOR op AS './op.js#Op' INPUT (id INT, name STRING, v DOUBLE, ts TIMESTAMP) OUTPUT (z STRING);\n${text}`);
      assert.ok(errs.length > 0, 'expected an error');
      const hit = errs.find((e) => e.code === code && msg.test(e.message));
      assert.ok(hit, `no ${code} matching ${msg}; got:\n${errs.map((e) => `${e.code} ${e.message}`).join('\n')}`);
      assert.equal(hit.pos?.line, 6, `error should point at the statement's line: ${hit.message}`);
    });
  }

  it('every MON_ERR_SQL_* code is documented in docs/ERRORS.md and has a case above', () => {
    const doc = readFileSync(new URL('../../../docs/ERRORS.md', import.meta.url), 'utf8');
    const codes = Object.values(ErrorCodes).filter((c) => c.startsWith('MON_ERR_SQL_'));
    for (const c of codes) assert.match(doc, new RegExp(`^\\| ${c} \\|`, 'm'), c);
    // SQL_RUNTIME is raised by running applications (sinks, data sources), never by analysis.
    const covered = new Set<string>([...cases.map((x) => x[0]), ErrorCodes.SQL_SYNTAX, ErrorCodes.SQL_RUNTIME]);
    assert.deepEqual(codes.filter((c) => !covered.has(c)), []);
  });

  it('a valid application analyzes without errors, with implicit streams and widening', () => {
    const r = compileScript(`${DDL}
      INSERT INTO mid SELECT id, name, v * 2 AS dv FROM s WHERE id > 0;
      INSERT INTO o SELECT id, count(*) FROM mid[RANGE 1 MINUTE SLIDE] GROUP BY id;
      INSERT INTO o SELECT id, 1 FROM t;
      FROM s INSERT INTO a SELECT * INSERT INTO b SELECT name WHERE v > 1.5;`);
    assert.deepEqual(r.errors.map((e) => e.message), []);
    const mid = r.analysis!.streams.get('mid')!;
    assert.deepEqual(mid.columns, [{ name: 'id', type: 'INT' }, { name: 'name', type: 'STRING' }, { name: 'dv', type: 'DOUBLE' }]);
    assert.equal(mid.implicit, true);
    assert.deepEqual(r.analysis!.streams.get('a')!.columns.map((c) => c.name), ['id', 'name', 'v', 'ts']);
  });

  it('GROUP BY expressions match their SELECT uses after resolution', () => {
    const r = compileScript(`${DDL}INSERT INTO x SELECT id, S.ID + 1 AS nxt, upper(name), count(*) AS c FROM s[ROWS 5 BATCH] AS a GROUP BY a.id, upper(s.name);`);
    assert.deepEqual(r.errors.map((e) => e.message), []);
    const q = r.analysis!.queries[0]!;
    assert.ok(q.kind === 'select');
    assert.deepEqual(q.project.map((p) => p.expr.k === 'col' ? p.expr.i : p.expr.k), [0, 'op', 1, 2]);
  });

  it('HAVING may use a SELECT alias', () => {
    const r = compileScript(`${DDL}INSERT INTO x SELECT id, avg(v) AS a FROM s[ROWS 10 SLIDE] GROUP BY id HAVING a > 1;`);
    assert.deepEqual(r.errors.map((e) => e.message), []);
    const q = r.analysis!.queries[0]!;
    assert.ok(q.kind === 'select');
    assert.deepEqual(q.having, { k: 'op', t: 'BOOLEAN', op: '>', args: [{ k: 'col', t: 'DOUBLE', i: 1, name: 'avg(v)' }, { k: 'lit', t: 'INT', v: 1 }] });
  });

  it('an unknown column under GROUP BY is reported as unknown, not as ungrouped', () => {
    const errs = errorsOf(`${DDL}INSERT INTO x SELECT nope, count(*) FROM s GROUP BY id;`);
    assert.deepEqual(errs.map((e) => e.code), [ErrorCodes.SQL_UNKNOWN_COLUMN]);
  });

  it("StreamCQL's operator.kafka.* property names are accepted", () => {
    const r = compileScript(`CREATE INPUT STREAM k (a INT) SOURCE KafkaInput PROPERTIES ("operator.kafka.topic" = 't', "operator.kafka.groupid" = 'g', "operator.kafka.zookeepers" = 'zk:2181');`);
    assert.deepEqual(r.errors.map((e) => e.message), []);
    assert.deepEqual(r.analysis!.streams.get('k')!.source!.props, { topic: 't', groupid: 'g' });
    assert.equal(r.warnings.length, 1);
  });

  it('zookeepers is accepted with a warning', () => {
    const r = compileScript(`CREATE INPUT STREAM k (a INT) SOURCE kafkainput PROPERTIES (topic = 't', zookeepers = 'zk:2181');`);
    assert.equal(r.errors.length, 0);
    assert.match(r.warnings[0]!.message, /'zookeepers' of KafkaInput is ignored/);
  });

  it('class names are case-insensitive and Java class names map to their short name', () => {
    const r = compileScript(`CREATE INPUT STREAM k (a INT) SERDE csvserde SOURCE com.huawei.streaming.operator.inputstream.KafkaSourceOp PROPERTIES (TOPIC = 't');`);
    assert.equal(r.errors.length, 0);
    assert.equal(r.analysis!.streams.get('k')!.source!.name, 'KafkaInput');
  });

  it('every error of a script is reported, and none of it is planned', () => {
    const r = compileScript(`${DDL}INSERT INTO x SELECT nope FROM s;\nINSERT INTO y SELECT id FROM missing;\nINSERT INTO z SELECT id FROM s;`);
    assert.deepEqual(r.errors.map((e) => [e.code, e.pos?.line]), [[ErrorCodes.SQL_UNKNOWN_COLUMN, 5], [ErrorCodes.SQL_UNKNOWN_STREAM, 6]]);
    assert.equal(r.plan, undefined);
  });

  it('non-grouped columns are allowed without GROUP BY (latest row value)', () => {
    const r = compileScript(`${DDL}INSERT INTO x SELECT name, count(*) AS c FROM s[ROWS 10 SLIDE];`);
    assert.deepEqual(r.errors, []);
    const q = r.analysis!.queries[0]!;
    assert.ok(q.kind === 'select' && q.aggregate);
    assert.equal(q.aggregate.lasts.length, 1);
    assert.deepEqual(q.project.map((p) => p.expr), [{ k: 'col', t: 'STRING', i: 1, name: 'name' }, { k: 'col', t: 'LONG', i: 0, name: 'count(*)' }]);
  });
});
