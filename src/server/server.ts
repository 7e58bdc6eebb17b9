/**
 * `monsoon server`: one process hosting the whole single-machine pipeline, with no external server:
 *
 *   thrift (agents) ─► collector thread: thrift source (drops replays) ─► bus channel
 *                                                                          │ MessagePort (src/bus/thread/)
 *   monsoon:// (agents, CLI, processes) ◄──── embedded log (dataDir/bus) ◄──┘
 *                                                   │ bus spouts
 *                                   topology runtime (topologies of the config)
 *                                                   │ store bolts
 *                         embedded key-value store (dataDir/kv), rolled files (dataDir/archive)
 *
 *   HTTP (fastify): /health, /api/v1/status, collector metrics, topics, lag, Storm UI's topology
 *   routes, row lookups, Prometheus /metrics (api.ts).
 *
 * The collector runs in a worker thread of its own (collector-thread.ts), so that it and the
 * topologies each have a core; everything else is in the main thread.
 *
 * Everything that holds data is durable on its own (the file channel, the embedded log, LMDB, the
 * archive's recorded position), so the process survives kill -9; SIGINT/SIGTERM stop it cleanly:
 * the API first, then the collector (sources stop, sinks finish their batch), the topologies (spouts
 * commit what was acked), the bus server, the bus and the stores.
 */
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Bus } from '../bus/bus.js';
import { EmbeddedBus } from '../bus/embedded/embedded.js';
import { removeAddrFile, writeAddrFile } from '../bus/remote/addr.js';
import { serveBus, type BusServer } from '../bus/remote/server.js';
import { acquireBus, type BusHandle } from '../bus/shared.js';
import { loadTopology } from '../compute/loader.js';
import { LocalCluster } from '../compute/runtime/local.js';
import { BusSpout } from '../compute/spouts/bus.js';
import { SpoutTask } from '../compute/runtime/executor.js';
import { ErrorCodes, errorMessage, MonsoonError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { acquireKvStore, type KvStoreHandle } from '../store/kv/shared.js';
import { startServerApi } from './api.js';
import { CollectorThread } from './collector-thread.js';
import type { ServerConfig } from './config.js';

export interface MonsoonServer {
  readonly config: ServerConfig;
  readonly bus: Bus;
  /** The bus's location as every component in this process names it (the log's directory). */
  readonly busUrl: string;
  readonly busServer: BusServer;
  /** The collector's thread (undefined when collector.enabled is false). */
  readonly collector: CollectorThread | undefined;
  readonly cluster: LocalCluster;
  readonly kv: KvStoreHandle;
  readonly httpPort: number;
  readonly startedAt: number;
  /** Consumer groups of the running topologies' bus spouts. */
  groups(): string[];
  close(): Promise<void>;
}

async function ensureTopic(bus: Bus, name: string, partitions: number): Promise<void> {
  if ((await bus.admin.listTopics()).includes(name)) return;
  try {
    await bus.admin.createTopic(name, { partitions });
  } catch (e) {
    if (!(e instanceof MonsoonError && e.code === ErrorCodes.BUS_TOPIC_EXISTS)) throw e;
  }
}

export interface StartServerOptions {
  /** Told when the collector thread ends on its own (a fatal error in it); `monsoon server` exits. */
  onCollectorExit?: (code: number) => void;
}

export async function startServer(config: ServerConfig, log: Logger = silentLogger, opts: StartServerOptions = {}): Promise<MonsoonServer> {
  const undo: Array<() => Promise<void>> = [];
  const rollback = async () => {
    for (const f of undo.reverse()) await f().catch(() => {});
  };
  try {
    await mkdir(config.dataDir, { recursive: true });
    const busUrl = config.bus.dir;
    let busHandle: BusHandle;
    try {
      busHandle = await acquireBus(busUrl, log.child({ component: 'bus' }));
    } catch (e) {
      throw new MonsoonError(e instanceof MonsoonError ? e.code : ErrorCodes.CONFIG_INVALID, `cannot open the embedded log in ${busUrl} (dataDir): ${errorMessage(e)}`, { cause: e });
    }
    undo.push(() => busHandle.release());
    const bus = busHandle.bus;
    for (const t of config.bus.topics) await ensureTopic(bus, t.name, t.partitions);
    if (config.collector.enabled && !config.collector.file) await ensureTopic(bus, config.collector.topic, config.collector.partitions);

    let busServer: BusServer;
    try {
      busServer = await serveBus(bus, { host: config.bus.host, port: config.bus.port, log: log.child({ component: 'bus-server' }) });
    } catch (e) {
      throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `bus.port: cannot listen on ${config.bus.host}:${config.bus.port}: ${errorMessage(e)}`, { cause: e });
    }
    undo.push(() => busServer.close());
    await writeAddrFile(busUrl, busServer.host, busServer.port);
    undo.push(() => removeAddrFile(busUrl));

    const kv = acquireKvStore(config.stores.kv);
    undo.push(() => kv.release());

    const cluster = new LocalCluster({ logger: log.child({ component: 'topology' }) });
    undo.push(() => cluster.shutdown());
    for (const t of config.topologies) {
      const conf = { ...t.config, 'monsoon.bus': busUrl, 'monsoon.store.kv': config.stores.kv, 'monsoon.store.archive': config.stores.archive, 'monsoon.data.dir': config.dataDir };
      const topo = await loadTopology(t.path, { ...(t.name ? { name: t.name } : {}), config: conf });
      const name = t.name ?? topo.ir.name ?? t.path.replace(/#.*$/, '').split('/').pop()!.replace(/\.(ya?ml|[cm]?[jt]s)$/i, '');
      await cluster.submitTopology(name, conf, topo);
      log.info({ topology: name }, `Topology ${name} is running.`);
    }

    let collector: CollectorThread | undefined;
    if (config.collector.enabled) {
      const logLevel = typeof log.level === 'string' ? log.level : 'info';
      if (!(bus instanceof EmbeddedBus)) throw new MonsoonError(ErrorCodes.BUS_LOCKED, `dataDir: the embedded log in ${busUrl} is open in another process; the collector needs it in this one`);
      collector = await CollectorThread.start({ config, busUrl: busServer.url, logLevel }, bus, log, (code) => {
        log.error({ code }, 'The collector thread ended on its own; agents can no longer deliver. Restart the server.');
        opts.onCollectorExit?.(code);
      });
      const c = collector;
      undo.push(() => c.stop());
    }

    const startedAt = Date.now();
    const groups = (): string[] => {
      const out = new Set<string>();
      for (const t of cluster.list()) for (const task of t.tasks) if (task instanceof SpoutTask && task.spout instanceof BusSpout) out.add(task.spout.subscription.group);
      return [...out];
    };
    const server: Omit<MonsoonServer, 'httpPort' | 'close'> = { config, bus, busUrl, busServer, collector, cluster, kv, startedAt, groups };
    let api: { app: FastifyInstance; port: number };
    try {
      api = await startServerApi(server, config.http);
    } catch (e) {
      throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `http.port: cannot listen on ${config.http.host}:${config.http.port}: ${errorMessage(e)}`, { cause: e });
    }
    let closing: Promise<void> | undefined;
    return {
      ...server,
      httpPort: api.port,
      close: () =>
        (closing ??= (async () => {
          await api.app.close();
          await collector?.stop();
          await cluster.shutdown();
          await busServer.close();
          await removeAddrFile(busUrl);
          await busHandle.release();
          await kv.release();
        })()),
    };
  } catch (e) {
    await rollback();
    throw e;
  }
}
