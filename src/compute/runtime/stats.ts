/**
 * Per-task statistics with Storm UI's meanings. Hot paths bump plain numbers on the task's own
 * object; nothing is sampled in a loop:
 *
 * - emitted: tuples emitted (per stream); transferred: tuples delivered to tasks (emitted × targets)
 * - acked / failed: on a spout, completed / failed trees; on a bolt, ack / fail calls
 * - executed, execute latency: busy time of the executor's batches divided over the tuples they ran
 * - process latency: from taking a tuple to acking it, measured on a sample (topology.stats.sample.rate)
 * - complete latency (spouts): from emit to the spout learning the tree completed, with a histogram for p99
 * - capacity: busy time / wall time over the last 10 minutes (1.0 = the executor never rests)
 */
export class LatencyHistogram {
  /** Buckets of ~9% width from 1 µs: bucket i covers [1.09^i, 1.09^(i+1)) µs. */
  private readonly counts = new Float64Array(256);
  total = 0;
  add(ms: number): void {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(255, Math.floor(Math.log(us) / LOG_STEP));
    this.counts[i]!++;
    this.total++;
  }
  merge(o: LatencyHistogram): void {
    for (let i = 0; i < 256; i++) this.counts[i]! += o.counts[i]!;
    this.total += o.total;
  }
  /** The q-quantile in ms (upper edge of its bucket); 0 when empty. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const want = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < 256; i++) {
      seen += this.counts[i]!;
      if (seen >= want) return Math.exp((i + 1) * LOG_STEP) / 1000;
    }
    return Math.exp(256 * LOG_STEP) / 1000;
  }
}
const LOG_STEP = Math.log(1.09);

export class TaskStats {
  /** Emitted per output stream, by the stream's index in the component's declaration. */
  readonly emitted: number[];
  transferred = 0;
  acked = 0;
  failed = 0;
  executed = 0;
  busyMs = 0;
  procLatencySum = 0;
  procLatencyCount = 0;
  completeLatencySum = 0;
  completeCount = 0;
  readonly completeHist = new LatencyHistogram();
  errors = 0;
  lastError: { time: number; error: string } | null = null;
  /** busyMs samples for capacity: [wallMs, busyMs] once a minute, last 11 kept. */
  readonly busySamples: [number, number][] = [];
  constructor(streams: number, readonly startedAt: number) {
    this.emitted = new Array<number>(streams).fill(0);
  }
  sampleBusy(now: number): void {
    this.busySamples.push([now, this.busyMs]);
    if (this.busySamples.length > 11) this.busySamples.shift();
  }
  capacity(now: number): number {
    const [t0, b0] = this.busySamples[0] ?? [this.startedAt, 0];
    const wall = now - t0;
    return wall > 0 ? Math.min(1, (this.busyMs - b0) / wall) : 0;
  }
  totalEmitted(): number {
    let n = 0;
    for (const e of this.emitted) n += e;
    return n;
  }
}
