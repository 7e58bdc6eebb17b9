/**
 * One task's windows, without I/O: tuples go in with a timestamp, windows come out through `fire`,
 * and tuples that no future window can contain come out through `expire` (the executor acks them).
 *
 * - Count windows (processing or event time): every `slide` tuples the last `length` tuples fire.
 *   In event time tuples first wait, ordered by timestamp, until the watermark passes them, so the
 *   count windows see them in event-time order.
 * - Duration windows, processing time: every `slide` ms of the runtime clock, the tuples that
 *   arrived in (now − length, now] fire; older ones expire at that evaluation (so a tuple is acked
 *   at most length + slide after it arrived — Storm's timeout rule).
 * - Duration windows, event time: windows end at multiples of `slide` (aligned to the epoch) and
 *   cover (end − length, end]; each one fires once the watermark reaches its end, in order; empty
 *   stretches are skipped.
 *
 * Empty windows with nothing expired do not fire (Storm skips them too).
 */
import type { Tuple } from '../tuple.js';
import type { TupleWindow } from './bolt.js';
import type { WindowSpec } from './config.js';

interface Ev {
  t: Tuple;
  ts: number;
  seen: boolean;
}

export class Window implements TupleWindow {
  constructor(
    private readonly all: Tuple[],
    private readonly fresh: Tuple[],
    private readonly gone: Tuple[],
    private readonly start: number | null,
    private readonly end: number,
  ) {}
  get(): Tuple[] {
    return this.all;
  }
  getNew(): Tuple[] {
    return this.fresh;
  }
  getExpired(): Tuple[] {
    return this.gone;
  }
  getStartTimestamp(): number | null {
    return this.start;
  }
  getEndTimestamp(): number {
    return this.end;
  }
}

export interface WindowListener {
  fire(w: Window): void;
  expire(tuples: Tuple[]): void;
}

export class WindowManager {
  /** Tuples in (or waiting for) a window, oldest first. */
  private buf: Ev[] = [];
  /** Event time, count windows: tuples waiting for the watermark, ordered by timestamp. */
  private waiting: Ev[] = [];
  /** Tuples that expired since the last evaluation, reported as getExpired() at the next one. */
  private expiredSince: Tuple[] = [];
  private sinceFire = 0;
  private lastEnd = -Infinity;
  /** Evaluations run. */
  windows = 0;

  constructor(private readonly spec: WindowSpec, private readonly out: WindowListener) {}

  /** Processing time: the windows start at `now` (a tuple arriving then is in the first window). */
  startAt(now: number): void {
    if (!this.spec.eventTime && !this.spec.byCount) this.lastEnd = now;
  }

  /** Tuples held (in windows and waiting for the watermark). */
  held(): number {
    return this.buf.length + this.waiting.length;
  }

  /** Adds a tuple; count windows in processing time may fire from here. */
  add(t: Tuple, ts: number, now: number): void {
    const ev: Ev = { t, ts, seen: false };
    const s = this.spec;
    if (!s.eventTime) {
      // a tuple arriving at the instant of an evaluation, after it ran, belongs to the next window
      if (!s.byCount && ev.ts <= this.lastEnd) ev.ts = this.lastEnd + 1e-6;
      this.buf.push(ev);
      if (s.byCount) this.counted(now);
      return;
    }
    insertByTs(s.byCount ? this.waiting : this.buf, ev);
  }

  /** Processing-time duration windows: the slide timer fired at `now`. */
  onTimer(now: number): void {
    const s = this.spec;
    const cut = now - s.lengthMs;
    let i = 0;
    while (i < this.buf.length && this.buf[i]!.ts <= cut) i++;
    if (i > 0) this.expireFirst(i);
    this.lastEnd = now;
    this.evaluate(this.buf, now - s.lengthMs, now);
  }

  /** Event time: the watermark moved to `wm`; fires every window that ends at or before it. */
  onWatermark(wm: number): void {
    const s = this.spec;
    if (s.byCount) {
      let i = 0;
      while (i < this.waiting.length && this.waiting[i]!.ts <= wm) i++;
      if (i === 0) return;
      const ready = this.waiting.splice(0, i);
      for (const ev of ready) {
        this.buf.push(ev);
        this.counted(wm);
      }
      return;
    }
    const L = s.lengthMs;
    const S = s.slideMs;
    for (;;) {
      if (this.buf.length === 0) return;
      const aligned = Math.ceil(this.buf[0]!.ts / S) * S;
      const end = this.lastEnd === -Infinity ? aligned : Math.max(this.lastEnd + S, aligned);
      if (end > wm) return;
      let i = 0;
      while (i < this.buf.length && this.buf[i]!.ts <= end - L) i++;
      if (i > 0) this.expireFirst(i);
      let j = 0;
      while (j < this.buf.length && this.buf[j]!.ts <= end) j++;
      this.evaluate(this.buf.slice(0, j), end - L, end);
      this.lastEnd = end;
      // tuples no later window can hold (ts ≤ next end − length) leave now
      let k = 0;
      while (k < this.buf.length && this.buf[k]!.ts <= end + S - L) k++;
      if (k > 0) this.expireFirst(k);
    }
  }

  private counted(end: number): void {
    const s = this.spec;
    if (++this.sinceFire < s.slideCount) return;
    this.sinceFire = 0;
    const from = Math.max(0, this.buf.length - s.lengthCount);
    if (from > 0) this.expireFirst(from);
    this.evaluate(this.buf, null, end);
    // only the newest length − slide tuples can be in the next window
    const keep = Math.max(0, s.lengthCount - s.slideCount);
    if (this.buf.length > keep) this.expireFirst(this.buf.length - keep);
  }

  private evaluate(evs: Ev[], start: number | null, end: number): void {
    const expired = this.expiredSince;
    if (evs.length === 0 && expired.length === 0) return;
    this.expiredSince = [];
    const all: Tuple[] = new Array<Tuple>(evs.length);
    const fresh: Tuple[] = [];
    for (let i = 0; i < evs.length; i++) {
      const ev = evs[i]!;
      all[i] = ev.t;
      if (!ev.seen) {
        fresh.push(ev.t);
        ev.seen = true;
      }
    }
    this.windows++;
    this.out.fire(new Window(all, fresh, expired, start, end));
  }

  private expireFirst(n: number): void {
    const gone = this.buf.splice(0, n);
    const tuples = gone.map((e) => e.t);
    for (const t of tuples) this.expiredSince.push(t);
    this.out.expire(tuples);
  }

  /** Every tuple held, for failing them when the task stops. */
  drain(): Tuple[] {
    const out = [...this.buf, ...this.waiting].map((e) => e.t);
    this.buf = [];
    this.waiting = [];
    return out;
  }
}

function insertByTs(list: Ev[], ev: Ev): void {
  if (list.length === 0 || list[list.length - 1]!.ts <= ev.ts) {
    list.push(ev);
    return;
  }
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.ts <= ev.ts) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, ev);
}
