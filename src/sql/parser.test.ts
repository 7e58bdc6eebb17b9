import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../core/errors.js';
import { SqlError } from './errors.js';
import { parse } from './parser.js';
import { printScript } from './printer.js';

/** parse(print(parse(x))) deep-equals parse(x), and printing is a fixed point. */
function roundTrip(text: string) {
  const ast = parse(text);
  const printed = printScript(ast);
  const again = parse(printed);
  assert.deepEqual(again, ast, `round trip changed the AST.\nprinted:\n${printed}`);
  assert.equal(printScript(again), printed);
  return ast;
}

const ddl = `CREATE INPUT STREAM s (id INT, name STRING, ts TIMESTAMP) SOURCE KafkaInput PROPERTIES (topic = 't');`;

const constructs: [string, string][] = [
  ['input stream with comments, serde, properties, parallel',
    `CREATE INPUT STREAM s (id INT COMMENT 'the id', name STRING, v DOUBLE) COMMENT 'input' SERDE SimpleSerDe PROPERTIES (separator = '|') SOURCE KafkaInput PROPERTIES ("topic" = "t", groupId = 'g', fromBeginning = true) PARALLEL 3;`],
  ['output stream', `create output stream o (a long, b boolean, c float, d date, e time, f decimal) sink ConsoleOutput properties (printFrequence = 10);`],
  ['intermediate stream', `CREATE STREAM mid (x STRING);`],
  ['class given as a quoted or dotted name', `CREATE INPUT STREAM s (x INT) SOURCE 'com.example.Source'; CREATE INPUT STREAM t (x INT) SOURCE com.huawei.KafkaSourceOp;`],
  ['insert with every clause', `INSERT INTO STREAM o SELECT DISTINCT id, count(*) AS c FROM s WHERE id > 1 GROUP BY id, name HAVING count(*) > 2 ORDER BY c DESC, id ASC LIMIT 5 PARALLEL 4;`],
  ['insert without STREAM keyword', `insert into o select * from s;`],
  ['star forms and aliases without AS', `INSERT INTO o SELECT s.*, a.id x FROM s a;`],
  ['multi-insert', `FROM s[ROWS 10 BATCH] INSERT INTO a SELECT id WHERE id > 1 INSERT INTO STREAM b SELECT name, count(*) GROUP BY name;`],
  ['rows windows', `INSERT INTO o SELECT * FROM s[ROWS 10 SLIDE]; INSERT INTO o SELECT * FROM s[rows 3 batch];`],
  ['range with every unit, singular and plural', `INSERT INTO o SELECT * FROM s[RANGE 1 DAY 2 HOURS 1 HOUR 10 MINUTES 1 MINUTE 5 SECONDS 1 SECOND 100 MILLISECONDS 1 MILLISECOND SLIDE];`],
  ['range batch, unbounded, today', `INSERT INTO o SELECT * FROM s[RANGE 5 SECONDS BATCH]; INSERT INTO o SELECT * FROM s[RANGE UNBOUNDED]; INSERT INTO o SELECT * FROM s[RANGE TODAY ts];`],
  ['window properties in order', `INSERT INTO o SELECT * FROM s[RANGE 10 SECONDS SLIDE PARTITION BY id, name SORT BY ts TRIGGER BY ts EXCLUDE NOW];`],
  ['filter before the window', `INSERT INTO o SELECT * FROM s(id > 2 AND name IS NOT NULL)[ROWS 5 SLIDE] AS x;`],
  ['joins', `INSERT INTO o SELECT a.id FROM s[ROWS 10 SLIDE] AS a JOIN t[ROWS 5 SLIDE] AS b ON a.id = b.id;
    INSERT INTO o SELECT a.id FROM s[ROWS 10 SLIDE] a INNER JOIN t[ROWS 5 SLIDE] b ON a.id == b.id;
    INSERT INTO o SELECT a.id FROM s[ROWS 10 SLIDE] a LEFT OUTER JOIN t[ROWS 5 SLIDE] b ON a.id = b.id;
    INSERT INTO o SELECT a.id FROM s[ROWS 10 SLIDE] a LEFT JOIN t[ROWS 5 SLIDE] b ON a.id = b.id;
    INSERT INTO o SELECT a.id FROM s[ROWS 10 SLIDE] a RIGHT JOIN t[ROWS 5 SLIDE] b ON a.id = b.id;
    INSERT INTO o SELECT a.id FROM s[ROWS 10 SLIDE] a FULL OUTER JOIN t[ROWS 5 SLIDE] b ON a.id = b.id AND a.x > 1;
    INSERT INTO o SELECT a.id FROM s[ROWS 10 SLIDE] a CROSS JOIN t[ROWS 5 SLIDE] b;
    INSERT INTO o SELECT a.id FROM s a UNIDIRECTION JOIN t[ROWS 5 SLIDE] b ON a.id = b.id;`],
  ['combine', `INSERT INTO o SELECT s1.k, s2.v FROM s1, s2, s3 COMBINE (s1.k, s2.k, s3.k);`],
  ['datasource lookup', `CREATE DATASOURCE rdb SOURCE RDBDataSource PROPERTIES (url = 'postgres://x/db', cacheSize = 100);
    INSERT INTO o SELECT s.id, r.name FROM s, DATASOURCE rdb[SCHEMA (id INT, name STRING), QUERY ('select id, name from t where id = ? and x = ?', s.id, 3)] AS r;`],
  ['operators and precedence', `INSERT INTO o SELECT a OR b AND NOT c, !d, a = b, a == b, a <=> b, a <> b, a != b, a < b, a <= b, a > b, a >= b,
    a + b * c - d / e % f DIV g, a || b || c, a | b & c ^ d, -a, +a, ~a, -(-1), 1 - -1, (a + b) * c FROM s;`],
  ['predicates', `INSERT INTO o SELECT a IS NULL, a IS NOT NULL, a LIKE 'x%', a NOT LIKE '_y', a RLIKE '^z', a NOT REGEXP 'q+',
    a BETWEEN 1 AND 2, a NOT BETWEEN b AND c + 1, a IN (1, 2, 3), a NOT IN ('x', 'y') FROM s;`],
  ['case, cast, previous', `INSERT INTO o SELECT CASE WHEN a > 1 THEN 'big' WHEN a > 0 THEN 'small' ELSE 'none' END, CASE a WHEN 1 THEN 2 END,
    CAST(a AS STRING), cast(b as decimal), PREVIOUS(1, a), previous(3, a + 1) FROM s;`],
  ['literals and suffixes', `INSERT INTO o SELECT 1, 2147483648, 3L, 1.5, 2.5F, 3D, 4.25BD, 1e3, 'it''s', "dq \\"x\\"", 'tab\\tnl\\n', TRUE, false, NULL FROM s;`],
  ['functions, DISTINCT and filtered aggregates', `INSERT INTO o SELECT count(*), count(DISTINCT a), count(a, b > 1), sum(a), avg(a), max(a), min(a), substr(s, 1, 2),
    concat(a, b, c), currenttimemillis(), from_unixtime(t, 'yyyy') FROM s;`],
  ['operator statements', `CREATE OPERATOR upper AS './ops.js#Upper' INPUT (a STRING) OUTPUT (b STRING) PROPERTIES (k = 'v');
    INSERT INTO out USING OPERATOR upper FROM s DISTRIBUTE BY a, b PARALLEL 2; insert into stream out using operator upper from s;`],
  ['functions statements', `CREATE FUNCTION f AS './udf.js#f'; CREATE FUNCTION g AS 'pkg#g' RETURNS INT PROPERTIES (x = 1); DROP FUNCTION f; DROP FUNCTION IF EXISTS g; SHOW FUNCTIONS;`],
  ['application statements', `SUBMIT APPLICATION app; submit application force app2; SUBMIT APPLICATION force; EXPLAIN APPLICATION app; DROP APPLICATION app; DROP APPLICATION IF EXISTS app;
    SHOW APPLICATIONS; ACTIVE APPLICATION app; DEACTIVE APPLICATION app; REBALANCE APPLICATION app SET WORKER 4;`],
  ['session statements', `SET 'monsoon.sql.timezone' = '+08:00'; SET "k" = 12; GET 'k'; ADD JAR '/x.jar'; ADD FILE 'f.txt';`],
  ['keywords as property keys and values', `CREATE INPUT STREAM s (x INT) SOURCE BusInput PROPERTIES (url = './b', topic = t, group = 'g', file = batch);`],
  ['comments everywhere', `-- leading\n/* block\n comment */ INSERT /* inline */ INTO o SELECT a -- trailing\n FROM s;`],
  ['soft keywords usable as names', `CREATE INPUT STREAM source (comment STRING, file INT, schema STRING, query STRING, input INT) SOURCE RandomGen; INSERT INTO output SELECT comment, file FROM source;`],
];

