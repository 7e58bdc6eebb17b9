/**
 * A child process for the state crash test: a bus spout over an embedded bus directory feeding a
 * stateful word count (LMDB state). Prints `progress <executed>` lines while it runs; once every
 * record is acked (so covered by a committed checkpoint) it stops the topology, reads the committed
 * counts back from the state directory and prints `final <json>`.
 *
 * usage: node stateful-wordcount.js <busDir> <stateDir> <records>
 */
import { BaseStatefulBolt } from '../../src/compute/state/bolt.js';
import { acquireLmdb, releaseLmdb } from '../../src/compute/state/lmdb.js';
import { CheckpointedKeyValueState, type KeyValueState } from '../../src/compute/state/state.js';
import type { OutputCollector, OutputFieldsDeclarer, TopologyConfig, TopologyContext } from '../../src/compute/api.js';
import type { SpoutTask } from '../../src/compute/runtime/executor.js';
import { LocalCluster } from '../../src/compute/runtime/local.js';
import { BusSpout } from '../../src/compute/spouts/bus.js';
import { TopologyBuilder } from '../../src/compute/topology.js';
import type { Tuple } from '../../src/compute/tuple.js';

class Count extends BaseStatefulBolt<number> {
  private state!: KeyValueState<number>;
  private c!: OutputCollector;
  prepare(_conf: TopologyConfig, _ctx: TopologyContext, c: OutputCollector): void {
    this.c = c;
  }
  initState(state: KeyValueState<number>): void {
    this.state = state;
  }
  execute(t: Tuple): void {
    const w = t.getStringByField('value');
    this.state.put(w, this.state.get(w, 0) + 1);
    this.c.ack(t);
  }
  override declareOutputFields(_d: OutputFieldsDeclarer): void {}
}

const [busDir, stateDir, recordsArg] = process.argv.slice(2);
const records = Number(recordsArg);
const b = new TopologyBuilder();
b.setSpout('lines', new BusSpout({ bus: busDir!, topics: ['words'], group: 'wc', commitIntervalMs: 200 }), 1);
b.setBolt('count', () => new Count(), 2).fieldsGrouping('lines', ['value']);
const conf = { 'topology.state.dir': stateDir, 'topology.state.checkpoint.interval.ms': 100, 'topology.max.spout.pending': 300 };
const topo = await new LocalCluster().submitTopology('wc', conf, b.createTopology());
const spout = (topo.tasks.find((t) => t.component === 'lines') as SpoutTask).spout as BusSpout;
const executed = (): number => topo.tasks.filter((t) => t.component === 'count').reduce((n, t) => n + t.stats.executed, 0);
const timer = setInterval(() => {
  process.stdout.write(`progress ${executed()}\n`);
  const done = Object.values(spout.committedOffsets()).reduce((n, o) => n + o, 0);
  if (done < records) return;
  clearInterval(timer);
  void (async () => {
    await topo.kill();
    const store = acquireLmdb(stateDir!);
    const counts: Record<string, number> = {};
    for (const ns of ['count/0', 'count/1']) for (const [k, v] of new CheckpointedKeyValueState<number>(store, ns).iterate()) counts[k] = (counts[k] ?? 0) + v;
    await releaseLmdb(stateDir!);
    process.stdout.write(`final ${JSON.stringify(counts)}\n`);
    process.exit(0);
  })();
}, 50);
