import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RWindow } from '../analysis.js';
import type { Batch, Row } from './batch.js';
import { WindowOp } from './window.js';

const col = (i: number) => ({ k: 'col' as const, t: 'INT' as const, i, name: `c${i}` });

function win(w: Partial<RWindow>): { op: WindowOp; out: Batch[]; clock: { t: number } } {
  const out: Batch[] = [];
  const clock = { t: 0 };
  const op = new WindowOp({ kind: 'rows', excludeNow: false, sql: '', ...w } as RWindow, { tz: 0 }, { now: () => clock.t, hold: () => () => {}, report: () => {} }, (b) => out.push({ ins: [...b.ins], rem: [...b.rem] }));
  return { op, out, clock };
}
const send = (op: WindowOp, ...rows: Row[]) => { for (const r of rows) op.push({ ins: [r], rem: [] }, 0, 1); };

test('ROWS 2 SLIDE: each row enters, the oldest leaves once three are held', () => {
  const { op, out } = win({ kind: 'rows', count: 2, mode: 'SLIDE' });
  send(op, [1], [2], [3], [4]);
  assert.deepEqual(out, [
    { ins: [[1]], rem: [] },
    { ins: [[2]], rem: [] },
    { ins: [[3]], rem: [[1]] },
    { ins: [[4]], rem: [[2]] },
  ]);
});

test('ROWS 2 BATCH: two rows enter together, the previous two leave with them', () => {
  const { op, out } = win({ kind: 'rows', count: 2, mode: 'BATCH' });
  send(op, [1], [2], [3], [4], [5]);
  assert.deepEqual(out, [
    { ins: [[1], [2]], rem: [] },
    { ins: [[3], [4]], rem: [[1], [2]] },
  ]);
});

test('ROWS 2 SLIDE PARTITION BY keeps one window per key', () => {
  const { op, out } = win({ kind: 'rows', count: 1, mode: 'SLIDE', partitionBy: [col(0)] });
  send(op, ['a', 1], ['b', 2], ['a', 3]);
  assert.deepEqual(out.map((b) => b.rem), [[], [], [['a', 1]]]);
});

test('ROWS 2 SLIDE SORT BY keeps the two smallest, the largest leaves', () => {
  const { op, out } = win({ kind: 'rows', count: 2, mode: 'SLIDE', sortBy: col(0) });
  send(op, [5], [3], [4], [9]);
  assert.deepEqual(out.map((b) => b.rem), [[], [], [[5]], [[9]]]);
});

test('RANGE 10 SECONDS SLIDE on the clock: rows leave 10 s after arrival, on a tick too', () => {
  const { op, out, clock } = win({ kind: 'range', ms: 10_000, mode: 'SLIDE' });
  send(op, [1]);
  clock.t = 4000;
  send(op, [2]);
  clock.t = 10_000;
  op.tick(clock.t);
  clock.t = 13_999;
  op.tick(clock.t);
  clock.t = 14_000;
  send(op, [3]);
  assert.deepEqual(out, [
    { ins: [[1]], rem: [] },
    { ins: [[2]], rem: [] },
    { ins: [], rem: [[1]] },
    { ins: [[3]], rem: [[2]] },
  ]);
});

test('RANGE 10 SECONDS BATCH: rows of each interval are released at its end, the previous interval leaves', () => {
  const { op, out, clock } = win({ kind: 'range', ms: 10_000, mode: 'BATCH' });
  clock.t = 1000;
  send(op, [1], [2]);
  clock.t = 9000;
  op.tick(clock.t);
  assert.deepEqual(out, []);
  clock.t = 10_000;
  op.tick(clock.t);
  clock.t = 12_000;
  send(op, [3]);
  clock.t = 20_000;
  op.tick(clock.t);
  clock.t = 30_000;
  op.tick(clock.t);
  assert.deepEqual(out, [
    { ins: [[1], [2]], rem: [] },
    { ins: [[3]], rem: [[1], [2]] },
    { ins: [], rem: [[3]] },
  ]);
});

test('TRIGGER BY uses event time: the watermark is the minimum over producing tasks of their largest ts', () => {
  const { op, out } = win({ kind: 'range', ms: 10, mode: 'SLIDE', triggerBy: col(0) });
  op.push({ ins: [[100]], rem: [] }, 0, 1);
  op.push({ ins: [[105]], rem: [] }, 0, 2);
  op.push({ ins: [[130]], rem: [] }, 0, 1); // task 2 is still at 105: watermark 105
  assert.deepEqual(out.map((b) => b.rem), [[], [], []]);
  op.push({ ins: [[131]], rem: [] }, 0, 2); // watermark 130: 100 and 105 leave
  assert.deepEqual(out[3], { ins: [[131]], rem: [[100], [105]] });
});

test('RANGE TODAY: the first row of a new day removes the earlier day; an older day is dropped', () => {
  const day = 86_400_000;
  const { op, out } = win({ kind: 'today', today: col(0) });
  send(op, [day + 1], [day + 5], [2 * day + 1], [day + 9]);
  assert.deepEqual(out, [
    { ins: [[day + 1]], rem: [] },
    { ins: [[day + 5]], rem: [] },
    { ins: [[2 * day + 1]], rem: [[day + 1], [day + 5]] },
  ]);
});

test('RANGE UNBOUNDED passes rows and never removes; EXCLUDE NOW delays entry by one row', () => {
  const u = win({ kind: 'unbounded' });
  send(u.op, [1], [2]);
  assert.deepEqual(u.out, [{ ins: [[1]], rem: [] }, { ins: [[2]], rem: [] }]);
  const x = win({ kind: 'rows', count: 1, mode: 'SLIDE', excludeNow: true });
  send(x.op, [1], [2], [3]);
  assert.deepEqual(x.out, [{ ins: [[1]], rem: [] }, { ins: [[2]], rem: [[1]] }]);
});
