import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { agentCommand } from './agent.js';
import { busCommand } from './bus.js';
import { componentsCommand } from './components.js';
import { consumeCommand } from './consume.js';
import { lagCommand } from './lag.js';
import { produceCommand } from './produce.js';
import { sqlCommand } from './sql.js';
import { storeCommand } from './store.js';
import { topicCommand } from './topic.js';
import { topologyCommand } from './topology.js';
import { workerCommand } from './worker.js';

/** `monsoon`: one CLI for every tier; each command lives in its own file. */
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('monsoon')
  .description('Monsoon — real-time data pipelines: collect, buffer, compute, store, watch, deploy.')
  .version(pkg.version, '-V, --version', 'print the version and exit')
  .showHelpAfterError();

program.addCommand(agentCommand());
program.addCommand(componentsCommand());
program.addCommand(topicCommand());
program.addCommand(produceCommand());
program.addCommand(consumeCommand());
program.addCommand(lagCommand());
program.addCommand(busCommand());
program.addCommand(topologyCommand());
program.addCommand(sqlCommand());
program.addCommand(storeCommand());
program.addCommand(workerCommand());

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`monsoon: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
