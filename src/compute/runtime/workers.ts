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
 *
 * Rebalance (Storm's: the workers are restarted) drains every worker (spouts stop, trees finish, at
 * most the wait), closes them, and forks a new set with the new worker count and executor counts;
 * each generation listens in its own directory. Tasks are built afresh: what a bolt holds only in
 * memory starts empty, checkpointed state (stateful bolts) and durable spouts carry on.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { TopologyIR } from '../ir.js';
import { assignTasks } from './context.js';
import { DRAIN_MS } from './distributed.js';
import type { RebalanceOptions } from './local.js';

export interface WorkersOptions {
  /** The topology module or Flux file, loaded by every worker. */
  ref: string;
  name: string;
  conf: Record<string, unknown>;
  workers: number;
  logger: Logger;
  /** The topology's IR (with `conf` applied): checks rebalance options and counts executors. */
  ir?: TopologyIR;
}

/** Parent → worker and worker → parent control messages (IPC). */
export type Control =
  | { type: 'init'; ref: string; name: string; conf: Record<string, unknown>; index: number; count: number; dir: string; parallelism?: Record<string, number> }
  | { type: 'listening' }
  | { type: 'connect' }
  | { type: 'started' }
  | { type: 'drain'; ms?: number }
  | { type: 'drained' }
  | { type: 'stop' }
  | { type: 'error'; message: string };

const ENTRY = fileURLToPath(new URL('./worker-process.js', import.meta.url));

export interface RunningWorkers {
  /** Resolves when every worker exited: 0 after a stop, 1 when one failed. */
  readonly done: Promise<number>;
  stop(): void;
  /** The current workers' process ids. */
  readonly pids: number[];
  readonly count: number;
  /** Executor count per component (the IR's parallelism with rebalance changes applied). */
  readonly parallelism: Record<string, number>;
  readonly status: 'ACTIVE' | 'REBALANCING' | 'KILLED';
  /** Drains and closes the workers, then forks the new number of workers with the new executor counts. */
  rebalance(o: RebalanceOptions): Promise<void>;
}

