import { errorMessage } from '../../core/errors.js';
import type { Bolt, OutputCollector, OutputFieldsDeclarer, TopologyConfig, TopologyContext } from '../../compute/api.js';
import type { Tuple } from '../../compute/tuple.js';

/**
 * The shape every store bolt shares: tuples are buffered, written as one batch, and acked only once
 * the write committed (failed as a whole when it did not, so the spout replays them). Nothing awaits
 * per tuple: `execute` appends to the buffer; a batch is written
 *  - as soon as no write is in flight (group commit: on the next turn of the event loop, so the
 *    tuples the executor hands over in one turn go together, and while one write runs the next batch
 *    gathers),
 *  - at `maxBatch` tuples,
 *  - and at each tick tuple (`topology.tick.tuple.freq.secs`), which also runs `onTick`.
 * With `lingerMs` (Kafka's linger.ms) a batch below `maxBatch` waits until its oldest tuple is that
 * old: fewer, larger writes for a store whose cost is per write more than per item (an LMDB commit
 * rewrites every page the batch touched). With `idleMs` as well, it also goes once no tuple arrived
 * for that long: the end of a burst (a landed file, the last records of a run) is written at once
 * instead of after the rest of the linger, while a steady stream still gathers whole lingers. A tick writes what is buffered however long it lingered,
 * so a tick period shorter than lingerMs caps the linger at that period.
 * At most one write is in flight; the spout's max pending bounds the buffer. A tuple may carry many
 * rows (a RowBatch, src/compute/row-batch.ts): `size` says how many, and maxBatch counts rows.
 */
export interface BatchingOptions {
  /** Rows per write at most (default 5,000); a write takes at least one tuple, whatever its rows. */
  maxBatch?: number;
  /** Tick tuple period in seconds for this bolt (default 1). */
  tickSecs?: number;
  /** How long a batch below maxBatch may wait for more tuples, in ms (default 0: it goes at once). */
  lingerMs?: number;
  /** With lingerMs: a batch also goes once no tuple arrived for this long, in ms (default 0: off). */
  idleMs?: number;
}

export abstract class BatchingStoreBolt<T> implements Bolt {
  protected collector!: OutputCollector;
  private buffer: Tuple[] = [];
  private items: T[] = [];
  /** Rows in `items`. */
  private rows = 0;
  private writing: Promise<void> | null = null;
  /** The pending turn or linger timer that will write the buffer. */
  private scheduled: { cancel(): void } | null = null;
  /** A tick asked for a write: it goes as soon as the write in flight ends, lingering or not. */
  private forced = false;
  private closed = false;
  /** Committed writes and tuples, for metrics and tests. */
  readonly counters = { batches: 0, written: 0, skipped: 0, failedBatches: 0 };
  protected readonly maxBatch: number;
  private readonly tickSecs: number;
  private readonly lingerMs: number;
  private readonly idleMs: number;
  /** When the oldest buffered tuple arrived (performance.now()). */
  private firstAt = 0;
  /** When the latest tuple arrived (performance.now()). */
  private lastAt = 0;

  constructor(opts: BatchingOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 5000;
    this.tickSecs = opts.tickSecs ?? 1;
    this.lingerMs = opts.lingerMs ?? 0;
    this.idleMs = opts.idleMs ?? 0;
  }

  /** Opens the store for this task. */
  protected abstract open(conf: TopologyConfig, context: TopologyContext): Promise<void>;
  /** The item a tuple writes; undefined to ack it without writing. Throwing fails the tuple. */
  protected abstract item(input: Tuple): T | undefined;
  /** Writes a batch durably (resolves once committed). */
  protected abstract write(items: T[]): Promise<void>;
  /** Rows an item holds (1 unless the bolt takes row batches). */
  protected size(_item: T): number {
    return 1;
  }
  /** Runs between writes at each tick (e.g. time-based rotation). */
  protected onTick(): Promise<void> {
    return Promise.resolve();
  }
  protected abstract closeStore(): Promise<void>;

  getComponentConfiguration(): TopologyConfig {
    return { 'topology.tick.tuple.freq.secs': this.tickSecs };
  }

