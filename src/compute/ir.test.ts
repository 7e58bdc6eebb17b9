import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BaseBasicBolt, type OutputFieldsDeclarer } from './api.js';
import { irProblems, validateIR, type TopologyIR } from './ir.js';
import { ListSpout, SplitSentence, WordCount } from './testkit.js';
import { TopologyBuilder } from './topology.js';

class TwoStreams extends BaseBasicBolt {
  execute(): void {}
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['a', 'b']);
    d.declareStream('errors', ['reason']);
    d.declareStream('direct', true, ['x']);
  }
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'MON_ERR_TOPOLOGY_INVALID');
    return (e as Error).message;
  }
  assert.fail('expected an error');
}

test('the builder serialises to JSON IR: components, parallelism, numTasks, config, inputs with groupings, streams with fields', () => {
  const b = new TopologyBuilder();
  b.setSpout('sentences', new ListSpout([], 'sentence'), 2).addConfiguration('topology.max.spout.pending', 100);
  b.setBolt('split', new SplitSentence(), 3).setNumTasks(6).shuffleGrouping('sentences');
  b.setBolt('count', WordCount, 2).fieldsGrouping('split', ['word']).allGrouping('two', 'errors');
  b.setBolt('two', TwoStreams, 1).partialKeyGrouping('split', 'default', ['word']);
  const topo = b.createTopology({ 'topology.workers': 2 }, 'wc');
  const ir = JSON.parse(JSON.stringify(topo.ir)) as TopologyIR;
  assert.deepEqual(ir, topo.ir, 'plain JSON');
  assert.equal(ir.name, 'wc');
  assert.deepEqual(ir.config, { 'topology.workers': 2 });
  const split = ir.components.find((c) => c.id === 'split')!;
  assert.deepEqual([split.kind, split.className, split.parallelism, split.numTasks], ['bolt', 'SplitSentence', 3, 6]);
  assert.deepEqual(split.inputs, [{ component: 'sentences', stream: 'default', grouping: { type: 'SHUFFLE' } }]);
  assert.deepEqual(split.streams, [{ id: 'default', direct: false, fields: ['word'] }]);
  const count = ir.components.find((c) => c.id === 'count')!;
  assert.deepEqual(count.inputs[0]!.grouping, { type: 'FIELDS', fields: ['word'] });
  assert.deepEqual(count.inputs[1], { component: 'two', stream: 'errors', grouping: { type: 'ALL' } });
  assert.deepEqual(ir.components.find((c) => c.id === 'sentences')!.config, { 'topology.max.spout.pending': 100 });
  assert.deepEqual(ir.components.find((c) => c.id === 'two')!.streams.map((s) => [s.id, s.direct]), [['default', false], ['errors', false], ['direct', true]]);
  assert.deepEqual(irProblems(ir), []);
});

test('validation errors name the component: unknown component, unknown stream, undeclared fields, direct mismatches', () => {
  const b = new TopologyBuilder();
  b.setSpout('sentences', new ListSpout([], 'sentence'), 1);
  b.setBolt('split', SplitSentence, 1).shuffleGrouping('sentence');
  b.setBolt('count', WordCount, 1).fieldsGrouping('split', ['words']);
  b.setBolt('two', TwoStreams, 1).shuffleGrouping('split', 'nope');
  b.setBolt('d1', WordCount, 1).shuffleGrouping('two', 'direct');
  b.setBolt('d2', WordCount, 1).directGrouping('two', 'errors');
  const msg = code(() => b.createTopology());
  assert.match(msg, /component "split": subscribes to unknown component "sentence" \(did you mean "sentences"\?\)/);
  assert.match(msg, /component "count": FIELDS grouping on split:default uses field "words", which split does not declare on stream "default" \(fields: \[word\]\)/);
  assert.match(msg, /component "two": subscribes to stream "nope" of split, which declares "default"/);
  assert.match(msg, /component "d1": SHUFFLE grouping on two:direct, but two declares stream "direct" as direct/);
  assert.match(msg, /component "d2": DIRECT grouping on two:errors, but two declares stream "errors" as not direct/);
});

test('validation: ids, parallelism, duplicates, spouts with inputs; cycles are allowed as in Storm', () => {
  const b = new TopologyBuilder();
  b.setSpout('s', new ListSpout([]), 1);
  assert.match(code(() => b.setBolt('s', WordCount)), /component "s" is declared twice/);
  const ir: TopologyIR = {
    version: 1,
    config: {},
    components: [
      { id: 's', kind: 'spout', className: 'X', parallelism: 0, numTasks: 1, config: {}, inputs: [{ component: 'a', stream: 'default', grouping: { type: 'SHUFFLE' } }], streams: [{ id: 'default', fields: ['v'], direct: false }] },
      { id: '__sys', kind: 'bolt', className: 'X', parallelism: 1, numTasks: 1, config: {}, inputs: [], streams: [] },
      { id: 'a', kind: 'bolt', className: 'X', parallelism: 1, numTasks: 1, config: {}, inputs: [{ component: 'b', stream: 'default', grouping: { type: 'FIELDS', fields: ['v'] } }, { component: 's', stream: 'default', grouping: { type: 'LOCAL_OR_SHUFFLE' } }], streams: [{ id: 'default', fields: ['v'], direct: false }] },
      { id: 'b', kind: 'bolt', className: 'X', parallelism: 2, numTasks: 2, config: {}, inputs: [{ component: 'a', stream: 'default', grouping: { type: 'GLOBAL' } }, { component: 'b', stream: 'default', grouping: { type: 'SHUFFLE' } }], streams: [{ id: 'default', fields: ['v'], direct: false }] },
    ],
  };
  const errs = irProblems(ir);
  assert.ok(errs.some((e) => /component "s": parallelism must be a positive integer, got 0/.test(e)), errs.join('\n'));
  assert.ok(errs.some((e) => /component "s": a spout cannot subscribe/.test(e)));
  assert.ok(errs.some((e) => /component "__sys": ids starting with "__" are reserved/.test(e)));
  assert.equal(errs.filter((e) => /"a"|"b"/.test(e)).length, 0, 'the a ⇄ b cycle and b → b are valid');
  ir.components[0]!.parallelism = 1;
  ir.components[0]!.inputs = [];
  ir.components.splice(1, 1);
  assert.doesNotThrow(() => validateIR(ir));
  assert.match(code(() => validateIR({ version: 1, config: {}, components: [] })), /no components/);
});
