/**
 * The event-time watermark of one windowed bolt task: the minimum, over its input tasks, of the
 * largest event time each has sent, minus the allowed lag. It only moves forward.
 *
 * Idle inputs: an input task that has sent nothing for `idleInputMs` (runtime clock) stops holding
 * the watermark back — otherwise one quiet partition would stall every window. An input that has
 * never sent anything holds the watermark until it has been idle that long since the task started.
 * When every input is idle, the watermark moves to the newest event time seen minus the lag, so the
 * last windows of a finished stream fire. A quiet input that resumes with older event times finds its
 * tuples behind the watermark: they are late.
 */
export class WatermarkTracker {
  private readonly maxTs = new Map<number, number>();
  private readonly lastSeen = new Map<number, number>();
  /** The current watermark; -Infinity until one is known. */
  watermark = -Infinity;

  constructor(
    private readonly inputs: readonly number[],
    private readonly lagMs: number,
    private readonly idleMs: number,
    private readonly startedAt: number,
  ) {}

  /** Records a tuple's event time from `task`, received at `now`. */
  track(task: number, ts: number, now: number): void {
    const m = this.maxTs.get(task);
    if (m === undefined || ts > m) this.maxTs.set(task, ts);
    this.lastSeen.set(task, now);
  }

  /** True when `ts` is at or behind the watermark (its windows may have fired already). */
  isLate(ts: number): boolean {
    return ts <= this.watermark;
  }

  /** Recomputes the watermark at `now`; returns it when it moved forward, else null. */
  compute(now: number): number | null {
    let min = Infinity;
    let newest = -Infinity;
    let active = 0;
    for (const task of this.inputs) {
      const seen = this.lastSeen.get(task);
      const idle = now - (seen ?? this.startedAt) >= this.idleMs;
      const m = this.maxTs.get(task);
      if (m !== undefined && m > newest) newest = m;
      if (idle) continue;
      if (m === undefined) return null; // a live input that has not spoken yet holds everything
      active++;
      if (m < min) min = m;
    }
    let wm: number;
    if (active > 0) wm = min - this.lagMs;
    else if (newest > -Infinity) wm = newest - this.lagMs;
    else return null;
    if (wm <= this.watermark) return null;
    this.watermark = wm;
    return wm;
  }
}
