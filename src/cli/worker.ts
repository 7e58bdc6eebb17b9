import { Command } from 'commander';
import { fail } from './bus-session.js';

/**
 * `monsoon worker --topology <module|yaml> --bus <url>` — one worker of a distributed topology in the
 * foreground (Kafka Streams' model: start one on each machine; the bus's consumer groups split the
 * work and move it when workers come and go). Stops on SIGINT/SIGTERM, committing what it finished.
 */
export async function runWorker(ref: string, o: { bus: string; name?: string; conf: Record<string, unknown> }): Promise<void> {
  const { loadTopology } = await import('../compute/loader.js');
  const { startWorker } = await import('../compute/runtime/distributed.js');
  const { createLogger } = await import('../core/log.js');
  const base = ref.replace(/#.*$/, '').split('/').pop()!.replace(/\.(ya?ml|[cm]?[jt]s)$/i, '');
  const topo = await loadTopology(ref, { ...(o.name ? { name: o.name } : {}), config: o.conf });
  const name = o.name ?? topo.ir.name ?? base;
  const log = createLogger('worker');
  const w = await startWorker(topo, { name, bus: o.bus, conf: o.conf, logger: log });
  await new Promise<void>((resolve) => {
    const stop = (): void => void w.stop().then(resolve, resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log.info({ topology: w.topology.id }, `worker of topology ${name} stopped`);
}

export function confPair(v: string, prev: Record<string, unknown>): Record<string, unknown> {
  const i = v.indexOf('=');
  if (i <= 0) throw new Error(`--conf takes key=value, got ${JSON.stringify(v)}`);
  const raw = v.slice(i + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // a plain string
  }
  return { ...prev, [v.slice(0, i)]: value };
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('run one worker of a distributed topology (start one per machine; the bus splits the work)')
    .requiredOption('--topology <topology>', 'a topology module path[#export] or a Flux YAML file')
    .requiredOption('--bus <url>', 'the bus for repartition topics (redis://, monsoon://, a directory, …)')
    .option('--name <name>', 'topology name (default: the YAML name, or the file name); all workers must use the same')
    .option('-c, --conf <key=value>', 'topology configuration (repeatable; values parse as JSON when they can)', confPair, {})
    .action(async (o: { topology: string; bus: string; name?: string; conf: Record<string, unknown> }) => {
      try {
        await runWorker(o.topology, o);
      } catch (e) {
        fail(e);
      }
    });
}
