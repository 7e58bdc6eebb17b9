import { agentCommand } from './agent.js';
import { monsoonProgram, runProgram } from './program.js';

/**
 * `monsoon agent` on its own: the same program as main.ts with only the agent command. The build
 * bundles this entry with the libraries it loads at start (scripts/bundle.mjs) into one file,
 * agent.bundle.js, which bin/monsoon.js runs for `monsoon agent`: an agent then starts from one
 * file instead of a few hundred modules (the agent runs on every log server and restarts with it).
 */
const program = monsoonProgram();
program.addCommand(agentCommand());
runProgram(program);
