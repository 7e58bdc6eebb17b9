import type { LiteralType, SqlType } from './ast.js';

/**
 * Type rules of StreamCQL expressions. Runtime values: INT/LONG/FLOAT/DOUBLE/DECIMAL are JS numbers
 * (LONG and DECIMAL beyond 2^53 lose precision), STRING a string, BOOLEAN a boolean, TIMESTAMP epoch
 * milliseconds, DATE epoch milliseconds of a midnight in the session time zone, TIME milliseconds since
 * midnight. NULL is JS null.
 */

export type T = LiteralType;

const RANK: Partial<Record<T, number>> = { INT: 1, LONG: 2, DECIMAL: 3, FLOAT: 4, DOUBLE: 5 };

export const isNumeric = (t: T): boolean => RANK[t] !== undefined;
export const isIntegral = (t: T): boolean => t === 'INT' || t === 'LONG';
export const isTemporal = (t: T): boolean => t === 'TIMESTAMP' || t === 'DATE' || t === 'TIME';

/** The common type of two numeric operands (implicit widening INT → LONG → FLOAT → DOUBLE; DECIMAL above the integers). */
export function widen(a: T, b: T): SqlType | undefined {
  if (a === 'NULL' && b === 'NULL') return 'INT';
  if (a === 'NULL') return isNumeric(b) ? (b as SqlType) : undefined;
  if (b === 'NULL') return isNumeric(a) ? (a as SqlType) : undefined;
  if (!isNumeric(a) || !isNumeric(b)) return undefined;
  if ((a === 'DECIMAL' && (b === 'FLOAT' || b === 'DOUBLE')) || (b === 'DECIMAL' && (a === 'FLOAT' || a === 'DOUBLE'))) return 'DOUBLE';
  return (RANK[a]! >= RANK[b]! ? a : b) as SqlType;
}

/** The type both sides of a comparison, CASE branches or IN list can share. */
export function common(a: T, b: T): T | undefined {
  if (a === b) return a;
  if (a === 'NULL') return b;
  if (b === 'NULL') return a;
  const w = widen(a, b);
  if (w) return w;
  if ((a === 'DATE' && b === 'TIMESTAMP') || (a === 'TIMESTAMP' && b === 'DATE')) return 'TIMESTAMP';
  return undefined;
}

/** Whether a value of type `from` may be written into a column of type `to` without a CAST. */
export function assignable(from: T, to: SqlType): boolean {
  return from === 'NULL' || from === to || (isNumeric(from) && isNumeric(to) && widen(from, to) === to);
}
