import { Command } from 'commander';
import { fail, positiveInt } from './bus-session.js';
import { confPair } from './worker.js';

/**
 * `monsoon topology submit|list|kill|activate|deactivate|rebalance` — Storm's `storm jar` / `storm
 * list` / `storm kill` … for Monsoon topologies. `submit` runs the topology in this process (the local
 * runtime, foreground) and serves Storm UI's REST paths (default 127.0.0.1:8080, Storm's ui.port),
 * which the other subcommands call.
 */
const DEFAULT_API = 'http://127.0.0.1:8080';

async function call(api: string, method: 'GET' | 'POST', path: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, api), { method });
  } catch (e) {
    throw new Error(`cannot reach the topology API at ${api} (is \`monsoon topology submit\` running there?): ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { errorMessage?: string };
  if (!res.ok) throw new Error(body.errorMessage ?? `${method} ${path}: HTTP ${res.status}`);
  return body;
}

export function topologyCommand(): Command {
  const cmd = new Command('topology').description('run and manage Storm-style topologies');

  cmd
    .command('submit <topology>')
    .description('run a topology (a module path[#export] or a Flux YAML file) in the foreground on the local runtime')
    .option('--name <name>', 'topology name (default: the YAML name, or the file name)')
    .option('--workers <n>', 'topology.workers: with 2 or more, the executors run in that many worker processes on this machine (no REST API)')
    .option('-c, --conf <key=value>', 'topology configuration (repeatable; values parse as JSON when they can)', confPair, {})
    .option('--api-host <host>', 'address for the REST API', '127.0.0.1')
    .option('--api-port <port>', 'port for the REST API (Storm UI paths)', '8080')
    .option('--no-api', 'do not serve the REST API')
    .option('--check', 'validate and print the Topology IR as JSON, then exit')
    .option('--bus <url>', 'with --distributed: the bus for repartition topics')
    .option('--distributed', 'run this process as one worker of a distributed topology (same as `monsoon worker`)')
    .action(async (ref: string, o: { name?: string; workers?: string; conf: Record<string, unknown>; apiHost: string; apiPort: string; api: boolean; check?: boolean; bus?: string; distributed?: boolean }) => {
      try {
        if (o.distributed) {
          if (!o.bus) throw new Error('--distributed needs --bus <url> (the bus the workers share)');
          const { runWorker } = await import('./worker.js');
          return await runWorker(ref, { bus: o.bus, conf: o.conf, ...(o.name ? { name: o.name } : {}) });
        }
        const { loadTopology } = await import('../compute/loader.js');
        const workers = positiveInt('--workers', o.workers);
        const conf = { ...o.conf, ...(workers ? { 'topology.workers': workers } : {}) };
        const base = ref.replace(/#.*$/, '').split('/').pop()!.replace(/\.(ya?ml|[cm]?[jt]s)$/i, '');
        const topo = await loadTopology(ref, { ...(o.name ? { name: o.name } : {}), config: conf });
        const name = o.name ?? topo.ir.name ?? base;
        if (o.check) {
          process.stdout.write(JSON.stringify({ ...topo.ir, name, config: { ...topo.ir.config, ...conf } }, null, 2) + '\n');
          return;
        }
        const { createLogger } = await import('../core/log.js');
        const log = createLogger('topology');
        if (workers && workers > 1) {
          // worker processes on this machine; the REST API lives in the local runtime only
          const { startWorkers } = await import('../compute/runtime/workers.js');
          const w = await startWorkers({ ref, name, conf, workers, logger: log });
          log.info({ workers: w.pids }, `topology ${name} is running in ${workers} worker processes`);
          process.once('SIGINT', w.stop);
          process.once('SIGTERM', w.stop);
          const code = await w.done;
          log.info({}, `topology ${name} stopped`);
          process.exitCode = code;
          return;
        }
        const { LocalCluster } = await import('../compute/runtime/local.js');
        const cluster = new LocalCluster({ logger: log });
        const t = await cluster.submitTopology(name, conf, topo);
        let api: { port: number; close(): Promise<void> } | undefined;
        if (o.api) {
          const { startComputeApi } = await import('../compute/rest.js');
          api = await startComputeApi(cluster, { host: o.apiHost, port: positiveInt('--api-port', o.apiPort) ?? 8080 });
        }
        log.info({ topology: t.id, api: api ? `http://${o.apiHost}:${api.port}` : null }, `topology ${name} is running${api ? ` (API at http://${o.apiHost}:${api.port}/api/v1/topology/summary)` : ''}`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            void cluster.shutdown().then(resolve, resolve);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          // killed through the API: stop once nothing runs
          const timer = setInterval(() => {
            if (cluster.list().length === 0) {
              clearInterval(timer);
              resolve();
            }
          }, 200);
        });
        await api?.close();
        log.info({ topology: t.id }, `topology ${name} stopped`);
      } catch (e) {
        fail(e);
      }
    });

  const apiOpt = ['--api <url>', 'the topology API of a running `monsoon topology submit`', DEFAULT_API] as const;

  cmd
    .command('list')
    .description('list running topologies')
    .option(...apiOpt)
    .option('--json', 'print JSON')
    .action(async (o: { api: string; json?: boolean }) => {
      try {
        const s = (await call(o.api, 'GET', '/api/v1/topology/summary')) as { topologies: { name: string; id: string; status: string; uptime: string; workersTotal: number; executorsTotal: number; tasksTotal: number }[] };
        if (o.json) return void process.stdout.write(JSON.stringify(s) + '\n');
        const rows = [['NAME', 'ID', 'STATUS', 'UPTIME', 'WORKERS', 'EXECUTORS', 'TASKS'], ...s.topologies.map((t) => [t.name, t.id, t.status, t.uptime, String(t.workersTotal), String(t.executorsTotal), String(t.tasksTotal)])];
        const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd() + '\n');
      } catch (e) {
        fail(e);
      }
    });

  for (const [name, what] of [
    ['activate', 'resume calling the spouts'],
    ['deactivate', 'stop calling the spouts (in-flight tuples finish)'],
  ] as const) {
    cmd
      .command(`${name} <topology>`)
      .description(what)
      .option(...apiOpt)
      .action(async (id: string, o: { api: string }) => {
        try {
          await call(o.api, 'POST', `/api/v1/topology/${encodeURIComponent(id)}/${name}`);
          process.stdout.write(`${name}d ${id}\n`);
        } catch (e) {
          fail(e);
        }
      });
  }

  cmd
    .command('kill <topology>')
    .description('deactivate, wait, then stop the topology and close its components')
    .option('-w, --wait <secs>', 'seconds between deactivating and stopping', '0')
    .option(...apiOpt)
    .action(async (id: string, o: { api: string; wait: string }) => {
      try {
        await call(o.api, 'POST', `/api/v1/topology/${encodeURIComponent(id)}/kill/${encodeURIComponent(o.wait)}`);
        process.stdout.write(`killed ${id}\n`);
      } catch (e) {
        fail(e);
      }
    });

  cmd
    .command('rebalance <topology>')
    .description('redistribute executors over workers (distributed runtime)')
    .option('-w, --wait <secs>', 'seconds to wait before rebalancing', '0')
    .option(...apiOpt)
    .action(async (id: string, o: { api: string; wait: string }) => {
      try {
        await call(o.api, 'POST', `/api/v1/topology/${encodeURIComponent(id)}/rebalance/${encodeURIComponent(o.wait)}`);
        process.stdout.write(`rebalanced ${id}\n`);
      } catch (e) {
        fail(e);
      }
    });

  return cmd;
}
