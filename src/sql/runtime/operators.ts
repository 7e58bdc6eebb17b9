import { compile, type CompileOptions } from '../compile.js';
import type { AggSpec, RExpr } from '../rexpr.js';
import { aggregatorFactory, type Aggregator } from './aggregate.js';
import { EMPTY, type Batch, type Op, type Out, type Row } from './batch.js';
import { compareValues } from './order.js';

/**
 * The row operators of a query: filter, aggregate, ORDER BY/LIMIT, project, join, combine and the
 * pass-through of a named stream. Each takes the insert and remove rows of one update (batch.ts) and
 * passes on what follows from it, as Esper's listeners see new and old events.
 */

/** WHERE, HAVING and the stream filter before a window: keeps rows whose condition is TRUE, in both streams. */
export class FilterOp implements Op {
  private readonly ev: (row: Row) => unknown[];
  constructor(predicate: RExpr, opts: CompileOptions, private readonly out: Out) {
    this.ev = compile([predicate], opts).eval;
  }
  push(b: Batch): void {
    const ins = this.keep(b.ins);
    const rem = b.rem.length === 0 ? EMPTY : this.keep(b.rem);
    if (ins.length > 0 || rem.length > 0) this.out({ ins, rem });
  }
  private keep(rows: Row[]): Row[] {
    if (rows.length === 1) return this.ev(rows[0]!)[0] === true ? rows : EMPTY;
    const out: Row[] = [];
    for (const r of rows) if (this.ev(r)[0] === true) out.push(r);
    return out;
  }
}

/**
 * SELECT's expressions. INSERT INTO writes the insert stream only (Esper's default for insert-into),
 * so the remove stream ends here. DISTINCT drops duplicate rows within one update.
 */
