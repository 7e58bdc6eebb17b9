import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { EMPTY, type Batch, type Op, type Out, type Row } from './batch.js';

/**
 * A user operator (`CREATE OPERATOR op AS 'module#export' INPUT (…) OUTPUT (…) PROPERTIES (…)` and
 * `INSERT INTO s USING OPERATOR op FROM t`). The export is a class or a factory; each task gets its
 * own instance, then calls `prepare(props)` once (if present) and `execute(row, emit)` for every
 * input row, rows being arrays in the INPUT column order; `emit(row)` sends a row in the OUTPUT order.
 */
export interface UserOperator {
  prepare?(props: Record<string, string>): void;
  execute(row: unknown[], emit: (row: unknown[]) => void): void;
}

export class UserOperatorOp implements Op {
  private readonly impl: UserOperator;
  private buf: Row[] = [];
  constructor(name: string, exported: unknown, props: Record<string, string>, private readonly out: Out) {
    let inst: unknown;
    if (typeof exported === 'function') {
      const f = exported as (new () => unknown) & (() => unknown);
      inst = /^class[\s{]/.test(Function.prototype.toString.call(f)) ? new f() : f();
    } else inst = exported;
    if (!inst || typeof (inst as UserOperator).execute !== 'function') {
      throw new MonsoonError(ErrorCodes.SQL_UNKNOWN_OPERATOR, `operator ${name}: its export must be a class or factory giving an object with execute(row, emit)`);
    }
    this.impl = inst as UserOperator;
    this.impl.prepare?.({ ...props });
  }
  push(b: Batch): void {
    const emit = (r: unknown[]) => { this.buf.push(r); };
    for (const r of b.ins) this.impl.execute(r, emit);
    if (this.buf.length === 0) return;
    const ins = this.buf;
    this.buf = [];
    this.out({ ins, rem: EMPTY });
  }
}
