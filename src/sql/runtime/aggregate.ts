import type { AggSpec } from '../rexpr.js';
import { compile, type CompileOptions } from '../compile.js';

/**
 * Aggregate state for a window: rows enter with `add` and, for sliding windows, leave with `remove`.
 * NULL values are skipped (count(*) counts rows); sum/avg/max/min of no values is NULL, count is 0.
 * DISTINCT counts each value once while any copy of it is in the window. The filtered form
 * `count(x, cond)` only takes rows whose cond is TRUE.
 */

interface Acc {
  add(v: unknown): void;
  remove(v: unknown): void;
  result(): unknown;
}

class Count implements Acc {
  n = 0;
  add(): void { this.n++; }
  remove(): void { this.n--; }
  result(): unknown { return this.n; }
}

class Sum implements Acc {
  n = 0;
  sum = 0;
  constructor(private readonly avg: boolean) {}
  add(v: unknown): void { this.n++; this.sum += v as number; }
  remove(v: unknown): void { this.n--; this.sum -= v as number; }
  result(): unknown { return this.n === 0 ? null : this.avg ? this.sum / this.n : this.sum; }
}

/** max/min over a multiset, so values can leave; the extreme is recomputed only when it leaves. */
class Extreme implements Acc {
  private readonly counts = new Map<unknown, number>();
  private best: unknown = null;
  private stale = false;
  constructor(private readonly max: boolean) {}
  private better(a: unknown, b: unknown): boolean {
    return this.max ? (a as number) > (b as number) : (a as number) < (b as number);
  }
  add(v: unknown): void {
    this.counts.set(v, (this.counts.get(v) ?? 0) + 1);
    if (!this.stale && (this.best === null || this.better(v, this.best))) this.best = v;
  }
  remove(v: unknown): void {
    const c = (this.counts.get(v) ?? 0) - 1;
    if (c <= 0) {
      this.counts.delete(v);
      if (v === this.best) this.stale = true;
    } else this.counts.set(v, c);
  }
  result(): unknown {
    if (this.stale) {
      this.best = null;
      for (const k of this.counts.keys()) if (this.best === null || this.better(k, this.best)) this.best = k;
      this.stale = false;
    }
    return this.best;
  }
}

class Distinct implements Acc {
  private readonly counts = new Map<unknown, number>();
  constructor(private readonly inner: Acc) {}
  add(v: unknown): void {
    const c = this.counts.get(v) ?? 0;
    this.counts.set(v, c + 1);
    if (c === 0) this.inner.add(v);
  }
  remove(v: unknown): void {
    const c = this.counts.get(v) ?? 0;
    if (c <= 1) {
      this.counts.delete(v);
      if (c === 1) this.inner.remove(v);
    } else this.counts.set(v, c - 1);
  }
  result(): unknown { return this.inner.result(); }
}

function accumulator(spec: AggSpec): Acc {
  const base = spec.fn === 'count' ? new Count() : spec.fn === 'sum' ? new Sum(false) : spec.fn === 'avg' ? new Sum(true) : new Extreme(spec.fn === 'max');
  return spec.distinct ? new Distinct(base) : base;
}

export interface Aggregator {
  add(row: readonly unknown[]): void;
  remove(row: readonly unknown[]): void;
  results(): unknown[];
}

/** One group's aggregates; argument and filter expressions are compiled once and shared by all groups via `factory()`. */
export function aggregatorFactory(specs: AggSpec[], opts: CompileOptions): () => Aggregator {
  const exprs = specs.flatMap((s) => [s.arg ?? { k: 'lit' as const, t: 'BOOLEAN' as const, v: true }, s.filter ?? { k: 'lit' as const, t: 'BOOLEAN' as const, v: true }]);
  const ev = compile(exprs, opts);
  return () => {
    const accs = specs.map(accumulator);
    const apply = (row: readonly unknown[], add: boolean) => {
      const vals = ev.eval(row);
      for (let i = 0; i < accs.length; i++) {
        const v = vals[2 * i];
        if (v === null || vals[2 * i + 1] !== true) continue;
        if (add) accs[i]!.add(v);
        else accs[i]!.remove(v);
      }
    };
    return {
      add: (row) => apply(row, true),
      remove: (row) => apply(row, false),
      results: () => accs.map((a) => a.result()),
    };
  };
}
