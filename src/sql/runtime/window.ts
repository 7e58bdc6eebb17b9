import type { RWindow } from '../analysis.js';
import { compile, type CompileOptions } from '../compile.js';
import { EMPTY, type Batch, type Op, type OpContext, type Out, type Row } from './batch.js';
import { compareValues } from './order.js';
import { startOfDay } from './time.js';

/**
 * StreamCQL windows with Esper's insert/remove streams. Every update the window makes is one batch:
 * the rows entering (`ins`) and the rows leaving (`rem`).
 *
 * - `ROWS n SLIDE`: each row enters; the oldest leaves once more than n are held.
 *   With `SORT BY e` the window keeps the n rows with the smallest e and the largest leaves.
 * - `ROWS n BATCH`: every n rows enter together; the previous n leave at the same moment.
 * - `RANGE d SLIDE`: a row leaves d after its time. `RANGE d BATCH`: rows are collected in intervals
 *   [k·d, (k+1)·d) and released together at the interval's end, when the previous interval's rows leave.
 *   Time is the runtime clock (simulated in tests) at arrival, checked on every row and on the
 *   task's ticks; with `TRIGGER BY ts` it is the row's ts column, and time advances with a watermark:
 *   the minimum over the producing tasks of the largest ts each has sent (a task counts once it has
 *   sent a row). Late rows (older than the watermark) enter as if they were on time.
 * - `RANGE UNBOUNDED`: rows enter and never leave (nothing is held: the window only passes inserts on).
 * - `RANGE TODAY ts`: rows of the calendar day of ts (session time zone); the first row of a later day
 *   removes every row of the earlier days; a row of an earlier day than the current one is dropped.
 * - `PARTITION BY e, …`: one window per value of the keys.
 * - `SORT BY e` also orders the rows a batch window releases.
 * - `EXCLUDE NOW` (sliding windows): a row enters the window only when the next row arrives, so the
 *   update caused by a row reflects the rows before it.
 */

interface Part {
  rows: Row[];
  times: number[];
  head: number;
  cur: Row[];
  prev: Row[];
  end: number;
  day: number;
  held: Row | null;
  heldTime: number;
}

const newPart = (): Part => ({ rows: [], times: [], head: 0, cur: [], prev: [], end: NaN, day: -Infinity, held: null, heldTime: 0 });

export class WindowOp implements Op {
  private readonly parts = new Map<unknown, Part>();
  private readonly partKey: ((row: Row) => unknown) | null;
  private readonly sortKey: ((row: Row) => unknown) | null;
  private readonly eventTime: ((row: Row) => unknown) | null;
  private readonly today: ((row: Row) => unknown) | null;
  private readonly maxBySrc = new Map<number, number>();
  private watermark = -Infinity;
  private readonly timed: boolean;

  constructor(private readonly w: RWindow, private readonly opts: CompileOptions, private readonly ctx: OpContext, private readonly out: Out) {
    this.partKey = keyFn(w.partitionBy, opts);
    this.sortKey = w.sortBy ? one(w.sortBy, opts) : null;
    this.eventTime = w.triggerBy ? one(w.triggerBy, opts) : null;
    this.today = w.today ? one(w.today, opts) : null;
    this.timed = w.kind === 'range' && !this.eventTime;
  }

  /** Whether the task must deliver clock ticks (processing-time RANGE windows). */
  static needsTicks(w: RWindow): boolean {
    return w.kind === 'range' && !w.triggerBy;
  }

  push(b: Batch, _port: number, src: number): void {
    const rows = b.ins;
    if (rows.length === 0) return;
    const w = this.w;
    if (w.kind === 'unbounded') {
      this.out({ ins: this.sortKey ? this.sorted(rows) : rows, rem: EMPTY });
      return;
    }
    const ins: Row[] = [];
    const rem: Row[] = [];
    for (const row of rows) {
      let t = 0;
      if (this.eventTime) {
        const v = this.eventTime(row);
        t = typeof v === 'number' ? v : this.watermark;
        const m = this.maxBySrc.get(src);
        if (m === undefined || t > m) {
          this.maxBySrc.set(src, t);
          let min = Infinity;
          for (const x of this.maxBySrc.values()) if (x < min) min = x;
          if (min > this.watermark) {
            this.watermark = min;
            if (w.kind === 'range') this.advance(min, ins, rem);
          }
        }
      } else if (this.timed) t = this.ctx.now();
      const key = this.partKey ? this.partKey(row) : null;
      let p = this.parts.get(key);
      if (!p) this.parts.set(key, (p = newPart()));
      if (this.timed && w.kind === 'range') this.expire(p, t, ins, rem);
      if (w.excludeNow && w.mode === 'SLIDE') {
        const held = p.held;
        const heldTime = p.heldTime;
        p.held = row;
        p.heldTime = t;
        if (held !== null) this.enter(p, held, heldTime, ins, rem);
      } else this.enter(p, row, t, ins, rem);
    }
    if (ins.length > 0 || rem.length > 0) this.out({ ins, rem });
  }

