/**
 * bench:compute — a 3-stage word count (sentence spout → split bolt (shuffle) → count bolt (fields
 * grouping on the word)) in the local topology runtime, (a) with acking (every word anchored, XOR
 * acker, max.spout.pending bounding the trees in flight), (b) without acking, and (c) the same logic
 * as a plain RxJS chain in the same process — the floor of what JavaScript costs for this work.
 *
 * Tuples/s counts the tuples the bolts executed (each sentence into split, each word into count), so
 * one sentence of 10 words is 11 tuples; RxJS is measured in the same unit (sentences + words
 * through its operators). The acked run reports the spouts' p99 complete latency (emit → tree acked).
 * The last line is one JSON object.
 *
 * BENCH_SENTENCES (default 400,000), BENCH_PENDING (max.spout.pending, default 2,000), BENCH_CONF (a JSON
 * object of extra topology keys, e.g. {"topology.executor.receive.buffer.bytes": 262144}).
 */
import { from, map, mergeMap } from 'rxjs';
import { BaseBasicBolt, BaseRichSpout, type BasicOutputCollector, type OutputFieldsDeclarer, type SpoutOutputCollector } from '../src/compute/api.js';
import { LocalCluster } from '../src/compute/runtime/local.js';
import { TopologyBuilder } from '../src/compute/topology.js';
import type { Tuple } from '../src/compute/tuple.js';

const N = Number(process.env.BENCH_SENTENCES ?? 400_000);
const PENDING = Number(process.env.BENCH_PENDING ?? 2_000);
const WORDS_PER_SENTENCE = 10;

// 1,000 distinct sentences over a 2,000-word vocabulary, built once so no run pays for making strings
const vocab = Array.from({ length: 2000 }, (_, i) => `w${(i * 7919) % 100003}`);
const sentences = Array.from({ length: 1000 }, (_, s) => Array.from({ length: WORDS_PER_SENTENCE }, (_, k) => vocab[(s * 31 + k * 17) % vocab.length]).join(' '));

let wordsCounted = 0;
let target = 0;
let done: (() => void) | null = null;

class SentenceSpout extends BaseRichSpout {
  private c!: SpoutOutputCollector;
  private i = 0;
  private readonly tracked: boolean;
  private share = 0;
  constructor(tracked = true) {
    super();
    this.tracked = tracked;
  }
  open(_conf: unknown, ctx: { getComponentTasks(id: string): number[] }, c: SpoutOutputCollector): void {
    this.c = c;
    this.share = Math.ceil(N / ctx.getComponentTasks('sentences').length);
  }
  nextTuple(): void {
    if (this.i >= this.share) return;
    const i = this.i++;
    if (this.tracked) this.c.emit([sentences[i % sentences.length]], i);
    else this.c.emit([sentences[i % sentences.length]]);
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['sentence']);
  }
}

class SplitBolt extends BaseBasicBolt {
  execute(t: Tuple, c: BasicOutputCollector): void {
    const words = (t.values[0] as string).split(' ');
    for (let i = 0; i < words.length; i++) c.emit([words[i]]);
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['word']);
  }
}

class CountBolt extends BaseBasicBolt {
  private counts = new Map<string, number>();
  execute(t: Tuple): void {
    const w = t.values[0] as string;
    this.counts.set(w, (this.counts.get(w) ?? 0) + 1);
    if (++wordsCounted === target) done?.();
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['word', 'count']);
  }
}

async function runTopology(acking: boolean, sentencesTotal: number): Promise<{ tuplesPerS: number; p99: number; secs: number }> {
  const b = new TopologyBuilder();
  b.setSpout('sentences', () => new SentenceSpout(acking), 1);
  b.setBolt('split', SplitBolt, 1).shuffleGrouping('sentences');
  b.setBolt('count', CountBolt, 2).fieldsGrouping('split', ['word']);
  const cluster = new LocalCluster();
  wordsCounted = 0;
  target = sentencesTotal * WORDS_PER_SENTENCE;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  const conf: Record<string, unknown> = { 'topology.acker.executors': acking ? 1 : 0 };
  if (acking) conf['topology.max.spout.pending'] = PENDING;
  Object.assign(conf, JSON.parse(process.env.BENCH_CONF ?? '{}') as Record<string, unknown>);
  const topo = await cluster.submitTopology(acking ? 'wc-acked' : 'wc-unacked', conf, b.createTopology());
  await finished;
  if (acking) while (topo.page().spouts[0]!.acked < sentencesTotal) await new Promise((r) => setImmediate(r));
  const secs = (performance.now() - t0) / 1000;
  const p99 = Number(topo.page().spouts[0]!.completeLatencyP99);
  await cluster.shutdown();
  return { tuplesPerS: (sentencesTotal * (1 + WORDS_PER_SENTENCE)) / secs, p99, secs };
}

async function runRx(sentencesTotal: number): Promise<number> {
  const counts = new Map<string, number>();
  const idx = Array.from({ length: sentencesTotal }, (_, i) => i);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    from(idx)
      .pipe(
        map((i) => sentences[i % sentences.length]!),
        mergeMap((s) => s.split(' ')),
      )
      .subscribe({ next: (w) => counts.set(w, (counts.get(w) ?? 0) + 1), complete: () => resolve() });
  });
  const secs = (performance.now() - t0) / 1000;
  return (sentencesTotal * (1 + WORDS_PER_SENTENCE)) / secs;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

// warm-up (JIT) at a tenth of the size, then the measured runs
await runTopology(true, Math.ceil(N / 10));
await runTopology(false, Math.ceil(N / 10));
await runRx(Math.ceil(N / 10));

const acked = await runTopology(true, N);
const unacked = await runTopology(false, N);
const rx = await runRx(N);

console.log(`word count, ${fmt(N)} sentences × ${WORDS_PER_SENTENCE} words (${fmt(N * (1 + WORDS_PER_SENTENCE))} tuples)`);
console.log(`acked:   ours ${fmt(acked.tuplesPerS)} tuples/s, peer (rxjs) ${fmt(rx)}/s, ratio ${(acked.tuplesPerS / rx).toFixed(3)}; p99 complete latency ${acked.p99.toFixed(3)} ms (max.spout.pending ${PENDING})`);
console.log(`unacked: ours ${fmt(unacked.tuplesPerS)} tuples/s, peer (rxjs) ${fmt(rx)}/s, ratio ${(unacked.tuplesPerS / rx).toFixed(3)}`);
console.log(
  JSON.stringify({
    acked_tuples_per_s: Math.round(acked.tuplesPerS),
    unacked_tuples_per_s: Math.round(unacked.tuplesPerS),
    rxjs_tuples_per_s: Math.round(rx),
    p99_complete_latency_ms: Number(acked.p99.toFixed(3)),
    acked_vs_rxjs: Number((acked.tuplesPerS / rx).toFixed(3)),
    unacked_vs_rxjs: Number((unacked.tuplesPerS / rx).toFixed(3)),
  }),
);
