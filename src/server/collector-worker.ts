/**
 * The collector thread's entry (see collector-thread.ts): builds the collector's agent from the
 * server configuration — the built-in one or `collector.file` — in this thread, starts it, answers
 * metrics snapshots and stops it on request.
 */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { aliasBus } from '../bus/shared.js';
import '../collect/builtins.js';
import { Agent } from '../collect/agent.js';
import { loadConfigFile, type FlatConfig } from '../collect/config/load.js';
import { planAgent } from '../collect/config/plan.js';
import { errorMessage, MonsoonError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import type { ServerConfig } from './config.js';
import { openThreadBus } from '../bus/thread/thread.js';
import type { CollectorWorkerData, FromCollector, ToCollector } from './collector-thread.js';

/**
 * The built-in collector: thrift source (exact-delivery dedup) → bus channel on the embedded log's
 * collector topic, no sink: a received batch is one produce, its dedup marker in the batch's last
 * record.
 */
export function collectorConfig(c: ServerConfig): FlatConfig {
  const a = c.collector.name;
  return new Map([
    [`${a}.sources`, 'rpc'],
    [`${a}.channels`, 'topic'],
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
    [`${a}.channels.topic.checkpointDir`, join(c.collector.dataDir, 'topic-channel')],
  ]);
}

/** Where an earlier layout of the built-in collector (thrift → file channel → bus sink) kept its file channel. */
const legacyChannelDir = (c: ServerConfig) => join(c.collector.dataDir, 'channel');

/**
 * Delivers what a file channel of the earlier layout still holds into the collector topic (its own
 * bus sink, as that layout did), then renames the directory `channel.drained-<time>`: nothing it
 * accepted is lost across the upgrade. (Its dedup identities stay behind: a batch an agent replays
 * right after the upgrade, of those the old collector had committed, is stored twice.) Runs before the collector takes agents' batches.
 */
async function drainLegacyChannel(c: ServerConfig, log: Logger): Promise<void> {
  const dir = legacyChannelDir(c);
  if (!existsSync(join(dir, 'data'))) return;
  const conf: FlatConfig = new Map([
    ['drain.channels', 'fc'],
    ['drain.sinks', 'bus'],
    ['drain.channels.fc.type', 'file'],
    ['drain.channels.fc.checkpointDir', join(dir, 'checkpoint')],
    ['drain.channels.fc.dataDirs', join(dir, 'data')],
    ['drain.sinks.bus.type', 'embedded'],
    ['drain.sinks.bus.channel', 'fc'],
    ['drain.sinks.bus.path', c.bus.dir],
    ['drain.sinks.bus.topic', c.collector.topic],
    ['drain.sinks.bus.partitions', String(c.collector.partitions)],
    ['drain.sinks.bus.batchSize', '1000'],
  ]);
  const planned = planAgent(conf, 'drain');
  if (!planned.plan) throw new Error(`draining ${dir}: ${planned.errors.map((e) => `${e.key}: ${e.message}`).join('; ')}`);
  const agent = new Agent({ name: 'drain', agentId: `${hostname()}/${c.collector.name}-drain`, dataDir: join(c.collector.dataDir, 'drain'), log });
  await agent.apply(planned.plan);
  try {
    const left = () => Number(agent.metrics.toFlumeJson()['CHANNEL.fc']?.ChannelSize ?? 0);
    log.info({ dir, events: left() }, 'Delivering the events of the collector\'s earlier file channel to its topic.');
    while (left() > 0) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await agent.stop();
  }
  const to = `${dir}.drained-${Date.now()}`;
  await rename(dir, to);
  log.info({ dir: to }, 'The earlier file channel is empty; its directory was renamed and may be deleted.');
}

async function main(port: NonNullable<typeof parentPort>, init: CollectorWorkerData): Promise<void> {
  const post = (m: FromCollector) => port.postMessage(m);
  const { config } = init;
  const log = createLogger('server', init.logLevel).child({ component: 'collector' });
  // The main thread holds the log's directory: this thread hands it encoded batches over busPort.
  aliasBus(config.bus.dir, () => openThreadBus(init.busPort, init.busUrl));
  if (!config.collector.file) {
    try {
      await drainLegacyChannel(config, log);
    } catch (e) {
      post({ type: 'failed', message: `collector: ${errorMessage(e)}`, ...(e instanceof MonsoonError ? { code: e.code } : {}) });
      return;
    }
  }
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