  tick(now: number): void {
    if (!this.timed) return;
    const ins: Row[] = [];
    const rem: Row[] = [];
    this.advance(now, ins, rem);
    if (ins.length > 0 || rem.length > 0) this.out({ ins, rem });
  }

  /** Time moved to `now`: expire sliding rows, close batch intervals. */
  private advance(now: number, ins: Row[], rem: Row[]): void {
    for (const [k, p] of this.parts) {
      this.expire(p, now, ins, rem);
      if (this.w.mode === 'SLIDE' && p.head >= p.rows.length && p.held === null) this.parts.delete(k);
    }
  }

  private expire(p: Part, now: number, ins: Row[], rem: Row[]): void {
    const d = this.w.ms!;
    if (this.w.mode === 'SLIDE') {
      while (p.head < p.rows.length && p.times[p.head]! + d <= now) {
        rem.push(p.rows[p.head]!);
        p.head++;
      }
      compact(p);
      return;
    }
    while (!Number.isNaN(p.end) && now >= p.end) {
      if (p.cur.length > 0 || p.prev.length > 0) {
        for (const r of p.prev) rem.push(r);
        for (const r of this.sortKey ? this.sorted(p.cur) : p.cur) ins.push(r);
      }
      p.prev = p.cur;
      p.cur = [];
      p.end = p.prev.length === 0 ? NaN : p.end + d;
    }
  }

  private enter(p: Part, row: Row, t: number, ins: Row[], rem: Row[]): void {
    const w = this.w;
    if (w.kind === 'today') {
      const v = this.today!(row);
      if (typeof v !== 'number') return;
      const day = startOfDay(v, this.opts.tz);
      if (day < p.day) return;
      if (day > p.day) {
        for (let i = p.head; i < p.rows.length; i++) rem.push(p.rows[i]!);
        p.rows = [];
        p.head = 0;
        p.day = day;
      }
      p.rows.push(row);
      ins.push(row);
      return;
    }
    if (w.mode === 'BATCH') {
      if (w.kind === 'rows') {
        p.cur.push(row);
        if (p.cur.length >= w.count!) {
          for (const r of p.prev) rem.push(r);
          for (const r of this.sortKey ? this.sorted(p.cur) : p.cur) ins.push(r);
          p.prev = p.cur;
          p.cur = [];
        }
        return;
      }
      if (Number.isNaN(p.end)) p.end = (Math.floor(Math.max(t, this.eventTime ? this.watermark : t) / w.ms!) + 1) * w.ms!;
      p.cur.push(row);
      return;
    }
    // SLIDE
    ins.push(row);
    if (w.kind === 'rows' && this.sortKey) {
      const k = this.sortKey(row);
      const live = p.rows;
      let lo = 0;
      let hi = live.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareValues(this.sortKey(live[mid]!), k) <= 0) lo = mid + 1;
        else hi = mid;
      }
      live.splice(lo, 0, row);
      if (live.length > w.count!) rem.push(live.pop()!);
      return;
    }
    p.rows.push(row);
    p.times.push(t);
    if (w.kind === 'rows' && p.rows.length - p.head > w.count!) {
      rem.push(p.rows[p.head]!);
      p.head++;
      compact(p);
    }
    if (w.kind === 'range' && this.eventTime) this.expire(p, this.watermark, ins, rem);
  }

  private sorted(rows: Row[]): Row[] {
    const k = this.sortKey!;
    return rows.map((r) => [k(r), r] as const).sort((a, b) => compareValues(a[0], b[0])).map((x) => x[1]);
  }
}

function compact(p: Part): void {
  if (p.head > 1024 && p.head * 2 > p.rows.length) {
    p.rows = p.rows.slice(p.head);
    p.times = p.times.slice(p.head);
    p.head = 0;
  }
}

function one(e: NonNullable<RWindow['sortBy']>, opts: CompileOptions): (row: Row) => unknown {
  const ev = compile([e], opts);
  return (row) => ev.eval(row)[0];
}

/** A partition or grouping key as one Map key: the value itself for one key, a JSON text for several. */
export function keyFn(exprs: RWindow['partitionBy'], opts: CompileOptions): ((row: Row) => unknown) | null {
  if (!exprs || exprs.length === 0) return null;
  const ev = compile(exprs, opts);
  if (exprs.length === 1) return (row) => ev.eval(row)[0];
  return (row) => JSON.stringify(ev.eval(row));
}
