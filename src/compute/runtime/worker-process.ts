/**
 * One worker process of the multi-process runtime (forked by workers.ts). It loads the topology,
 * listens on its Unix socket, connects to every other worker when told, and runs its executors on
 * the local runtime with a placement: tasks dealt to other workers are reached through links, and
 * the acker tracks only the trees rooted here (transfer.ts).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { errorMessage } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import { loadTopology } from '../loader.js';
import type { TopologyIR } from '../ir.js';
import { DRAIN_MS, drainTopology } from './distributed.js';
import { LocalCluster, type LocalTopology } from './local.js';
import { assignWorkers, decodeBatch, FrameReader, Link, RoutingAcker, StreamTable, type Frame } from './transfer.js';
import type { Control } from './workers.js';

const log = createLogger('worker');
let init: Extract<Control, { type: 'init' }> | null = null;
let server: Server | null = null;
let topology: LocalTopology | null = null;
let cluster: LocalCluster | null = null;
let streams: StreamTable | null = null;
const links: (Link | undefined)[] = [];
const sockets: Socket[] = [];
const early: { frame: Frame; sock: Socket }[] = [];

function send(m: Control): void {
  process.send?.(m);
}

process.on('message', (m: Control) => {
  const run = async (): Promise<void> => {
    if (m.type === 'init') await onInit(m);
    else if (m.type === 'connect') await onConnect();
    else if (m.type === 'drain') {
      if (topology) await drainTopology(topology, DRAIN_MS);
      send({ type: 'drained' });
    } else if (m.type === 'stop') await onStop();
  };
  run().catch((e: unknown) => {
    send({ type: 'error', message: errorMessage(e) });
    log.error({ err: errorMessage(e) }, `worker ${init?.index ?? '?'}: ${errorMessage(e)}`);
    process.exit(1);
  });
});
// the parent went away: nothing will stop this worker otherwise
process.on('disconnect', () => void onStop());

async function onInit(m: Extract<Control, { type: 'init' }>): Promise<void> {
  init = m;
  server = createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => {});
    const reader = new FrameReader();
    sock.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (topology) handle(frame, sock);
        else early.push({ frame, sock });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(join(m.dir, `w${m.index}.sock`), resolve);
  });
  send({ type: 'listening' });
}

async function onConnect(): Promise<void> {
  const m = init!;
  const topo = await loadTopology(m.ref, { name: m.name, config: m.conf });
  const ir: TopologyIR = { ...topo.ir, name: m.name, config: { ...topo.ir.config, ...m.conf, 'topology.name': m.name } };
  const placement = assignWorkers(ir, m.count);
  streams = new StreamTable(ir);
  const queueBytes = Number(ir.config['topology.executor.receive.buffer.bytes'] ?? 64 * 1024);
  for (let w = 0; w < m.count; w++) {
    if (w === m.index) continue;
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(join(m.dir, `w${w}.sock`), () => resolve(s));
      s.once('error', reject);
    });
    sock.on('error', () => {});
    sockets.push(sock);
    links[w] = new Link(w, sock, streams, queueBytes);
  }
  const bits = Math.max(1, Math.ceil(Math.log2(m.count)));
  cluster = new LocalCluster({
    logger: log,
    placement: {
      owns: (t) => placement.get(t) === m.index,
      remote: (t) => links[placement.get(t)!]!.asExecutor(),
      acker: (listener, timeoutMs) => new RoutingAcker(listener, timeoutMs, m.index, bits, links),
    },
  });
  topology = await cluster.submitTopology(m.name, m.conf, topo);
  for (const { frame, sock } of early.splice(0)) handle(frame, sock);
  log.info({ worker: m.index, pid: process.pid, tasks: [...placement].filter(([, w]) => w === m.index).map(([t]) => t) }, `worker ${m.index} of topology ${m.name} started`);
  send({ type: 'started' });
}

function handle(f: Frame, sock: Socket): void {
  const t = topology!;
  if (f.k === 'a') {
    (t.acker as RoutingAcker | null)?.apply(f, t.clock.now());
    t.wake();
    return;
  }
  const ex = t.executorOfTask[f.task];
  if (!ex || ex instanceof Link || !ex.queue) {
    log.error({ task: f.task }, `worker ${init!.index}: a batch for task ${f.task}, which this worker does not run; dropped`);
    return;
  }
  const { tuples, bytes } = decodeBatch(f, streams!);
  const q = ex.queue;
  q.push(f.task, tuples, bytes);
  t.wake();
  if (q.over && !sock.isPaused()) {
    // stop reading this link until the queue drains: the sender's socket fills and its executors wait
    sock.pause();
    const check = (): void => {
      if (q.over && topology) setTimeout(check, 1);
      else sock.resume();
    };
    setTimeout(check, 1);
  }
}

let stopping: Promise<void> | null = null;
function onStop(): Promise<void> {
  stopping ??= (async () => {
    try {
      await cluster?.shutdown();
    } catch (e) {
      log.error({ err: errorMessage(e) }, `worker ${init?.index ?? '?'}: stopping failed: ${errorMessage(e)}`);
    }
    topology = null;
    for (const s of sockets) s.destroy();
    server?.close();
    process.exit(0);
  })();
  return stopping;
}
