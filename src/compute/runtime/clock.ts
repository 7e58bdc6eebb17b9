/**
 * Time for the runtime: `now()` in milliseconds (monotonic, fractional) and timers. The system clock
 * uses performance.now() and Node's timers; the simulated clock moves only when a test advances it,
 * running due timers in order, so tick tuples and message timeouts are deterministic in tests.
 */
export type Cancel = () => void;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Cancel;
  setInterval(fn: () => void, ms: number): Cancel;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return () => clearInterval(t);
  },
};

interface SimTimer {
  due: number;
  every: number;
  fn: () => void;
  seq: number;
  cancelled: boolean;
}

export class SimClock implements Clock {
  private t: number;
  private timers: SimTimer[] = [];
  private seq = 0;
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): Cancel {
    return this.add(fn, ms, 0);
  }
  setInterval(fn: () => void, ms: number): Cancel {
    return this.add(fn, ms, Math.max(1, ms));
  }
  private add(fn: () => void, ms: number, every: number): Cancel {
    const timer: SimTimer = { due: this.t + Math.max(0, ms), every, fn, seq: this.seq++, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }
  /** Moves time forward by `ms`, running every timer that falls due, in time order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      let next: SimTimer | undefined;
      for (const x of this.timers) if (x.due <= target && (!next || x.due < next.due || (x.due === next.due && x.seq < next.seq))) next = x;
      if (!next) break;
      this.t = Math.max(this.t, next.due);
      if (next.every > 0) {
        next.due += next.every;
        next.seq = this.seq++;
      } else next.cancelled = true;
      next.fn();
    }
    this.t = target;
  }
}
