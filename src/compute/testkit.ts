/**
 * Components for compute tests and examples: a spout replaying a fixed list with msgIds (re-emitting
 * failed ones, as a reliable spout must), a splitter, a counter, a collecting sink. Flux test YAML
 * refers to these by `module#export`.
 */
import { BaseBasicBolt, BaseRichBolt, BaseRichSpout, type BasicOutputCollector, type OutputCollector, type OutputFieldsDeclarer, type SpoutOutputCollector, type TopologyConfig, type TopologyContext } from './api.js';
import type { Tuple } from './tuple.js';

/** Emits `items` once each with its index as msgId; failed ones are emitted again (replay). */
export class ListSpout extends BaseRichSpout {
  private c!: SpoutOutputCollector;
  private next = 0;
  private replay: number[] = [];
  readonly acked = new Set<number>();
  readonly failed: number[] = [];
  private share: unknown[] = [];
  constructor(
    private readonly items: unknown[] = [],
    private readonly field = 'item',
  ) {
    super();
  }
  open(_conf: TopologyConfig, ctx: TopologyContext, c: SpoutOutputCollector): void {
    this.c = c;
    // tasks of one spout component split the list between them
    const n = ctx.getComponentTasks(ctx.getThisComponentId()).length;
    const i = ctx.getThisTaskIndex();
    this.share = this.items.filter((_, k) => k % n === i);
  }
  nextTuple(): void {
    const id = this.replay.length ? this.replay.shift()! : this.next < this.share.length ? this.next++ : -1;
    if (id < 0) return;
    this.c.emit([this.share[id]], id);
  }
  override ack(msgId: unknown): void {
    this.acked.add(msgId as number);
  }
  override fail(msgId: unknown): void {
    this.failed.push(msgId as number);
    this.replay.push(msgId as number);
  }
  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare([this.field]);
  }
  done(): boolean {
    return this.acked.size === this.share.length;
  }
}

export class SplitSentence extends BaseBasicBolt {
  constructor(private readonly separator = ' ') {
    super();
  }
  execute(t: Tuple, c: BasicOutputCollector): void {
    for (const w of String(t.getValue(0)).split(this.separator)) if (w) c.emit([w]);
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['word']);
  }
}

/** Counts words per task; emits (word, count). `seen` records which task counted each word. */
export class WordCount extends BaseBasicBolt {
  readonly counts = new Map<string, number>();
  static readonly seen = new Map<string, Set<number>>();
  private task = 0;
  prepare(_conf: TopologyConfig, ctx: TopologyContext): void {
    this.task = ctx.getThisTaskId();
  }
  execute(t: Tuple, c: BasicOutputCollector): void {
    const w = t.getStringByField('word');
    const n = (this.counts.get(w) ?? 0) + 1;
    this.counts.set(w, n);
    let s = WordCount.seen.get(w);
    if (!s) WordCount.seen.set(w, (s = new Set()));
    s.add(this.task);
    c.emit([w, n]);
  }
  override declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declare(['word', 'count']);
  }
}

/** Records every tuple it executes (values and the task), acks them. */
export class CollectSink extends BaseRichBolt {
  static readonly got: { task: number; stream: string; values: unknown[] }[] = [];
  private c!: OutputCollector;
  private task = 0;
  prepare(_conf: TopologyConfig, ctx: TopologyContext, c: OutputCollector): void {
    this.c = c;
    this.task = ctx.getThisTaskId();
  }
  execute(t: Tuple): void {
    CollectSink.got.push({ task: this.task, stream: t.getSourceStreamId(), values: t.getValues() });
    this.c.ack(t);
  }
  declareOutputFields(): void {}
}
