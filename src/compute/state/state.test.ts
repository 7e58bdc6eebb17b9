import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BaseRichSpout, type OutputCollector, type OutputFieldsDeclarer, type SpoutOutputCollector, type TopologyConfig, type TopologyContext } from '../api.js';
import type { BoltTask } from '../runtime/executor.js';
import { LocalCluster, type LocalTopology } from '../runtime/local.js';
import { TopologyBuilder } from '../topology.js';
import type { Tuple } from '../tuple.js';
import { BaseStatefulBolt } from './bolt.js';
import { CHECKPOINT_COMPONENT, CHECKPOINT_STREAM, CheckpointSpout, type CheckpointMessage } from './checkpoint.js';
import type { StatefulBoltExecutor } from './executor.js';
import { acquireLmdb, releaseLmdb } from './lmdb.js';
import { dropMemoryBackend, memoryBackend as memoryBackendFor, MemoryStateBackend } from './memory.js';
import { CheckpointedKeyValueState, type KeyValueState, type StateBackend } from './state.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-state-'));
after(() => rmSync(root, { recursive: true, force: true }));

function exercise(backend: () => StateBackend): void {
  const a = new CheckpointedKeyValueState<number | string>(backend(), 'count/0');
  a.put('apple', 1);
  a.put('apricot', 2);
  a.put('banana', 3);
  a.prepareCommit(1);
  a.commit(1);
  assert.equal(a.committedTxid(), 1);
  a.put('apple', 10);
  a.delete('banana');
  a.put('avocado', 'x');
  assert.equal(a.get('apple'), 10);
  assert.equal(a.get('banana'), undefined);
  assert.equal(a.get('cherry', 0), 0);
  assert.deepEqual([...a.iterate('ap')], [['apple', 10], ['apricot', 2]]);
  assert.deepEqual([...a.iterate()].map(([k]) => k), ['apple', 'apricot', 'avocado']);
  a.prepareCommit(2);
  // a new view over the same store (a restart) sees committed data and the durable prepared record
  const b = new CheckpointedKeyValueState<number | string>(backend(), 'count/0');
  assert.equal(b.get('apple'), 10, 'prepared changes are read through');
  b.rollback();
  assert.equal(b.get('apple'), 1, 'rollback returns to the last commit');
  assert.equal(b.get('banana'), 3);
  const c = new CheckpointedKeyValueState<number | string>(backend(), 'count/0');
  assert.equal(c.get('apple'), 1, 'the rollback dropped the prepared record');
  c.put('apple', 5);
  c.prepareCommit(2);
  const d = new CheckpointedKeyValueState<number | string>(backend(), 'count/0');
  d.commit(2); // a recovery's re-commit of a prepared checkpoint
  d.commit(2); // idempotent
  assert.equal(d.committedTxid(), 2);
  assert.equal(new CheckpointedKeyValueState<number | string>(backend(), 'count/0').get('apple'), 5);
  assert.equal(new CheckpointedKeyValueState<number | string>(backend(), 'other/0').get('apple'), undefined, 'namespaces are separate');
  assert.throws(() => d.put('\u0000x', 1), /reserved/);
}

test('KeyValueState over memory: get/put/delete/iterate(prefix), prepare/commit/rollback, recommit after restart', () => {
  const m = new MemoryStateBackend();
  exercise(() => m);
});

test('KeyValueState over LMDB: the same rules, durable across closing and reopening the environment', async () => {
  const dir = join(root, 'lmdb1');
  let open = acquireLmdb(dir);
  exercise(() => open);
  await releaseLmdb(dir);
  open = acquireLmdb(dir);
  const s = new CheckpointedKeyValueState<number>(open, 'count/0');
  assert.equal(s.get('apple'), 5);
  assert.equal(s.committedTxid(), 2);
  await releaseLmdb(dir);
});

/** Emits words with msgIds; replays failed ones; records acks. */
class WordSpout extends BaseRichSpout {
  private c!: SpoutOutputCollector;
  private next = 0;
  private replay: number[] = [];
  readonly acked = new Set<number>();
  failed = 0;
  constructor(private readonly words: string[]) {
    super();
  }
  open(_conf: TopologyConfig, _ctx: TopologyContext, c: SpoutOutputCollector): void {
    this.c = c;
  }
  nextTuple(): void {
    const i = this.replay.length ? this.replay.shift()! : this.next < this.words.length ? this.next++ : -1;
    if (i >= 0) this.c.emit([this.words[i]], i);
  }
  override ack(id: unknown): void {
    this.acked.add(id as number);
  }
  override fail(id: unknown): void {
    this.failed++;
    this.replay.push(id as number);
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['word']);
  }
}

class StatefulCount extends BaseStatefulBolt<number> {
  private state!: KeyValueState<number>;
  private c!: OutputCollector;
  static failPrepareOnce = false;
  prepare(_conf: TopologyConfig, _ctx: TopologyContext, c: OutputCollector): void {
    this.c = c;
  }
  initState(state: KeyValueState<number>): void {
    this.state = state;
  }
  execute(t: Tuple): void {
    const w = t.getString(0);
    this.state.put(w, this.state.get(w, 0) + 1);
    this.c.emit(t, [w]);
    this.c.ack(t);
  }
  prePrepare(): void {
    if (StatefulCount.failPrepareOnce) {
      StatefulCount.failPrepareOnce = false;
      throw new Error('prepare refused once (test)');
    }
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['word']);
  }
}

