import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/**
 * The `monsoon` program without its commands, and how it runs: shared by the full CLI (main.ts) and
 * the agent's own entry (agent-main.ts). Both live in this directory, as does the agent's bundle,
 * so the package file is found at the same relative place from each.
 */
export function monsoonProgram(): Command {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return new Command('monsoon')
    .description('Monsoon — real-time data pipelines: collect, buffer, compute, store, watch, deploy.')
    .version(pkg.version, '-V, --version', 'print the version and exit')
    .showHelpAfterError();
}

export function runProgram(program: Command): void {
  program.parseAsync(process.argv).catch((e: unknown) => {
    process.stderr.write(`monsoon: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
