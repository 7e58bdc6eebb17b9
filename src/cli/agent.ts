import { hostname, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { Command, Option } from 'commander';
import { errorMessage, MonsoonError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import '../collect/builtins.js';
import { Agent } from '../collect/agent.js';
import { loadConfigFile } from '../collect/config/load.js';
import { describePlan, planAgent, type PlanResult } from '../collect/config/plan.js';
import { startMonitor } from '../collect/monitor.js';

/** How often a changed configuration that failed to apply is tried again (Flume's supervisor: 3 s). */
const RELOAD_RETRY_MS = 3000;

/** `monsoon agent -n a1 -f conf` — runs one named agent from a Flume properties (or YAML) file. */
export function agentCommand(): Command {
  return new Command('agent')
    .description('run one named agent from a Flume properties file or its YAML equivalent')
    .requiredOption('-n, --name <name>', 'the agent name, as in a1.sources = …')
    .requiredOption('-f, --conf-file <file>', 'the agent configuration (.properties, .conf or .yaml)')
    .option('--check', 'validate, print the resolved pipeline and exit (0 when valid)')
    .option('-c, --conf <dir>', 'accepted for flume-ng compatibility; not used')
    .option('--data-dir <dir>', 'where the agent keeps state without a configured location (default ~/.monsoon/agents/<name>)')
    .option('--agent-id <id>', 'stable agent id used in event identities (default <hostname>/<name>)')
    .option('--monitor-port <port>', 'serve metrics over HTTP: Flume JSON at /metrics, Prometheus at /prometheus')
    .option('--monitor-host <host>', 'address for the metrics endpoint', '127.0.0.1')
    .option('--stuck-after <seconds>', 'flag a component with waiting input and no progress after this long', '60')
    .option('--no-reload', 'do not re-read the configuration file when it changes')
    .addOption(new Option('-D, --define <key=value...>', 'flume-ng style properties: flume.monitoring.type=http, flume.monitoring.port=N'))
    .action(async (o: AgentCliOptions) => runAgent(o));
}

interface AgentCliOptions {
  name: string;
  confFile: string;
  check?: boolean;
  dataDir?: string;
  agentId?: string;
  monitorPort?: string;
  monitorHost: string;
  stuckAfter: string;
  reload: boolean;
  define?: string[];
}

function plan(file: string, name: string): PlanResult {
  return planAgent(loadConfigFile(file), name);
}

const sameFile = (a: Stats | undefined, b: Stats | undefined): boolean => a !== undefined && b !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

function report(file: string, r: PlanResult): void {
  for (const w of r.warnings) process.stderr.write(`${file}: warning: ${w.key}: ${w.message}\n`);
  for (const e of r.errors) process.stderr.write(`${file}: error: ${e.key}: ${e.message}\n`);
}

async function runAgent(o: AgentCliOptions): Promise<void> {
  const file = resolve(o.confFile);
  const read = statSync(file, { throwIfNoEntry: false }); // what the start read, for changes made while it starts
  const first = plan(file, o.name);
  report(file, first);
  if (o.check) {
    if (first.plan) process.stdout.write(`${describePlan(first.plan)}\n${file}: valid (${first.warnings.length} warning(s))\n`);
    else process.stderr.write(`${file}: ${first.errors.length} error(s); the agent would not start\n`);
    process.exitCode = first.plan ? 0 : 1;
    return;
  }
  if (!first.plan) {
    process.stderr.write(`${file}: ${first.errors.length} error(s); the agent does not start\n`);
    process.exitCode = 1;
    return;
  }

  const log = createLogger(`agent.${o.name}`);
  const defines = new Map((o.define ?? []).map((d) => d.split('=', 2) as [string, string]));
  const monitorPort = o.monitorPort ?? (defines.get('flume.monitoring.type') === 'http' ? (defines.get('flume.monitoring.port') ?? '41414') : undefined);
  const agent = new Agent({
    name: o.name,
    agentId: o.agentId ?? `${hostname()}/${o.name}`,
    dataDir: resolve(o.dataDir ?? join(homedir(), '.monsoon', 'agents', o.name)),
    log,
    stuckAfterMs: Number(o.stuckAfter) * 1000,
  });
  try {
    await agent.apply(first.plan);
  } catch (e) {
    // A component that cannot start (e.g. a bus it cannot open) is a start-up problem, reported as such.
    const code = e instanceof MonsoonError ? ` (${e.code})` : '';
    process.stderr.write(`${file}: the agent does not start: ${errorMessage(e)}${code}\n`);
    await agent.stop(0).catch(() => {});
    process.exit(1);
  }
  if (monitorPort !== undefined) {
    const m = await startMonitor({ host: o.monitorHost, port: Number(monitorPort), metrics: agent.metrics, stuck: () => [...agent.watchdog.stuck(), ...agent.problems()] });
    log.info({ port: m.port }, `Metrics are served on http://${o.monitorHost}:${m.port}/metrics and /prometheus.`);
  }

  if (o.reload) {
    const changed = () => {
      let next: PlanResult;
      try {
        next = plan(file, o.name);
      } catch (e) {
        log.error({ err: errorMessage(e) }, 'The changed configuration could not be read; the agent keeps running as it was.');
        return;
      }
      if (!next.plan) {
        report(file, next);
        log.error({ errors: next.errors.length }, 'The changed configuration is invalid; the agent keeps running as it was.');
        return;
      }
      log.info('The configuration file changed; applying it.');
      agent
        .apply(next.plan, { retryAfterMs: RELOAD_RETRY_MS })
        .catch((e) => log.error({ err: errorMessage(e) }, `Applying the changed configuration failed; it is tried again every ${RELOAD_RETRY_MS / 1000} s until it applies or the file changes again.`));
    };
    watchFile(file, { interval: 1000 }, changed);
    // The watch compares with the file as it is now: a change made after the start read it (while the
    // components started) would otherwise never be applied.
    if (!sameFile(read, statSync(file, { throwIfNoEntry: false }))) changed();
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'Stopping the agent.');
    unwatchFile(file);
    agent.stop().then(
      () => process.exit(0),
      (e) => {
        log.error({ err: errorMessage(e) }, 'The agent did not stop cleanly.');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
