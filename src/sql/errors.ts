import { MonsoonError, type ErrorCode } from '../core/errors.js';
import type { Pos } from './ast.js';

/** A syntax or semantic error in StreamCQL text, with its position (1-based line and column). */
export class SqlError extends MonsoonError {
  readonly pos: Pos | undefined;
  readonly detail: string;
  constructor(code: ErrorCode, message: string, pos?: Pos) {
    super(code, pos ? `${pos.line}:${pos.column}: ${message}` : message);
    this.name = 'SqlError';
    this.pos = pos;
    this.detail = message;
  }
}

/** Several errors of one script: an application is valid only as a whole. */
export class SqlErrors extends Error {
  constructor(readonly errors: SqlError[]) {
    super(errors.map((e) => `${e.code} ${e.message}`).join('\n'));
    this.name = 'SqlErrors';
  }
}
