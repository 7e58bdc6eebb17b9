import { parse } from './parser.js';
import { analyze, type Analysis } from './analyzer.js';
import { buildPlan, type LogicalPlan } from './plan.js';
import { SqlError } from './errors.js';
import type { Statement } from './ast.js';

/**
 * The StreamCQL front end in one call: parse → analyze → logical plan. A script with any error yields
 * no plan: an application is valid only as a whole.
 */
export interface Compiled {
  statements: Statement[];
  analysis?: Analysis;
  plan?: LogicalPlan;
  errors: SqlError[];
  warnings: SqlError[];
}

export function compileScript(text: string): Compiled {
  let statements: Statement[];
  try {
    statements = parse(text);
  } catch (e) {
    if (e instanceof SqlError) return { statements: [], errors: [e], warnings: [] };
    throw e;
  }
  const analysis = analyze(statements);
  const errors = [...analysis.errors].sort((x, y) => (x.pos?.offset ?? 0) - (y.pos?.offset ?? 0));
  if (errors.length > 0) return { statements, analysis, errors, warnings: analysis.warnings };
  return { statements, analysis, plan: buildPlan(analysis), errors: [], warnings: analysis.warnings };
}

export { parse } from './parser.js';
export { analyze } from './analyzer.js';
export { buildPlan, explainText } from './plan.js';
export { printScript, printStatement, printExpr } from './printer.js';
export { compile, compileOne } from './compile.js';
export { SqlError } from './errors.js';
