import { Command } from 'commander';
import '../collect/builtins.js';
import { registeredSpecs } from '../core/config/component.js';
import { componentReference } from '../core/config/reference.js';

/** `monsoon components` — lists the built-in components, or prints their reference as Markdown. */
export function componentsCommand(): Command {
  return new Command('components')
    .description('list the built-in collect components (sources, channels, sinks, …)')
    .option('--markdown', 'print the full property reference as Markdown (docs/COMPONENTS.md)')
    .action((o: { markdown?: boolean }) => {
      if (o.markdown) {
        process.stdout.write(componentReference());
        return;
      }
      for (const s of registeredSpecs().sort((a, b) => a.kind.localeCompare(b.kind) || a.type.localeCompare(b.type))) {
        process.stdout.write(`${s.kind.padEnd(12)} ${s.type.padEnd(16)} ${s.description}\n`);
      }
    });
}
