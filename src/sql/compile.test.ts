import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze, type SelectQuery } from './analyzer.js';
import { compile } from './compile.js';
import { parse } from './parser.js';

/** Evaluates SELECT expressions over rows of `s (i INT, l LONG, d DOUBLE, f FLOAT, s STRING, b BOOLEAN, ts TIMESTAMP, dt DATE, tm TIME, n INT)`. */
const COLS = 'i INT, l LONG, d DOUBLE, f FLOAT, s STRING, b BOOLEAN, ts TIMESTAMP, dt DATE, tm TIME, n INT, dec DECIMAL';
const T0 = Date.UTC(2024, 1, 29, 13, 45, 30, 250); // Thursday 2024-02-29 13:45:30.250 UTC
const ROW = [7, 10_000_000_000, 2.5, 1.5, 'Hello', true, T0, Date.UTC(2024, 1, 29), 49_530_250, null, 1.25];

function compiler(exprs: string, prefix = '', udfs?: Map<string, (...a: unknown[]) => unknown>) {
  const a = analyze(parse(`${prefix}CREATE INPUT STREAM t (${COLS}) SOURCE RandomGen; INSERT INTO o SELECT ${exprs} FROM t;`));
  assert.deepEqual(a.errors.map((e) => e.message), []);
  const q = a.queries[0] as SelectQuery;
  return { ev: compile(q.project.map((p) => p.expr), { tz: a.tz, ...(udfs ? { udfs } : {}) }), q };
}
const values = (exprs: string, row: unknown[] = ROW, prefix = '') => compiler(exprs, prefix).ev.eval(row);
const one = (expr: string, row: unknown[] = ROW, prefix = '') => values(expr, row, prefix)[0];

