import type { SqlType } from './ast.js';
import type { T } from './types.js';

/**
 * Resolved, typed expressions: what the analyzer hands to the expression compiler and the plan.
 * Columns are indexes into the operator's input row; every node carries its result type.
 */
export type RExpr =
  | { k: 'lit'; t: T; v: number | string | boolean | null }
  | { k: 'col'; t: T; i: number; name: string }
  | { k: 'op'; t: T; op: OpName; args: RExpr[] }
  | { k: 'fn'; t: T; name: string; args: RExpr[] }
  | { k: 'udf'; t: T; name: string; ref: string; args: RExpr[] }
  | { k: 'cast'; t: SqlType; from: T; arg: RExpr }
  | { k: 'case'; t: T; operand?: RExpr; whens: { when: RExpr; then: RExpr }[]; else?: RExpr }
  | { k: 'prev'; t: T; n: number; arg: RExpr };

export type OpName =
  | 'and' | 'or' | 'not' | 'neg' | 'bitnot' | 'isnull' | 'isnotnull'
  | '=' | '<=>' | '<>' | '<' | '<=' | '>' | '>='
  | '+' | '-' | '*' | '/' | '%' | 'div' | '||' | '|' | '&' | '^'
  | 'between' | 'in' | 'like' | 'rlike';

/** One aggregate of a GROUP BY (or whole-window) aggregation, over the operator's input row. */
export interface AggSpec {
  fn: 'count' | 'sum' | 'avg' | 'max' | 'min';
  distinct: boolean;
  /** Absent for count(*). */
  arg?: RExpr;
  /** The filtered form `count(x, cond)`: only rows where cond is TRUE count. */
  filter?: RExpr;
  t: SqlType;
  sql: string;
}

export interface Column {
  name: string;
  type: SqlType;
}
