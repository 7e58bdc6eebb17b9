import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileScript } from './index.js';
import { planTopology } from './planner.js';

test('the planner fuses local chains, keeps parallelism and turns distributed edges into direct streams', async () => {
  const r = compileScript(`
    CREATE INPUT STREAM s (id INT, name STRING, v DOUBLE) SOURCE RandomGen PARALLEL 2;
    CREATE OUTPUT STREAM o (name STRING, n LONG) SINK ConsoleOutput;
    CREATE OUTPUT STREAM p (id INT) SINK ConsoleOutput;
    INSERT INTO o SELECT name, count(*) FROM s(v > 1)[RANGE 10 SECONDS SLIDE] GROUP BY name ORDER BY name LIMIT 5 PARALLEL 3;
    INSERT INTO p SELECT PREVIOUS(1, id) FROM s WHERE PREVIOUS(1, v) > 0;`);
  assert.deepEqual(r.errors, []);
  const topo = await planTopology(r.plan!);
  const comps = Object.fromEntries(topo.ir.components.map((c) => [c.id, c]));
  // The source spout runs the stream node and the pushed-down stateless filter of query 1.
  assert.equal(comps['source.s']!.kind, 'spout');
  assert.equal(comps['source.s']!.parallelism, 2);
  assert.equal(comps['q1.filter'], undefined);
  // Window, WHERE-less aggregate and HAVING-less chain: one component ×3 with ticks for the RANGE window.
  const win = comps['q1.window']!;
  assert.equal(win.parallelism, 3);
  assert.equal(win.config['topology.tick.tuple.freq.secs'], 1);
  assert.deepEqual(win.inputs.map((i) => [i.component, i.grouping.type]), [['source.s', 'DIRECT']]);
  // ORDER BY/LIMIT gathers into one task, with the projection and the output stream and sink fused.
  assert.equal(comps['q1.orderLimit']!.parallelism, 1);
  assert.equal(comps['q1.project'], undefined);
  assert.equal(comps['sink.o'], undefined);
  // A filter with PREVIOUS is not pushed: its history belongs to the task that sees the rows.
  assert.ok(comps['q2.where']);
  assert.deepEqual(comps['q2.where']!.inputs.map((i) => i.component), ['source.s']);
  // Every edge is declared direct with the [ins, rem] fields.
  for (const c of topo.ir.components) for (const s of c.streams) assert.deepEqual([s.direct, s.fields], [true, ['ins', 'rem']]);
});