describe('StreamCQL expression compiler', () => {
  it('arithmetic with widening, INT wrap, DIV and division by zero', () => {
    assert.deepEqual(values(`i + 1, i * 2.0, i / 2, i DIV 2, -7 DIV 2, i % 4, -7 % 4, i / 0, i DIV 0, i % 0, 2147483647 + 1, 65536 * 65536, l + 1, f * 2, dec + 1, -i, ~i, 5 | 2, 6 & 3, 6 ^ 3, l | 1`), [
      8, 14, 3.5, 3, -3, 3, -3, null, null, null, -2147483648, 0, 10_000_000_001, 3, 2.25, -7, -8, 7, 2, 5, 10_000_000_001,
    ]);
  });

  it('NULL propagates through operators and functions', () => {
    assert.deepEqual(values(`n + 1, n * 2, -n, n = 1, n < 1, n || 'x', upper(CAST(n AS STRING)), abs(n), n BETWEEN 1 AND 2, n IN (1, 2), CAST(n AS STRING) LIKE 'a', substr(s, n)`),
      [null, null, null, null, null, null, null, null, null, null, null, null]);
  });

  it('every built-in function returns NULL for a NULL argument', () => {
    const ns = 'CAST(n AS STRING)', nt = 'CAST(n AS TIMESTAMP)';
    const calls = ['tostring(n)', 'toint(n)', 'tolong(n)', 'tofloat(n)', 'todouble(n)', 'toboolean(n)', `todate(${ns})`, `totime(${ns})`, `totimestamp(${ns})`, 'todecimal(n)',
      `substr(${ns}, 1)`, 'substr(s, 1, n)', `strlength(${ns})`, `trim(${ns})`, `concat(s, ${ns})`, `upper(${ns})`, `lower(${ns})`, 'abs(n)',
      `day(${nt})`, `dayofmonth(${nt})`, `month(${nt})`, `year(${nt})`, `hour(${nt})`, `minute(${nt})`, `second(${nt})`, `weekofyear(${nt})`,
      'from_unixtime(n)', `dateadd(${nt}, 1)`, 'dateadd(ts, n)', `datesub(${nt}, 1)`, `datediff(${nt}, ts)`, `datediff(ts, ${ns})`];
    assert.deepEqual(values(calls.join(', ')), calls.map(() => null));
  });

  it('abs keeps the argument type', () => {
    assert.deepEqual(values(`abs(-3), abs(d * -1), abs(CAST(-2147483648 AS INT)), abs(-5L), +i`), [3, 2.5, -2147483648, 5, 7]);
  });

  it('three-valued AND / OR / NOT', () => {
    assert.deepEqual(values(`n = 1 AND FALSE, n = 1 AND TRUE, n = 1 OR TRUE, n = 1 OR FALSE, NOT (n = 1), TRUE AND TRUE, FALSE OR FALSE`),
      [false, null, true, null, null, true, false]);
  });

  it('comparisons, <=> and IS [NOT] NULL', () => {
    assert.deepEqual(values(`i = 7, i == 7.0, i <> 7, i != 8, i < 8, i <= 7, i > 7, i >= 8, s = 'Hello', s < 'World', n <=> NULL, i <=> n, i <=> 7, n IS NULL, i IS NULL, n IS NOT NULL, dt < ts`),
      [true, true, false, true, true, true, false, false, true, true, true, false, true, true, false, false, true]);
  });

  it('BETWEEN and IN with NULLs follow SQL', () => {
    assert.deepEqual(values(`i BETWEEN 1 AND 10, i NOT BETWEEN 1 AND 10, i BETWEEN n AND 5, i BETWEEN n AND 10, i IN (1, 7), i NOT IN (1, 2), i IN (1, n), i IN (7, n), i NOT IN (1, n)`),
      [true, false, false, null, true, true, null, true, null]);
  });

  it('LIKE escapes regex characters; RLIKE and REGEXP search', () => {
    assert.deepEqual(values(`s LIKE 'He%', s LIKE 'h%', s LIKE '_ello', s LIKE 'Hel', s NOT LIKE '%z%', 'a.b' LIKE 'a.b', 'axb' LIKE 'a.b', '50%' LIKE '50\\%', '500' LIKE '50\\%', '(x)' LIKE '(%)', s RLIKE 'l+o$', s REGEXP '^h', s NOT RLIKE 'z', s LIKE CONCAT('H', '%')`),
      [true, false, true, false, true, true, false, true, false, true, true, false, true, true]);
  });

  it('string concatenation and string functions (substr is 1-based)', () => {
    assert.deepEqual(values(`s || '!', i || s, substr(s, 2), substr(s, 2, 3), substr(s, 0, 2), substr(s, -3), substr(s, 2, -1), strlength(s), trim('  x '), upper(s), lower(s), concat(s, i, b)`),
      ['Hello!', '7Hello', 'ello', 'ell', 'He', 'llo', '', 5, 'x', 'HELLO', 'hello', 'Hello7true']);
  });

  it('both CASE forms, evaluating only the branch taken', () => {
    assert.deepEqual(values(`CASE WHEN i > 5 THEN 'big' WHEN i > 0 THEN 'small' ELSE 'neg' END, CASE WHEN n > 0 THEN 1 END, CASE i WHEN 1 THEN 'one' WHEN 7 THEN 'seven' END, CASE n WHEN NULL THEN 'null' ELSE 'other' END, CASE WHEN i > 0 THEN i / 0 ELSE 1 END`),
      ['big', null, 'seven', 'other', null]);
  });

  it('CAST and the to* conversions', () => {
    assert.deepEqual(values(`CAST(d AS INT), CAST(-2.7 AS INT), CAST(' 42 ' AS INT), CAST('4.2' AS INT), CAST('4.5' AS DOUBLE), CAST('x' AS DOUBLE), CAST(i AS STRING), CAST(b AS INT), CAST('TRUE' AS BOOLEAN), CAST('yes' AS BOOLEAN), CAST(0 AS BOOLEAN), tostring(ts), tostring(dt), tostring(tm), toint('12'), tolong(d), tofloat(1.1), todouble('1e3'), toboolean('false'), todecimal('1.5')`),
      [2, -2, 42, null, 4.5, null, '7', 1, true, null, false, '2024-02-29 13:45:30.250', '2024-02-29', '13:45:30', 12, 2, Math.fround(1.1), 1000, false, 1.5]);
    assert.deepEqual(values(`totimestamp('2024-02-29 13:45:30.250'), todate('2024-02-29 23:59:59'), totime('13:45:30.25'), todate(ts), totime(ts), totimestamp('2024-02-30'), CAST('2024-01-01T00:00:00Z' AS TIMESTAMP)`),
      [T0, Date.UTC(2024, 1, 29), 49_530_250, Date.UTC(2024, 1, 29), 49_530_250, null, Date.UTC(2024, 0, 1)]);
  });

  it('date functions in UTC', () => {
    assert.deepEqual(values(`year(ts), month(ts), day(ts), dayofmonth(dt), hour(ts), minute(ts), second(ts), hour(tm), weekofyear(ts), weekofyear('2021-01-03'), weekofyear('2020-12-31'), year('2023-07-01'), from_unixtime(0), from_unixtime(86400, 'yyyy/MM/dd'), dateadd(ts, 1), datesub('2024-03-01', 1), datediff('2024-03-01', ts), datediff(dt, '2024-03-01 10:00:00')`),
      [2024, 2, 29, 29, 13, 45, 30, 13, 9, 53, 53, 2023, '1970-01-01 00:00:00', '1970/01/02', '2024-03-01', '2024-02-29', 1, -1]);
  });

  it('instants outside the date range give NULL, not garbage', () => {
    assert.deepEqual(values(`from_unixtime(1e300), dateadd(ts, 2000000000), tostring(CAST(1e300 AS TIMESTAMP))`), [null, null, null]);
    assert.deepEqual(values(`tostring(totimestamp(tostring(1e300)))`), [null]);
  });

  it('date functions follow SET monsoon.sql.timezone', () => {
    const prefix = `SET 'monsoon.sql.timezone' = '+11:00';`;
    assert.deepEqual(values(`day(ts), hour(ts), tostring(ts), from_unixtime(0), todate('2024-03-01'), dateadd(ts, 0)`, ROW, prefix),
      [1, 0, '2024-03-01 00:45:30.250', '1970-01-01 11:00:00', Date.UTC(2024, 2, 1) - 11 * 3_600_000, '2024-03-01']);
  });

  it('currenttimemillis reads the clock', () => {
    const before = Date.now();
    const v = one('currenttimemillis()') as number;
    assert.ok(v >= before && v <= Date.now());
  });

  it('PREVIOUS keeps per-evaluator history, also inside CASE branches not taken, and resets', () => {
    const { ev } = compiler(`PREVIOUS(1, i), PREVIOUS(2, i), CASE WHEN i > 100 THEN PREVIOUS(1, i * 10) ELSE -1 END, PREVIOUS(1, PREVIOUS(1, i))`);
    assert.equal(ev.stateful, true);
    const row = (i: number) => [i, ...ROW.slice(1)];
    assert.deepEqual(ev.eval(row(1)), [null, null, -1, null]);
    assert.deepEqual(ev.eval(row(2)), [1, null, -1, null]);
    assert.deepEqual(ev.eval(row(3)), [2, 1, -1, 1]);
    assert.deepEqual(ev.eval(row(200)), [3, 2, 30, 2]);
    ev.reset();
    assert.deepEqual(ev.eval(row(5)), [null, null, -1, null]);
    const other = compiler('PREVIOUS(1, i)').ev;
    assert.deepEqual(other.eval(row(9)), [null]);
  });

  it('user functions get their arguments, NULLs included', () => {
    const udfs = new Map<string, (...a: unknown[]) => unknown>([['twice', (x: unknown) => (x === null ? 'none' : (x as number) * 2)]]);
    const { ev } = compiler(`twice(i), twice(n)`, `CREATE FUNCTION twice AS './f.js#twice' RETURNS INT;`, udfs);
    assert.deepEqual(ev.eval(ROW), [14, 'none']);
  });

  it('an injection attempt in a string literal, column name or LIKE pattern stays data', () => {
    const evil = `'); globalThis.__pwned = 1; ("`;
    const text = `CREATE INPUT STREAM t (evil_col STRING) SOURCE RandomGen; INSERT INTO o SELECT evil_col || '${evil.replace(/'/g, "''")}', evil_col LIKE '%${evil.replace(/'/g, "''")}%', 'back\\\\slash \\' quote; globalThis.__pwned = 2; //' FROM t;`;
    const q = analyze(parse(text)).queries[0] as SelectQuery;
    const ev = compile(q.project.map((p) => p.expr), { tz: 0 });
    const out = ev.eval([`*/ globalThis.__pwned = 3; /*`]);
    assert.equal((globalThis as Record<string, unknown>)['__pwned'], undefined);
    assert.equal(out[0], `*/ globalThis.__pwned = 3; /*${evil}`);
    assert.equal(out[1], false);
    assert.equal(out[2], `back\\slash ' quote; globalThis.__pwned = 2; //`);
    // Literals reach the code only as JSON string tokens; column names never do.
    assert.ok(ev.source.includes(JSON.stringify(evil)));
    assert.doesNotMatch(ev.source, /evil_col/);
  });

  it('generated code reads columns by index only', () => {
    const { ev } = compiler('s, i + l');
    assert.match(ev.source, /row\[4\]/);
    assert.match(ev.source, /row\[0\]/);
    assert.doesNotMatch(ev.source, /Hello|\bs\b =/);
  });
});
