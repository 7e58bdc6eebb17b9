import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze, type SelectQuery } from '../analyzer.js';
import { parse } from '../parser.js';
import { aggregatorFactory } from './aggregate.js';

function aggregator(select: string) {
  const a = analyze(parse(`CREATE INPUT STREAM t (k STRING, x INT, d DOUBLE) SOURCE RandomGen; INSERT INTO o SELECT ${select} FROM t[ROWS 10 SLIDE];`));
  assert.deepEqual(a.errors.map((e) => e.message), []);
  const q = a.queries[0] as SelectQuery;
  return aggregatorFactory(q.aggregate!.aggregates, { tz: 0 })();
}

const rows: unknown[][] = [['a', 3, 1.5], ['b', null, 2.5], ['a', 3, null], ['c', 7, -1]];

describe('StreamCQL aggregates', () => {
  it('count, sum, avg, max, min skip NULLs; count(*) counts rows', () => {
    const g = aggregator('count(*), count(x), sum(x), avg(x), max(x), min(x), sum(d), avg(d), max(k), min(k)');
    for (const r of rows) g.add(r);
    assert.deepEqual(g.results(), [4, 3, 13, 13 / 3, 7, 3, 3, 1, 'c', 'a']);
  });

  it('DISTINCT and the filtered form count(x, cond)', () => {
    const g = aggregator('count(DISTINCT x), sum(DISTINCT x), count(x, x > 3), sum(x, k = \'a\'), avg(DISTINCT x), count(DISTINCT k)');
    for (const r of rows) g.add(r);
    assert.deepEqual(g.results(), [2, 10, 1, 6, 5, 3]);
  });

  it('rows leaving a sliding window are subtracted; an empty window gives NULL (count 0)', () => {
    const g = aggregator('count(*), sum(x), max(x), min(x), count(DISTINCT x)');
    for (const r of rows) g.add(r);
    g.remove(rows[3]!);
    assert.deepEqual(g.results(), [3, 6, 3, 3, 1]);
    g.remove(rows[0]!);
    assert.deepEqual(g.results(), [2, 3, 3, 3, 1]);
    g.remove(rows[2]!);
    g.remove(rows[1]!);
    assert.deepEqual(g.results(), [0, null, null, null, 0]);
  });
});
