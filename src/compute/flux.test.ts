import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadFlux, loadFluxFile } from './flux.js';
import { loadTopology } from './loader.js';
import { SimClock } from './runtime/clock.js';
import { LocalCluster } from './runtime/local.js';
import { CollectSink } from './testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'monsoon-flux-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const testkit = fileURLToPath(new URL('./testkit.js', import.meta.url));
const rel = relative(dir, testkit).startsWith('.') ? relative(dir, testkit) : `./${relative(dir, testkit)}`;

const yaml = `
name: yaml-wordcount
config:
  topology.workers: 1
  topology.max.spout.pending: 100
spouts:
  - id: sentences
    className: "${rel}#ListSpout"
    parallelism: 1
    constructorArgs: [["a b", "b c", "c a b"], sentence]
bolts:
  - id: split
    className: "${rel}#SplitSentence"
    parallelism: 2
    constructorArgs: [" "]
  - id: count
    className: "${testkit}#WordCount"
    parallelism: 3
    numTasks: 6
    config: { topology.tick.tuple.freq.secs: 60 }
  - id: sink
    className: "${rel}#CollectSink"
    parallelism: 1
streams:
  - name: "sentences --> split"
    from: sentences
    to: split
    grouping: { type: LOCAL_OR_SHUFFLE }
  - from: split
    to: count
    grouping:
      type: FIELDS
      args: [word]
  - from: count
    to: sink
    grouping: { type: GLOBAL, streamId: default }
`;

test('a Flux YAML definition loads to the same IR shape and runs', async () => {
  const file = join(dir, 'wc.yaml');
  writeFileSync(file, yaml);
  const topo = await loadFluxFile(file);
  const ir = topo.ir;
  assert.equal(ir.name, 'yaml-wordcount');
  assert.deepEqual(ir.config, { 'topology.workers': 1, 'topology.max.spout.pending': 100 });
  const count = ir.components.find((c) => c.id === 'count')!;
  assert.equal(count.className, `${testkit}#WordCount`);
  assert.equal(count.module, testkit);
  assert.deepEqual([count.parallelism, count.numTasks], [3, 6]);
  assert.deepEqual(count.config, { 'topology.tick.tuple.freq.secs': 60 });
  assert.deepEqual(count.inputs, [{ component: 'split', stream: 'default', grouping: { type: 'FIELDS', fields: ['word'] } }]);
  assert.equal(ir.components.find((c) => c.id === 'split')!.className, `${rel}#SplitSentence`);
  assert.deepEqual(ir.components.find((c) => c.id === 'split')!.inputs[0]!.grouping, { type: 'LOCAL_OR_SHUFFLE' });

  CollectSink.got.length = 0;
  const cluster = new LocalCluster({ clock: new SimClock(), manual: true });
  const t = await cluster.submitTopology('yaml', {}, topo);
  t.runUntilIdle();
  assert.equal(t.page().spouts[0]!.acked, 3);
  const final = new Map<string, number>();
  for (const g of CollectSink.got) final.set(g.values[0] as string, g.values[1] as number);
  assert.deepEqual(Object.fromEntries([...final].sort()), { a: 2, b: 3, c: 2 });
  await cluster.shutdown();
});

test('Flux errors name the file and the entry', async () => {
  const f = join(dir, 'bad.yaml');
  const bad = async (text: string, re: RegExp): Promise<void> => {
    await assert.rejects(loadFlux(text, f), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'MON_ERR_TOPOLOGY_INVALID');
      assert.match(e.message, re);
      return true;
    });
  };
  await bad(yaml.replace('type: FIELDS', 'type: HASH'), /bad\.yaml: streams\.1\.grouping\.type/);
  await bad(yaml.replace(`"${rel}#SplitSentence"`, `"${rel}#Splitter"`), /bolt split: module .* has no exported class "Splitter"; it exports .*SplitSentence/);
  await bad(yaml.replace(`className: "${rel}#CollectSink"`, 'className: "./missing.js#X"'), /bolt sink: cannot load module "\.\/missing\.js"/);
  await bad(yaml.replace('args: [word]', 'args: [words]'), /component "count": FIELDS grouping on split:default uses field "words"/);
  await bad(yaml.replace('to: sink', 'to: sinc'), /streams\[2\] .*"to" names "sinc", which is not a bolt/);
  await bad(yaml + '\nextra: 1\n', /Unrecognized key/);
});

test('a topology module (default export a function returning a topology) loads with its source recorded', async () => {
  const mod = fileURLToPath(new URL('../../test/fixtures/wordcount-topology.js', import.meta.url));
  const topo = await loadTopology(mod, { name: 'from-module' });
  assert.equal(topo.ir.name, 'from-module');
  assert.deepEqual(topo.ir.source, { module: mod, export: 'default' });
  assert.deepEqual(topo.ir.components.map((c) => c.id), ['sentences', 'split', 'count', 'sink']);
  await assert.rejects(loadTopology(`${mod}#SENTENCES`), /export "SENTENCES" is not a topology/);
});