const words = Array.from({ length: 600 }, (_, i) => `w${(i * 7) % 13}`);
const expected = (): Map<string, number> => {
  const m = new Map<string, number>();
  for (const w of words) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
};

async function countTopology(name: string, conf: TopologyConfig): Promise<{ topo: LocalTopology; spout: () => WordSpout }> {
  let spout!: WordSpout;
  const b = new TopologyBuilder();
  b.setSpout('words', () => (spout = new WordSpout(words)), 1);
  b.setBolt('split', () => new StatefulCount(), 2).shuffleGrouping('words'); // count's checkpoint barrier waits for both split tasks
  b.setBolt('count', () => new StatefulCount(), 3).fieldsGrouping('split', ['word']);
  const topology = b.createTopology();
  const cp = topology.ir.components.find((c) => c.id === 'count')!;
  assert.ok(cp.streams.some((s) => s.id === CHECKPOINT_STREAM));
  assert.deepEqual(cp.inputs.find((i) => i.stream === CHECKPOINT_STREAM), { component: 'split', stream: CHECKPOINT_STREAM, grouping: { type: 'ALL' } });
  assert.ok(topology.ir.components.find((c) => c.id === 'split')!.inputs.some((i) => i.component === CHECKPOINT_COMPONENT));
  const topo = await new LocalCluster().submitTopology(name, { 'topology.state.provider': 'memory', 'topology.state.dir': join(root, name), ...conf }, topology);
  return { topo, spout: () => spout };
}

function counts(topo: LocalTopology, component: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of topo.tasks) {
    if (t.component !== component) continue;
    const ex = (t as BoltTask).bolt as unknown as StatefulBoltExecutor;
    for (const [k, v] of (ex as unknown as { state: KeyValueState<number> }).state.iterate()) m.set(k, v as number);
  }
  return m;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('stateful bolts: inputs are acked only once the checkpoint covering them commits', async () => {
  const { topo, spout } = await countTopology('held', { 'topology.state.checkpoint.interval.ms': 1e9 });
  const executed = (): number => topo.tasks.filter((t) => t.component === 'count').reduce((n, t) => n + t.stats.executed, 0);
  await until(() => executed() >= words.length, 'the counts to execute every word');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(spout().acked.size, 0, 'no checkpoint committed: nothing acked');
  assert.deepEqual(counts(topo, 'count'), expected());
  await topo.kill();
  dropMemoryBackend(join(root, 'held'));
});

test('stateful word count: checkpoints commit, every tuple is acked, counts are exact; a failed prepare rolls back and replays without double counting', async () => {
  StatefulCount.failPrepareOnce = true;
  const { topo, spout } = await countTopology('wc', { 'topology.state.checkpoint.interval.ms': 30 });
  await until(() => spout().acked.size === words.length, 'every word acked');
  assert.ok(spout().failed > 0, 'the refused prepare failed tuples, which were replayed');
  const rolled = topo.tasks.filter((t) => t.component === 'split').reduce((n, t) => n + ((t as BoltTask).bolt as unknown as StatefulBoltExecutor).counters.rollbacks, 0);
  assert.ok(rolled >= 1);
  assert.deepEqual(counts(topo, 'count'), expected());
  await topo.kill();
  // a restarted topology finds the committed counts
  const again = await countTopology('wc', { 'topology.state.checkpoint.interval.ms': 30 });
  const seen = counts(again.topo, 'count');
  await again.topo.kill();
  for (const [w, n] of expected()) assert.ok((seen.get(w) ?? 0) >= n, `restored ${w}`);
  dropMemoryBackend(join(root, 'wc'));
});

test('checkpoint spout: after a restart it re-commits a decided checkpoint or rolls back an undecided one, then sends INITSTATE', async () => {
  const run = (progress: unknown): string[] => {
    const name = join(root, `cp${Math.random()}`);
    if (progress) memoryBackendFor(name).putMeta('checkpoint-spout', progress);
    const sent: string[] = [];
    const ids: CheckpointMessage[] = [];
    const spout = new CheckpointSpout();
    spout.open({ 'topology.state.provider': 'memory', 'topology.state.dir': name, 'topology.state.checkpoint.interval.ms': 1e9 }, {} as TopologyContext, {
      emit: (_s: unknown, v: unknown, id: unknown) => {
        sent.push(`${(v as unknown[])[1]}(${(v as unknown[])[0]})`);
        ids.push(id as CheckpointMessage);
      },
    } as unknown as SpoutOutputCollector);
    for (let i = 0; i < 3; i++) {
      spout.nextTuple();
      spout.nextTuple(); // one checkpoint in flight at a time
      if (ids.length > i) spout.ack(ids[i]);
    }
    dropMemoryBackend(name);
    return sent;
  };
  assert.deepEqual(run(null), ['INITSTATE(0)']);
  assert.deepEqual(run({ txid: 5, phase: 'COMMITTING' }), ['COMMIT(5)', 'INITSTATE(5)']);
  assert.deepEqual(run({ txid: 5, phase: 'PREPARING' }), ['ROLLBACK(5)', 'INITSTATE(4)']);
  assert.deepEqual(run({ txid: 5, phase: 'COMMITTED' }), ['INITSTATE(5)']);
});
