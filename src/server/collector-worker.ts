/**
 * The collector thread's entry (see collector-thread.ts): builds the collector's agent from the
 * server configuration — the built-in one or `collector.file` — in this thread, starts it, answers
 * metrics snapshots and stops it on request.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { aliasBus } from '../bus/shared.js';
import '../collect/builtins.js';
import { Agent } from '../collect/agent.js';
import { loadConfigFile, type FlatConfig } from '../collect/config/load.js';
import { planAgent } from '../collect/config/plan.js';
import { errorMessage, MonsoonError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { ServerConfig } from './config.js';
import { openThreadBus } from '../bus/thread/thread.js';
import type { CollectorWorkerData, FromCollector, ToCollector } from './collector-thread.js';

/** The built-in collector: thrift source (exact-delivery dedup) → file channel → bus sink to the embedded log. */
export function collectorConfig(c: ServerConfig): FlatConfig {
  const a = c.collector.name;
  const dir = c.collector.dataDir;
  return new Map([
    [`${a}.sources`, 'rpc'],
    [`${a}.channels`, 'fc'],
    [`${a}.sinks`, 'bus'],
    [`${a}.sources.rpc.type`, 'thrift'],
    [`${a}.sources.rpc.bind`, c.collector.host],
    [`${a}.sources.rpc.port`, String(c.collector.port)],
    [`${a}.sources.rpc.channels`, 'fc'],
    [`${a}.channels.fc.type`, 'file'],
    [`${a}.channels.fc.checkpointDir`, join(dir, 'channel', 'checkpoint')],
    [`${a}.channels.fc.dataDirs`, join(dir, 'channel', 'data')],
    [`${a}.channels.fc.transactionCapacity`, String(Math.max(10_000, c.collector.batchSize))],
    [`${a}.sinks.bus.type`, 'embedded'],
    [`${a}.sinks.bus.channel`, 'fc'],
    [`${a}.sinks.bus.path`, c.bus.dir],
    [`${a}.sinks.bus.topic`, c.collector.topic],
    [`${a}.sinks.bus.partitions`, String(c.collector.partitions)],
    [`${a}.sinks.bus.batchSize`, String(c.collector.batchSize)],
  ]);
}

async function main(port: NonNullable<typeof parentPort>, init: CollectorWorkerData): Promise<void> {
  const post = (m: FromCollector) => port.postMessage(m);
  const { config } = init;
  const log = createLogger('server', init.logLevel).child({ component: 'collector' });
  // The main thread holds the log's directory: this thread hands it encoded batches over busPort.
  aliasBus(config.bus.dir, () => openThreadBus(init.busPort, init.busUrl));
  const flat = config.collector.file ? loadConfigFile(config.collector.file) : collectorConfig(config);
  const planned = planAgent(flat, config.collector.name);
  if (!planned.plan) {
    const src = config.collector.file ?? 'collector';
    post({ type: 'failed', message: `${src}: ${planned.errors.length} error(s):\n${planned.errors.map((e) => `  ${e.key}: ${e.message}`).join('\n')}` });
    return;
  }
  const agent = new Agent({ name: config.collector.name, agentId: `${hostname()}/${config.collector.name}`, dataDir: config.collector.dataDir, log });
  try {
    await agent.apply(planned.plan);
  } catch (e) {
    await agent.stop().catch(() => {});
    post({ type: 'failed', message: `collector: cannot start: ${errorMessage(e)}`, ...(e instanceof MonsoonError ? { code: e.code } : {}) });
    return;
  }
  post({ type: 'started', warnings: planned.warnings.map((w) => `${w.key}: ${w.message}`) });
  port.on('message', (m: ToCollector) => {
    if (m.type === 'snapshot') {
      void agent.metrics.toPrometheus().then(
        (prometheus) => post({ type: 'snapshot', id: m.id, snapshot: { flume: agent.metrics.toFlumeJson(), prometheus, stuck: [...agent.watchdog.stuck(), ...agent.problems()] } }),
        (e: unknown) => post({ type: 'snapshot', id: m.id, snapshot: { flume: agent.metrics.toFlumeJson(), prometheus: `# collector metrics unavailable: ${errorMessage(e)}\n`, stuck: [] } }),
      );
    } else if (m.type === 'stop') {
      void agent.stop().then(
        () => {
          post({ type: 'stopped' });
          init.busPort.close();
          port.close();
        },
        (e: unknown) => {
          log.error({ err: errorMessage(e) }, 'The collector did not stop cleanly.');
          process.exit(1);
        },
      );
    }
  });
}

if (parentPort) {
  const port = parentPort;
  main(port, workerData as CollectorWorkerData).catch((e: unknown) => {
    port.postMessage({ type: 'failed', message: `collector: ${errorMessage(e)}`, ...(e instanceof MonsoonError ? { code: e.code } : {}) } satisfies FromCollector);
  });
}
