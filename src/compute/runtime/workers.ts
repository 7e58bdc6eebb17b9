/**
 * The multi-process runtime of one machine (`monsoon topology submit --workers N`): N worker
 * processes (child_process.fork) each run the executors dealt to them (transfer.ts: executor i goes
 * to worker i mod N, as Storm's even scheduler deals them over slots) on the local runtime, and
 * reach the others' tasks through links — one Unix socket per ordered pair of workers carrying tuple
 * batches and ack batches. Processes, not worker_threads: a worker that crashes (a native addon, an
 * out-of-memory bolt) cannot corrupt the others, and each has its own heap and GC, which is what
 * Storm's workers give. Every worker loads the same topology module, so groupings, task ids and
 * stream numbers agree without shipping code.
 *
 * The parent only starts, wires and stops the workers: it waits until each listens, tells each to
 * connect to the others and start, and on SIGINT/SIGTERM tells every worker to stop its spouts and
 * let its tuple trees finish (at most 10 s), then to close. A worker that
 * exits on its own stops the topology (the parent kills the rest and fails); spouts with a durable
 * source replay what was not acked when it is started again.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';

export interface WorkersOptions {
  /** The topology module or Flux file, loaded by every worker. */
  ref: string;
  name: string;
  conf: Record<string, unknown>;
  workers: number;
  logger: Logger;
}

/** Parent → worker and worker → parent control messages (IPC). */
export type Control =
  | { type: 'init'; ref: string; name: string; conf: Record<string, unknown>; index: number; count: number; dir: string }
  | { type: 'listening' }
  | { type: 'connect' }
  | { type: 'started' }
  | { type: 'drain' }
  | { type: 'drained' }
  | { type: 'stop' }
  | { type: 'error'; message: string };

const ENTRY = fileURLToPath(new URL('./worker-process.js', import.meta.url));

export interface RunningWorkers {
  /** Resolves when every worker exited: 0 after a stop, 1 when one failed. */
  readonly done: Promise<number>;
  stop(): void;
  readonly pids: number[];
}

export async function startWorkers(o: WorkersOptions): Promise<RunningWorkers> {
  if (!Number.isInteger(o.workers) || o.workers < 2) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `--workers must be an integer of at least 2 for worker processes, got ${o.workers}`);
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-workers-'));
  const children: ChildProcess[] = [];
  let stopping = false;
  let failed = false;
  const waitAll = (type: Control['type']): Promise<void> =>
    Promise.all(
      children.map(
        (c, i) =>
          new Promise<void>((resolve, reject) => {
            const onMsg = (m: Control): void => {
              if (m.type === type) {
                c.off('message', onMsg);
                resolve();
              } else if (m.type === 'error') reject(new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `worker ${i}: ${m.message}`));
            };
            c.on('message', onMsg);
            c.once('exit', (code, sig) => reject(new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `worker ${i} exited (${sig ?? code}) while starting`)));
          }),
      ),
    ).then(() => undefined);
  for (let i = 0; i < o.workers; i++) {
    const c = fork(ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(c);
  }
  const exits = children.map((c, i) => new Promise<number>((resolve) => c.once('exit', (code, sig) => {
    if (!stopping) {
      failed = true;
      o.logger.error({ worker: i, pid: c.pid, code, signal: sig }, `worker ${i} of topology ${o.name} died (${sig ?? `exit ${code}`}); stopping the topology`);
      stopAll();
    }
    resolve(code ?? 1);
  })));
  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    // first every worker stops its spouts and lets its trees finish (they may need the others'
    // bolts), then all close
    const live = children.filter((c) => c.connected);
    let left = live.length;
    const stopNow = (): void => {
      for (const c of children) if (c.connected) c.send({ type: 'stop' } satisfies Control);
    };
    if (left === 0) stopNow();
    for (const c of live) {
      const onMsg = (m: Control): void => {
        if (m.type !== 'drained') return;
        c.off('message', onMsg);
        if (--left === 0) stopNow();
      };
      c.on('message', onMsg);
      c.once('exit', () => {
        c.off('message', onMsg);
        if (--left === 0) stopNow();
      });
      c.send({ type: 'drain' } satisfies Control);
    }
    // a worker that does not stop in time is killed
    setTimeout(() => children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')), 30_000).unref();
  };
  try {
    const listening = waitAll('listening');
    children.forEach((c, index) => c.send({ type: 'init', ref: o.ref, name: o.name, conf: o.conf, index, count: o.workers, dir } satisfies Control));
    await listening;
    const started = waitAll('started');
    for (const c of children) c.send({ type: 'connect' } satisfies Control);
    await started;
  } catch (e) {
    stopping = true;
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(exits);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const done = Promise.all(exits).then(async (codes) => {
    await rm(dir, { recursive: true, force: true });
    return failed || codes.some((c) => c !== 0) ? 1 : 0;
  });
  return { done, stop: stopAll, pids: children.map((c) => c.pid!) };
}
