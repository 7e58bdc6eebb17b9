import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/**
 * Monsoon's package.json: the nearest one named `monsoon` above this module, wherever the build put
 * it (dist/src/cli/program.js, the agent's bundle or one of its chunks).
 */
function ownPackage(): { version: string } {
  for (let up = new URL('./', import.meta.url); ; ) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', up), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'monsoon') return pkg;
    } catch {
      // not here: look one directory up
    }
    const parent = new URL('../', up);
    if (parent.href === up.href) throw new Error(`cannot find Monsoon's package.json above ${import.meta.url}`);
    up = parent;
  }
}

/** The `monsoon` program without its commands, and how it runs: shared by the full CLI (main.ts) and the agent's own entry (agent-main.ts). */
export function monsoonProgram(): Command {
  const pkg = ownPackage();
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
