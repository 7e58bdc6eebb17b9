/**
 * The collector thread's entry (see collector-thread.ts): builds the collector's agent from the
 * server configuration — the built-in one or `collector.file` — in this thread, starts it, answers
 * metrics snapshots and stops it on request.
 */
import { existsSync } from 'node:fs';
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

/**
 * The built-in collector: thrift source (exact-delivery dedup) → bus channel on the embedded log's
 * collector topic, no sink: a received batch is one produce, its dedup marker in the batch's last
 * record. A file channel left by an earlier layout (thrift → file channel → bus sink) is drained into
 * the topic by its own sink until empty.
 */
export function collectorConfig(c: ServerConfig): FlatConfig {
  const a = c.collector.name;
  const dir = c.collector.dataDir;
  const legacy = existsSync(join(dir, 'channel', 'data'));
  const conf = new Map([
    [`${a}.sources`, 'rpc'],
    [`${a}.channels`, legacy ? 'topic fc' : 'topic'],
    [`${a}.sinks`, legacy ? 'drain' : ''],
    [`${a}.sources.rpc.type`, 'thrift'],
    [`${a}.sources.rpc.bind`, c.collector.host],
    [`${a}.sources.rpc.port`, String(c.collector.port)],
    [`${a}.sources.rpc.channels`, 'topic'],
    [`${a}.channels.topic.type`, 'embedded'],
    [`${a}.channels.topic.path`, c.bus.dir],
    [`${a}.channels.topic.topic`, c.collector.topic],
    [`${a}.channels.topic.partitions`, String(c.collector.partitions)],
    [`${a}.channels.topic.group`, `${a}-channel`],
    [`${a}.channels.topic.transactionCapacity`, String(c.collector.batchSize)],
    [`${a}.channels.topic.checkpointDir`, join(dir, 'topic-channel')],
  ]);
  if (legacy) {
    for (const [k, v] of [
      ['channels.fc.type', 'file'],
      ['channels.fc.checkpointDir', join(dir, 'channel', 'checkpoint')],
      ['channels.fc.dataDirs', join(dir, 'channel', 'data')],
      ['sinks.drain.type', 'embedded'],
      ['sinks.drain.channel', 'fc'],
      ['sinks.drain.path', c.bus.dir],
      ['sinks.drain.topic', c.collector.topic],
      ['sinks.drain.partitions', String(c.collector.partitions)],
    ] as const) conf.set(`${a}.${k}`, v);
  }
  return conf;
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