  declareOutputFields(_d: OutputFieldsDeclarer): void {}

  async prepare(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): Promise<void> {
    this.collector = collector;
    await this.open(conf, context);
  }

  execute(input: Tuple): void {
    if (input.isTick()) {
      this.chain(() => this.onTick());
      this.forced = true;
      this.flush();
      return;
    }
    let item: T | undefined;
    try {
      item = this.item(input);
    } catch (e) {
      this.collector.reportError(e);
      this.collector.fail(input);
      return;
    }
    if (item === undefined) {
      this.counters.skipped++;
      this.collector.ack(input);
      return;
    }
    this.lastAt = performance.now();
    if (this.buffer.length === 0) this.firstAt = this.lastAt;
    this.buffer.push(input);
    this.items.push(item);
    this.rows += this.size(item);
    if (this.rows >= this.maxBatch) this.flush();
    else this.schedule();
  }

  /**
   * Writes the buffer once it has lingered long enough, or has been idle for idleMs (on the next turn
   * without lingerMs). A timer that finds tuples arrived since it was set waits again.
   */
  private schedule(): void {
    if (this.scheduled || this.writing || this.buffer.length === 0 || this.closed) return;
    const go = () => {
      this.scheduled = null;
      if (this.wait() > 0) this.schedule();
      else this.flush();
    };
    const wait = this.wait();
    if (wait > 0) {
      const t = setTimeout(go, wait);
      t.unref(); // a tick or cleanup writes what is left
      this.scheduled = { cancel: () => clearTimeout(t) };
    } else {
      const i = setImmediate(go);
      this.scheduled = { cancel: () => clearImmediate(i) };
    }
  }

  /** Ms until the buffer is due: its linger, or its idle time when that comes first. */
  private wait(): number {
    const now = performance.now();
    const linger = this.lingerMs - (now - this.firstAt);
    return this.idleMs > 0 ? Math.min(linger, this.idleMs - (now - this.lastAt)) : linger;
  }

  /** Runs `f` after the write in flight, as part of the write chain. */
  private chain(f: () => Promise<void>): void {
    const run = (this.writing ?? Promise.resolve()).then(f).catch((e: unknown) => this.collector.reportError(e));
    this.track(run);
  }

  /** Makes `run` the operation in flight; when it ends, the next batch goes. */
  private track(run: Promise<void>): void {
    const w: Promise<void> = run.finally(() => {
      if (this.writing !== w) return;
      this.writing = null;
      if (this.rows >= this.maxBatch || this.lingerMs === 0 || this.forced) this.flush();
      else this.schedule();
    });
    this.writing = w;
  }

  /** Writes the buffer now unless a write is in flight (then it goes when that one finishes). */
  private flush(): void {
    if (this.writing || this.closed) return;
    this.forced = false;
    if (this.buffer.length === 0) return;
    this.scheduled?.cancel();
    this.scheduled = null;
    let take = 0;
    let rows = 0;
    while (take < this.items.length && (take === 0 || rows + this.size(this.items[take]!) <= this.maxBatch)) rows += this.size(this.items[take++]!);
    const tuples = this.buffer.splice(0, take);
    const items = this.items.splice(0, take);
    this.rows -= rows;
    this.firstAt = performance.now(); // what stays buffered waits from now
    const run = this.write(items).then(
      () => {
        this.counters.batches++;
        this.counters.written += rows;
        for (const t of tuples) this.collector.ack(t);
      },
      (e: unknown) => {
        this.counters.failedBatches++;
        this.collector.reportError(new Error(`a store write of ${tuples.length} tuples failed; they are failed for replay: ${errorMessage(e)}`));
        for (const t of tuples) this.collector.fail(t);
      },
    );
    this.track(run);
  }

  async cleanup(): Promise<void> {
    for (;;) {
      while (this.writing) await this.writing;
      if (this.buffer.length === 0) break;
      this.flush(); // everything left goes now, lingering or not, maxBatch at a time
    }
    this.closed = true;
    this.scheduled?.cancel();
    this.scheduled = null;
    await this.closeStore();
  }
}