/** One set of forked workers: started together, drained and closed together. */
class Generation {
  readonly children: ChildProcess[] = [];
  readonly exits: Promise<number>[];
  expected = false;
  constructor(
    private readonly o: WorkersOptions,
    readonly count: number,
    readonly dir: string,
    private readonly parallelism: Record<string, number>,
    onDied: (worker: number, pid: number | undefined, code: number | null, sig: NodeJS.Signals | null) => void,
  ) {
    for (let i = 0; i < count; i++) this.children.push(fork(ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    this.exits = this.children.map((c, i) => new Promise<number>((resolve) => c.once('exit', (code, sig) => {
      if (!this.expected) onDied(i, c.pid, code, sig);
      resolve(code ?? 1);
    })));
  }
  private waitAll(type: Control['type']): Promise<void> {
    return Promise.all(
      this.children.map(
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
  }
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const o = this.o;
    const listening = this.waitAll('listening');
    this.children.forEach((c, index) => c.send({ type: 'init', ref: o.ref, name: o.name, conf: o.conf, index, count: this.count, dir: this.dir, parallelism: this.parallelism } satisfies Control));
    await listening;
    const started = this.waitAll('started');
    for (const c of this.children) c.send({ type: 'connect' } satisfies Control);
    await started;
  }
  /** Every worker stops its spouts and lets its trees finish (they may need the others' bolts), at most `ms`. */
  drain(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const live = this.children.filter((c) => c.connected);
      let left = live.length;
      if (left === 0) return resolve();
      for (const c of live) {
        const onMsg = (m: Control): void => {
          if (m.type !== 'drained') return;
          c.off('message', onMsg);
          if (--left === 0) resolve();
        };
        c.on('message', onMsg);
        c.once('exit', () => {
          c.off('message', onMsg);
          if (--left === 0) resolve();
        });
        c.send({ type: 'drain', ms } satisfies Control);
      }
    });
  }
  /** Closes every worker (killed after 30 s); resolves with their exit codes. */
  close(): Promise<number[]> {
    this.expected = true;
    for (const c of this.children) if (c.connected) c.send({ type: 'stop' } satisfies Control);
    const timer = setTimeout(() => this.kill(), 30_000);
    timer.unref();
    return Promise.all(this.exits).finally(() => clearTimeout(timer));
  }
  kill(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

export async function startWorkers(o: WorkersOptions): Promise<RunningWorkers> {
  if (!Number.isInteger(o.workers) || o.workers < 2) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `--workers must be an integer of at least 2 for worker processes, got ${o.workers}`);
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-workers-'));
  const parallelism: Record<string, number> = {};
  const taskCounts = new Map<string, number>();
  if (o.ir) {
    const tasks = assignTasks(o.ir);
    for (const c of o.ir.components) {
      taskCounts.set(c.id, tasks.get(c.id)!.length);
      parallelism[c.id] = Math.min(c.parallelism, tasks.get(c.id)!.length);
    }
  }
  let status: RunningWorkers['status'] = 'ACTIVE';
  let failed = false;
  let seq = 0;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  const onDied = (worker: number, pid: number | undefined, code: number | null, sig: NodeJS.Signals | null): void => {
    if (status === 'KILLED') return;
    failed = true;
    o.logger.error({ worker, pid, code, signal: sig }, `worker ${worker} of topology ${o.name} died (${sig ?? `exit ${code}`}); stopping the topology`);
    stopAll();
  };
  const launch = async (count: number): Promise<Generation> => {
    const g = new Generation(o, count, join(dir, `g${seq++}`), { ...parallelism }, onDied);
    try {
      await g.start();
    } catch (e) {
      g.expected = true;
      g.kill();
      await Promise.all(g.exits);
      throw e;
    }
    return g;
  };
  const finish = async (g: Generation): Promise<void> => {
    const codes = await g.close();
    await rm(dir, { recursive: true, force: true });
    resolveDone(failed || codes.some((c) => c !== 0) ? 1 : 0);
  };
  let current: Generation;
  // a worker dying while the first ones start fails the start instead (launch kills the rest)
  let started = false;
  try {
    current = await launch(o.workers);
    started = true;
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  let rebalancing: Promise<void> | null = null;
  function stopAll(): void {
    if (status === 'KILLED' || !started) return;
    const wasRebalancing = rebalancing;
    status = 'KILLED';
    void (async () => {
      // a rebalance in progress finishes (or fails) first; then the current workers drain and close
      await wasRebalancing?.catch(() => undefined);
      await current.drain(DRAIN_MS);
      await finish(current);
    })();
  }
  const rebalance = async (r: RebalanceOptions): Promise<void> => {
    const refuse = (msg: string): MonsoonError => new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `rebalance of topology ${o.name}: ${msg}`);
    if (status === 'KILLED') throw refuse('it is stopping');
    if (rebalancing) throw refuse('a rebalance is already in progress');
    if (r.waitSecs !== undefined && !(Number.isFinite(r.waitSecs) && r.waitSecs >= 0)) throw refuse(`the wait time must be a number of seconds ≥ 0, got ${String(r.waitSecs)}`);
    const count = r.numWorkers ?? current.count;
    if (!Number.isInteger(count) || count < 2) throw refuse(`numWorkers must be an integer of at least 2 for worker processes, got ${String(count)}`);
    for (const [id, p] of Object.entries(r.executors ?? {})) {
      const tasks = taskCounts.get(id);
      if (tasks === undefined) throw refuse(`component ${id} is not in the topology (it has ${[...taskCounts.keys()].join(', ')})`);
      if (!Number.isInteger(p) || p < 1 || p > tasks) throw refuse(`component ${id}: executors must be an integer from 1 to its ${tasks} task${tasks === 1 ? '' : 's'} (numTasks), got ${String(p)}`);
    }
    status = 'REBALANCING';
    rebalancing = (async () => {
      const timeoutSecs = Number(o.ir?.config['topology.message.timeout.secs'] ?? 30);
      await current.drain((r.waitSecs ?? timeoutSecs) * 1000);
      const codes = await current.close();
      if (codes.some((c) => c !== 0)) failed = true;
      Object.assign(parallelism, r.executors ?? {});
      current = await launch(count);
      o.logger.info({ workers: current.children.map((c) => c.pid), executors: parallelism }, `topology ${o.name} rebalanced over ${count} worker processes`);
    })();
    try {
      await rebalancing;
      if (status === 'REBALANCING') status = 'ACTIVE';
    } catch (e) {
      failed = true;
      status = 'KILLED';
      await rm(dir, { recursive: true, force: true });
      resolveDone(1);
      throw refuse(`the new workers did not start: ${(e as Error).message}`);
    } finally {
      rebalancing = null;
    }
  };
  return {
    done,
    stop: stopAll,
    rebalance,
    get pids() {
      return current.children.map((c) => c.pid!);
    },
    get count() {
      return current.count;
    },
    get status() {
      return status;
    },
    parallelism,
  };
}