describe('StreamCQL parser', () => {
  for (const [name, text] of constructs) {
    it(`round-trips: ${name}`, () => {
      roundTrip(text);
    });
  }

  it('keywords are case-insensitive and == / != / ! normalise', () => {
    const [a] = parse(`iNsErT InTo o SeLeCt a FrOm s WhErE a == 1 AND b != 2 AND !c;`);
    const [b] = parse(`INSERT INTO o SELECT a FROM s WHERE a = 1 AND b <> 2 AND NOT c;`);
    assert.deepEqual(a, b);
  });

  it('builds the expected tree for precedence and windows', () => {
    const [s] = parse(`INSERT INTO o SELECT a + b * c FROM s[RANGE 1 MINUTE 30 SECONDS SLIDE PARTITION BY id];`);
    assert.ok(s && s.kind === 'insert');
    assert.deepEqual(s.select.items[0]!.expr, {
      kind: 'binary', op: '+', left: { kind: 'column', name: 'a' },
      right: { kind: 'binary', op: '*', left: { kind: 'column', name: 'b' }, right: { kind: 'column', name: 'c' } },
    });
    assert.deepEqual(s.select.from, { kind: 'stream', name: 's', window: { kind: 'range', ms: 90_000, mode: 'SLIDE', props: { partitionBy: [{ kind: 'column', name: 'id' }] } } });
  });

  it('reads literal types from suffixes', () => {
    const [s] = parse(`INSERT INTO o SELECT 1, 3000000000, 2L, 1.5, 1.5f, 2d, 1.25bd FROM s;`);
    assert.ok(s && s.kind === 'insert');
    assert.deepEqual(s.select.items.map((i) => (i.expr.kind === 'literal' ? [i.expr.type, i.expr.value] : null)),
      [['INT', 1], ['LONG', 3000000000], ['LONG', 2], ['DOUBLE', 1.5], ['FLOAT', 1.5], ['DOUBLE', 2], ['DECIMAL', 1.25]]);
  });

  const syntaxErrors: [string, string, number, number, RegExp][] = [
    ['missing semicolon', `${ddl}\nINSERT INTO o SELECT id FROM s\nINSERT INTO p SELECT id FROM s;`, 3, 1, /'INSERT'/],
    ['bad token in expression', `INSERT INTO o\n  SELECT id +\n  FROM s;`, 3, 3, /'FROM'/],
    ['unknown type', `CREATE STREAM x (a INTT);`, 1, 20, /unknown type 'INTT'/],
    ['unknown time unit', `INSERT INTO o SELECT * FROM s[RANGE 10 SECS SLIDE];`, 1, 40, /unknown time unit 'SECS'/],
    ['input stream without SOURCE', `CREATE INPUT STREAM x (a INT);`, 1, 8, /needs SOURCE/],
    ['statement keyword missing', `\n\n   FOO BAR;`, 3, 4, /expected the start of a statement but found 'FOO'/],
    ['bare SELECT', `SELECT a FROM s;`, 1, 1, /a SELECT goes inside INSERT INTO <stream> SELECT/],
    ['expected token named by its text', `CREATE STREAM x (a INT;`, 1, 23, /expected '\)' but found ';'/],
    ['unterminated string', `INSERT INTO o SELECT 'abc FROM s;`, 1, 22, /unexpected character/],
    ['end of input', `INSERT INTO o SELECT a FROM`, 1, 28, /end of input/],
  ];
  for (const [name, text, line, column, msg] of syntaxErrors) {
    it(`syntax error with line:column: ${name}`, () => {
      assert.throws(() => parse(text), (e: unknown) => {
        assert.ok(e instanceof SqlError, String(e));
        assert.equal(e.code, ErrorCodes.SQL_SYNTAX);
        assert.deepEqual([e.pos?.line, e.pos?.column], [line, column], e.message);
        assert.match(e.message, msg);
        assert.ok(e.message.startsWith(`${line}:${column}: `));
        return true;
      });
    });
  }
});
