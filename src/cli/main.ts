import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/**
 * `monsoon`: one CLI for every tier; each command lives in its own file. A command's module (and
 * everything it pulls in: the SQL parser, the store clients, every collect component) is loaded
 * only when that command runs, so that `monsoon agent` starts without compiling the rest; help and
 * unknown commands load them all, in this order.
 */
const COMMANDS: ReadonlyArray<[string, () => Promise<Command>]> = [
  ['agent', async () => (await import('./agent.js')).agentCommand()],
  ['components', async () => (await import('./components.js')).componentsCommand()],
  ['topic', async () => (await import('./topic.js')).topicCommand()],
  ['produce', async () => (await import('./produce.js')).produceCommand()],
  ['consume', async () => (await import('./consume.js')).consumeCommand()],
  ['lag', async () => (await import('./lag.js')).lagCommand()],
  ['bus', async () => (await import('./bus.js')).busCommand()],
  ['topology', async () => (await import('./topology.js')).topologyCommand()],
  ['sql', async () => (await import('./sql.js')).sqlCommand()],
  ['store', async () => (await import('./store.js')).storeCommand()],
  ['worker', async () => (await import('./worker.js')).workerCommand()],
  ['server', async () => (await import('./server.js')).serverCommand()],
  ['demo', async () => (await import('./demo.js')).demoCommand()],
];

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('monsoon')
  .description('Monsoon — real-time data pipelines: collect, buffer, compute, store, watch, deploy.')
  .version(pkg.version, '-V, --version', 'print the version and exit')
  .showHelpAfterError();

const wanted = process.argv[2];
const only = COMMANDS.find(([name]) => name === wanted);
for (const [, make] of only ? [only] : COMMANDS) program.addCommand(await make());

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`monsoon: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
