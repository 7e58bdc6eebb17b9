import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGrouper, hashFields, type GrouperSpec } from './groupings.js';
import { Fields } from './tuple.js';

const fields = new Fields('user', 'n');
const targets = [7, 3, 11, 5, 9];
const all = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

function spec(type: GrouperSpec['type'], extra: Partial<GrouperSpec> = {}): GrouperSpec {
  return { type, streamFields: fields, fields: ['user'], targetTasks: targets, sourceTask: 1, workerTasks: all, ...extra };
}

function keys(n: number, seed = 1): string[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return `k${x.toString(36)}`;
  });
}

test('fields grouping: the same key always goes to the same task, from any source task, and keys spread over all tasks', () => {
  const a = createGrouper(spec('FIELDS'));
  const b = createGrouper(spec('FIELDS', { sourceTask: 2, targetTasks: [...targets].reverse() }));
  const where = new Map<string, number>();
  const used = new Map<number, number>();
  for (const k of keys(20_000)) {
    const t = a.chooseOne([k, Math.random()]);
    assert.ok(targets.includes(t));
    if (where.has(k)) assert.equal(where.get(k), t, `key ${k}`);
    where.set(k, t);
    assert.equal(b.chooseOne([k, 0]), t, 'a second source task routes the key alike');
    used.set(t, (used.get(t) ?? 0) + 1);
  }
  assert.equal(used.size, targets.length);
  for (const [t, n] of used) assert.ok(n > 20_000 / targets.length / 2, `task ${t} got ${n} of 20000 keys`);
});

test('fields grouping over several fields and value types is deterministic', () => {
  const g = createGrouper(spec('FIELDS', { streamFields: new Fields('a', 'b', 'c'), fields: ['c', 'a'] }));
  for (const v of [[1, 'x', 'y'], ['s', null, 2.5], [Buffer.from('ab'), 0, true]] as unknown[][]) {
    assert.equal(g.chooseOne(v), g.chooseOne([...v]));
  }
  assert.equal(hashFields(['a', 1], [0, 1], 0), hashFields(['a', 1], [0, 1], 0));
});

test('partial key grouping: each key goes to one of two tasks, and load evens out for a skewed key', () => {
  const g = createGrouper(spec('PARTIAL_KEY'));
  const seen = new Map<string, Set<number>>();
  for (const k of keys(5_000)) {
    for (let i = 0; i < 4; i++) {
      const t = g.chooseOne([k, i]);
      let s = seen.get(k);
      if (!s) seen.set(k, (s = new Set()));
      s.add(t);
    }
  }
  for (const [k, s] of seen) assert.ok(s.size <= 2, `key ${k} went to ${s.size} tasks`);
  assert.ok([...seen.values()].some((s) => s.size === 2), 'keys are split over two tasks');
  const hot = createGrouper(spec('PARTIAL_KEY'));
  const count = new Map<number, number>();
  for (let i = 0; i < 1000; i++) {
    const t = hot.chooseOne(['hot', i]);
    count.set(t, (count.get(t) ?? 0) + 1);
  }
  const loads = [...count.values()];
  if (loads.length === 2) assert.ok(Math.abs(loads[0]! - loads[1]!) <= 1, `hot key split ${loads.join('/')}`);
  else assert.equal(loads[0], 1000); // both hashes picked the same task
});

test('all grouping delivers to every task; global to the lowest task id', () => {
  const a = createGrouper(spec('ALL'));
  assert.ok(a.many);
  assert.deepEqual([...a.chooseMany(['x', 1])].sort((x, y) => x - y), [3, 5, 7, 9, 11]);
  const g = createGrouper(spec('GLOBAL'));
  for (const k of keys(100)) assert.equal(g.chooseOne([k, 0]), 3);
});

test('shuffle grouping is balanced: every task gets its share per round of tasks', () => {
  const g = createGrouper(spec('SHUFFLE'));
  const count = new Map<number, number>();
  for (let i = 0; i < 10_000; i++) {
    const t = g.chooseOne(['x', i]);
    count.set(t, (count.get(t) ?? 0) + 1);
  }
  assert.deepEqual([...count.keys()].sort((a, b) => a - b), [3, 5, 7, 9, 11]);
  for (const n of count.values()) assert.equal(n, 2000);
});

test('local-or-shuffle prefers tasks in the same worker and falls back to all targets', () => {
  const local = createGrouper(spec('LOCAL_OR_SHUFFLE', { workerTasks: new Set([5, 9, 1]) }));
  const got = new Set<number>();
  for (let i = 0; i < 1000; i++) got.add(local.chooseOne(['x', i]));
  assert.deepEqual([...got].sort((a, b) => a - b), [5, 9]);
  const remote = createGrouper(spec('LOCAL_OR_SHUFFLE', { workerTasks: new Set([100]) }));
  const got2 = new Set<number>();
  for (let i = 0; i < 1000; i++) got2.add(remote.chooseOne(['x', i]));
  assert.equal(got2.size, targets.length);
});

test('custom grouping calls chooseTasks with the source task and the target tasks from prepare', () => {
  let prepared: number[] = [];
  const g = createGrouper(
    spec('CUSTOM', {
      sourceTask: 4,
      custom: {
        prepare: (_ctx, _s, tasks) => {
          prepared = tasks;
        },
        chooseTasks: (src, values) => (values[1] === 0 ? [prepared[0]!] : [prepared[1]!, src]),
      },
      context: {} as never,
      stream: { component: 'c', stream: 'default' },
    }),
  );
  assert.deepEqual(prepared, [3, 5, 7, 9, 11]);
  assert.deepEqual(g.chooseMany(['x', 0]), [3]);
  assert.deepEqual(g.chooseMany(['x', 1]), [5, 4]);
});
