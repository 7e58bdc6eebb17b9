import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { appendFileSync } from 'node:fs';
import { Command } from 'commander';
import { compileScript, explainText } from '../sql/index.js';
import type { SqlError } from '../sql/errors.js';

/**
 * `monsoon sql [--explain] [--json] <file.cql>` checks a StreamCQL application and prints its logical
 * plan; without a file it opens an interactive shell where each `;` runs the statements typed so far
 * through the analyzer. Submitting to a running topology needs the compute runtime (not built yet).
 */
export function sqlCommand(): Command {
  return new Command('sql')
    .description('check a StreamCQL application and print its logical plan (or open a StreamCQL shell)')
    .argument('[file]', 'a .cql file')
    .option('--explain', 'print the logical plan and exit 0 when the application is valid')
    .option('--json', 'with --explain: print the plan as JSON')
    .action((file: string | undefined, o: { explain?: boolean; json?: boolean }) => {
      if (file === undefined) return shell();
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        process.stderr.write(`monsoon sql: cannot read ${file}: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const r = compileScript(text);
      for (const w of r.warnings) process.stderr.write(`${where(file, w)}: warning: ${w.detail}\n`);
      if (r.errors.length > 0) {
        for (const e of r.errors) process.stderr.write(`${where(file, e)}: error ${e.code}: ${e.detail}\n`);
        process.stderr.write(`${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; nothing of ${file} was submitted\n`);
        process.exitCode = 1;
        return;
      }
      if (o.explain) {
        process.stdout.write(o.json ? JSON.stringify(r.plan, null, 2) + '\n' : explainText(r.plan!));
        return;
      }
      process.stderr.write(`monsoon sql: ${file} is valid, but submitting applications needs the compute runtime, which is not available yet; use --explain to see the plan\n`);
      process.exitCode = 2;
    });
}

function where(file: string, e: SqlError): string {
  return e.pos ? `${file}:${e.pos.line}:${e.pos.column}` : file;
}

/** Interactive shell: statements accumulate into one application; each ';' re-checks it. */
function shell(): void {
  const history = join(homedir(), '.monsoon_sql_history');
  let past: string[] = [];
  try { past = readFileSync(history, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500); } catch { /* no history yet */ }
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'monsoon> ', history: past, historySize: 500 } as Parameters<typeof createInterface>[0]);
  const accepted: string[] = [];
  let pending = '';
  const out = (s: string) => process.stdout.write(s);
  out('StreamCQL shell. End statements with ;  EXPLAIN APPLICATION x; prints the plan; \\q quits.\n');
  rl.prompt();
  rl.on('line', (line) => {
    if (pending === '' && line.trim() === '\\q') { rl.close(); return; }
    try { if (line.trim() !== '') appendFileSync(history, line + '\n'); } catch { /* history is optional */ }
    pending += line + '\n';
    if (!/;\s*(--.*)?$/.test(line)) { rl.setPrompt('      -> '); rl.prompt(); return; }
    const candidate = [...accepted, pending].join('');
    const r = compileScript(candidate);
    if (r.errors.length > 0) {
      const offset = accepted.join('').split('\n').length - 1;
      for (const e of r.errors) out(`error ${e.code}${e.pos ? ` at ${e.pos.line - offset}:${e.pos.column}` : ''}: ${e.detail}\n`);
    } else {
      accepted.push(pending);
      for (const w of r.warnings) out(`warning: ${w.detail}\n`);
      const last = r.statements[r.statements.length - 1];
      if (last?.kind === 'explainApplication' || last?.kind === 'submitApplication') out(explainText(r.plan!));
      if (last?.kind === 'submitApplication') out('submitting needs the compute runtime, which is not available yet\n');
      if (last?.kind === 'get') out(`${last.key} = ${r.analysis!.settings.get(last.key) ?? '(not set)'}\n`);
      if (last?.kind === 'showFunctions') out([...r.analysis!.functions.values()].map((f) => `${f.name} = ${f.ref}\n`).join('') || '(no functions)\n');
      out('ok\n');
    }
    pending = '';
    rl.setPrompt('monsoon> ');
    rl.prompt();
  });
  rl.on('close', () => out('\n'));
}
