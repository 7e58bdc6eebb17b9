import { Command } from 'commander';
import { monsoonProgram, runProgram } from './program.js';

/**
 * `monsoon`: one CLI for every tier; each command lives in its own file. A command's module (and
 * everything it pulls in: the SQL parser, the store clients, every collect component) is loaded
 * only when that command runs, so that `monsoon agent` starts without compiling the rest; help and
 * unknown commands load them all, in this order. `monsoon agent` usually does not come through here
 * at all: bin/monsoon.js starts it from its bundle (agent-main.ts, scripts/bundle.mjs).
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

const program = monsoonProgram();
const wanted = process.argv[2];
const only = COMMANDS.find(([name]) => name === wanted);
for (const [, make] of only ? [only] : COMMANDS) program.addCommand(await make());
runProgram(program);