export class ProjectOp implements Op {
  private readonly ev: (row: Row) => unknown[];
  constructor(exprs: RExpr[], private readonly distinct: boolean, opts: CompileOptions, private readonly out: Out) {
    this.ev = compile(exprs, opts).eval;
  }
  push(b: Batch): void {
    if (b.ins.length === 0) return;
    let ins: Row[];
    if (b.ins.length === 1) ins = [this.ev(b.ins[0]!)];
    else {
      ins = [];
      for (const r of b.ins) ins.push(this.ev(r));
    }
    if (this.distinct && ins.length > 1) {
      const seen = new Set<string>();
      ins = ins.filter((r) => {
        const k = JSON.stringify(r);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    }
    this.out({ ins, rem: EMPTY });
  }
}

interface Group {
  keys: unknown[];
  agg: Aggregator;
  n: number;
  lasts: unknown[];
}

/**
 * GROUP BY and aggregates. Rows entering a window are added, rows leaving are removed; after each
 * update one row per group the update touched is emitted ([keys…, aggregates…, lasts…]) with the new
 * values. A group is forgotten once its last row left (its final row, with count 0, is still
 * emitted). Without a window nothing leaves, so the values keep running. Without GROUP BY there is one
 * group, emitted on every update. The aggregate's own remove stream (a group's previous values) is not
 * produced: what follows an aggregate (HAVING, ORDER BY, the SELECT list) ends in INSERT INTO, which
 * writes the insert stream only.
 */
export class AggregateOp implements Op {
  private readonly groups = new Map<unknown, Group>();
  private readonly keyEval: ((row: Row) => unknown[]) | null;
  private readonly lastEval: ((row: Row) => unknown[]) | null;
  private readonly factory: () => Aggregator;
  private readonly multiKey: boolean;
  private readonly nulls: unknown[];
  constructor(groupBy: RExpr[], aggregates: AggSpec[], lasts: RExpr[], opts: CompileOptions, private readonly out: Out) {
    this.keyEval = groupBy.length > 0 ? compile(groupBy, opts).eval : null;
    this.lastEval = lasts.length > 0 ? compile(lasts, opts).eval : null;
    this.factory = aggregatorFactory(aggregates, opts);
    this.multiKey = groupBy.length > 1;
    this.nulls = lasts.map(() => null);
  }

  push(b: Batch): void {
    if (b.rem.length === 0 && b.ins.length === 1) {
      const row = b.ins[0]!;
      const g = this.group(row, true)!;
      g.agg.add(row);
      g.n++;
      if (this.lastEval) g.lasts = this.lastEval(row);
      this.out({ ins: [this.rowOf(g)], rem: EMPTY });
      return;
    }
    const touched = new Set<Group>();
    for (const row of b.rem) {
      const g = this.group(row, false);
      if (!g) continue;
      touched.add(g);
      g.agg.remove(row);
      g.n--;
    }
    for (const row of b.ins) {
      const g = this.group(row, true)!;
      touched.add(g);
      g.agg.add(row);
      g.n++;
      if (this.lastEval) g.lasts = this.lastEval(row);
    }
    if (touched.size === 0) return;
    const ins: Row[] = [];
    for (const g of touched) {
      ins.push(this.rowOf(g));
      if (g.n <= 0 && this.keyEval) this.groups.delete(this.multiKey ? JSON.stringify(g.keys) : g.keys[0]);
    }
    this.out({ ins, rem: EMPTY });
  }

  private group(row: Row, create: boolean): Group | undefined {
    const keys = this.keyEval ? this.keyEval(row) : EMPTY;
    const k = this.keyEval ? (this.multiKey ? JSON.stringify(keys) : keys[0]) : null;
    let g = this.groups.get(k);
    if (!g && create) this.groups.set(k, (g = { keys, agg: this.factory(), n: 0, lasts: this.nulls }));
    return g;
  }

  private rowOf(g: Group): Row {
    const r = g.agg.results();
    if (g.keys.length === 0 && g.lasts.length === 0) return r;
    const row = new Array<unknown>(g.keys.length + r.length + g.lasts.length);
    let i = 0;
    for (const v of g.keys) row[i++] = v;
    for (const v of r) row[i++] = v;
    for (const v of g.lasts) row[i++] = v;
    return row;
  }
}

/** ORDER BY and LIMIT over each update's insert rows (a window's output batch). */
export class OrderLimitOp implements Op {
  private readonly ev: ((row: Row) => unknown[]) | null;
  constructor(private readonly orderBy: { expr: RExpr; desc: boolean }[], private readonly limit: number | undefined, opts: CompileOptions, private readonly out: Out) {
    this.ev = orderBy.length > 0 ? compile(orderBy.map((o) => o.expr), opts).eval : null;
  }
  push(b: Batch): void {
    let ins = b.ins;
    if (this.ev && ins.length > 1) {
      const ev = this.ev;
      const desc = this.orderBy.map((o) => o.desc);
      ins = ins
        .map((r) => ({ r, k: ev(r) }))
        .sort((x, y) => {
          for (let i = 0; i < desc.length; i++) {
            const c = compareValues(x.k[i], y.k[i]);
            if (c !== 0) return desc[i] ? -c : c;
          }
          return 0;
        })
        .map((x) => x.r);
    }
    if (this.limit !== undefined && ins.length > this.limit) ins = ins.slice(0, this.limit);
    if (ins.length > 0 || b.rem.length > 0) this.out({ ins, rem: b.rem });
  }
}

/** A named stream: rows inserted into it go on to every query reading it (insert stream only). */
export class StreamOp implements Op {
  constructor(private readonly out: Out) {}
  push(b: Batch): void {
    if (b.ins.length > 0) this.out(b.rem.length === 0 ? b : { ins: b.ins, rem: EMPTY });
  }
}

/**
 * A join of two windows. Each side keeps the rows its window holds (entering rows added, leaving rows
 * removed), indexed by the ON keys; a row entering one side is joined with the other side's matching
 * rows. With UNIDIRECTION only the driving side's rows produce output (its rows are not kept). LEFT,
 * RIGHT and FULL joins emit an unmatched driving row with NULLs for the other side; rows leaving a
 * side produce the joined rows they leave as the remove stream. NULL keys never match.
 */
export class JoinOp implements Op {
  private readonly sides: [Map<unknown, Row[]>, Map<unknown, Row[]>] = [new Map(), new Map()];
  private readonly keyEval: [((row: Row) => unknown[]) | null, ((row: Row) => unknown[]) | null];
  private readonly residual: ((row: Row) => unknown[]) | null;
  private readonly widths: [number, number];
  constructor(
    private readonly type: string,
    keys: [RExpr[], RExpr[]],
    residual: RExpr | undefined,
    private readonly driver: 'both' | 'left' | 'right',
    widths: [number, number],
    opts: CompileOptions,
    private readonly out: Out,
  ) {
    this.keyEval = [keys[0].length > 0 ? compile(keys[0], opts).eval : null, keys[1].length > 0 ? compile(keys[1], opts).eval : null];
    this.residual = residual ? compile([residual], opts).eval : null;
    this.widths = widths;
  }

  private key(port: number, row: Row): unknown {
    const ev = this.keyEval[port];
    if (!ev) return null;
    const k = ev(row);
    if (k.some((v) => v === null)) return undefined;
    return k.length === 1 ? k[0] : JSON.stringify(k);
  }

  push(b: Batch, port: number): void {
    const mine = this.sides[port]!;
    const other = this.sides[1 - port]!;
    const keep = this.driver === 'both' || (this.driver === 'left' ? port === 1 : port === 0);
    const drives = this.driver === 'both' || (this.driver === 'left' ? port === 0 : port === 1);
    const outer = this.type === 'FULL' || (this.type === 'LEFT' && port === 0) || (this.type === 'RIGHT' && port === 1);
    const ins: Row[] = [];
    const rem: Row[] = [];
    for (const row of b.rem) {
      const k = this.key(port, row);
      if (k === undefined || !keep) continue;
      const list = mine.get(k);
      const i = list ? list.indexOf(row) : -1;
      if (i < 0) continue;
      list!.splice(i, 1);
      if (list!.length === 0) mine.delete(k);
      if (drives) this.match(port, row, other.get(k), outer, rem);
    }
    for (const row of b.ins) {
      const k = this.key(port, row);
      if (keep && k !== undefined) {
        const list = mine.get(k);
        if (list) list.push(row);
        else mine.set(k, [row]);
      }
      if (drives) this.match(port, row, k === undefined ? undefined : other.get(k), outer, ins);
    }
    if (ins.length > 0 || rem.length > 0) this.out({ ins, rem });
  }

  private match(port: number, row: Row, others: Row[] | undefined, outer: boolean, into: Row[]): void {
    let matched = false;
    if (others) {
      for (const o of others) {
        const joined = port === 0 ? [...row, ...o] : [...o, ...row];
        if (this.residual && this.residual(joined)[0] !== true) continue;
        matched = true;
        into.push(joined);
      }
    }
    if (!matched && outer) {
      const nulls = new Array<unknown>(this.widths[1 - port]!).fill(null);
      into.push(port === 0 ? [...row, ...nulls] : [...nulls, ...row]);
    }
  }
}

/**
 * COMBINE: rows of several streams with the same key become one row once every input has sent one
 * (the latest row of each input counts); the combined row is emitted and the key forgotten.
 */
export class CombineOp implements Op {
  private readonly pending = new Map<unknown, (Row | null)[]>();
  private readonly keyEval: ((row: Row) => unknown[])[];
  constructor(keys: RExpr[], private readonly widths: number[], opts: CompileOptions, private readonly out: Out) {
    this.keyEval = keys.map((k) => compile([k], opts).eval);
  }
  push(b: Batch, port: number): void {
    const ins: Row[] = [];
    for (const row of b.ins) {
      const k = this.keyEval[port]!(row)[0];
      if (k === null) continue;
      let slot = this.pending.get(k);
      if (!slot) this.pending.set(k, (slot = this.widths.map(() => null)));
      slot[port] = row;
      if (slot.every((r) => r !== null)) {
        ins.push((slot as Row[]).flat());
        this.pending.delete(k);
      }
    }
    if (ins.length > 0) this.out({ ins, rem: EMPTY });
  }
}
