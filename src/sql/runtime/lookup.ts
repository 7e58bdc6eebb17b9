import pg from 'pg';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { compile, type CompileOptions } from '../compile.js';
import type { Column, RExpr } from '../rexpr.js';
import { EMPTY, type Batch, type Op, type OpContext, type Out, type Row } from './batch.js';
import { castFn } from './cast.js';

/**
 * DATASOURCE RDBDataSource lookups: `FROM s, DATASOURCE d [SCHEMA (…), QUERY ('select … where x = ?', s.x)]`.
 * Each insert row's arguments are bound to the query's `?` placeholders (as $1, $2, … — never spliced
 * into the text); each result row joined to the input row is emitted (no result: no row, as an inner
 * join). Results are cached per argument list (cacheSize entries, cacheTtl seconds). A cache hit is
 * answered at once; a miss runs the query on a small pool and holds the input's ack until the rows are
 * emitted, on the task's next tick — so the rows of misses come out in completion order, at most one
 * tick period late, and max.spout.pending bounds the queries in flight.
 */
export class LookupOp implements Op {
  private readonly pool: pg.Pool;
  private readonly args: (row: Row) => unknown[];
  private readonly cache = new Map<string, { rows: Row[]; at: number }>();
  private readonly ready: { row: Row; rows: Row[]; release: () => void }[] = [];
  private readonly text: string;
  private readonly conv: ((v: unknown) => unknown)[];
  private readonly cacheSize: number;
  private readonly ttlMs: number;

  constructor(
    private readonly name: string,
    props: Record<string, string>,
    query: string,
    args: RExpr[],
    private readonly columns: Column[],
    opts: CompileOptions,
    private readonly ctx: OpContext,
    private readonly out: Out,
  ) {
    const p = Object.fromEntries(Object.entries(props).map(([k, v]) => [k.toLowerCase(), v]));
    const cfg: pg.PoolConfig = { connectionString: p.url!, max: 4 };
    if (p.username) cfg.user = p.username;
    if (p.password) cfg.password = p.password;
    this.pool = new pg.Pool(cfg);
    this.pool.on('error', (e) => ctx.report(e));
    this.args = compile(args, opts).eval;
    let i = 0;
    this.text = query.replace(/'(?:[^']|'')*'|\?/g, (m) => (m === '?' ? `$${++i}` : m));
    if (i !== args.length) throw new MonsoonError(ErrorCodes.SQL_BAD_PROPERTY, `datasource ${name}: the query has ${i} ? placeholders but ${args.length} arguments`);
    this.conv = columns.map((c) => castFn('STRING', c.type, opts.tz));
    this.cacheSize = Number(p.cachesize ?? 1000);
    this.ttlMs = Number(p.cachettl ?? 60) * 1000;
  }

  static readonly TICK_SECS = 0.05;

  push(b: Batch): void {
    const now = Date.now();
    const ins: Row[] = [];
    for (const row of b.ins) {
      const a = this.args(row);
      const key = JSON.stringify(a);
      const hit = this.cache.get(key);
      if (hit && now - hit.at < this.ttlMs) {
        for (const r of hit.rows) ins.push([...row, ...r]);
        continue;
      }
      const release = this.ctx.hold();
      this.pool.query(this.text, a).then(
        (res) => {
          const rows = res.rows.map((o: Record<string, unknown>) => this.columns.map((c, i) => this.value(o[c.name] ?? o[c.name.toLowerCase()] ?? null, i)));
          if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
          this.cache.set(key, { rows, at: Date.now() });
          this.ready.push({ row, rows, release });
        },
        (e: Error) => {
          this.ctx.report(new MonsoonError(ErrorCodes.SQL_RUNTIME, `datasource ${this.name}: query failed: ${e.message}`));
          this.ready.push({ row, rows: [], release });
        },
      );
    }
    if (ins.length > 0) this.out({ ins, rem: EMPTY });
  }

  tick(): void {
    if (this.ready.length === 0) return;
    const done = this.ready.splice(0);
    const ins: Row[] = [];
    for (const d of done) for (const r of d.rows) ins.push([...d.row, ...r]);
    if (ins.length > 0) this.out({ ins, rem: EMPTY });
    for (const d of done) d.release();
  }

  private value(v: unknown, i: number): unknown {
    if (v === null) return null;
    if (v instanceof Date) return v.getTime();
    if (typeof v === 'string') return this.conv[i]!(v);
    if (typeof v === 'number' && this.columns[i]!.type === 'INT') return v | 0;
    if (typeof v === 'object') return JSON.stringify(v);
    return v;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
