import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { componentSettings } from '../config.js';
import type { ComponentIR } from '../ir.js';
import type { BuildHost, Placement, TaskIndex } from './build.js';
import { BoltExecutor, SpoutExecutor } from './executor.js';

/**
 * Storm's rebalance options: the worker count (the local runtime is one worker) and new executor
 * counts per component (each between 1 and the component's task count). `waitSecs` bounds how long
 * the deactivated topology waits for pending tuple trees (default topology.message.timeout.secs).
 */
export interface RebalanceOptions {
  waitSecs?: number;
  numWorkers?: number;
  executors?: Record<string, number>;
}

/** A rebalance refused, naming the topology. */
export const rebalanceError = (topology: string, msg: string): MonsoonError => new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `rebalance of topology ${topology}: ${msg}`);

/** The topology as a rebalance checks it. */
export interface RebalanceSubject {
  readonly name: string;
  readonly status: string;
  readonly ir: { components: ComponentIR[] };
  readonly tasksByComponent: Map<string, number[]>;
}

/**
 * Checks every option before anything changes (a runtime that refuses rebalance, a killed topology or
 * one already rebalancing, an unknown component, an executor count outside 1..numTasks) and returns
 * each named component with its new executor count.
 */
export function planRebalance(t: RebalanceSubject, o: RebalanceOptions, refusal: string | undefined): [ComponentIR, number][] {
  const refuse = (msg: string) => rebalanceError(t.name, msg);
  if (refusal) throw refuse(refusal);
  if (t.status === 'KILLED') throw refuse('it was killed');
  if (t.status === 'REBALANCING') throw refuse('a rebalance is already in progress');
  if (o.waitSecs !== undefined && !(Number.isFinite(o.waitSecs) && o.waitSecs >= 0)) throw refuse(`the wait time must be a number of seconds ≥ 0, got ${String(o.waitSecs)}`);
  if (o.numWorkers !== undefined && o.numWorkers !== 1) {
    throw refuse(`numWorkers ${String(o.numWorkers)}: the local runtime runs in one worker; run the topology in worker processes with \`monsoon topology submit --workers N\``);
  }
  const changes: [ComponentIR, number][] = [];
  for (const [id, p] of Object.entries(o.executors ?? {})) {
    const c = t.ir.components.find((x) => x.id === id);
    if (!c) throw refuse(`component ${id} is not in the topology (it has ${t.ir.components.map((x) => x.id).join(', ')})`);
    const tasks = t.tasksByComponent.get(id)!.length;
    if (!Number.isInteger(p) || p < 1 || p > tasks) throw refuse(`component ${id}: executors must be an integer from 1 to its ${tasks} task${tasks === 1 ? '' : 's'} (numTasks), got ${String(p)}`);
    changes.push([c, p]);
  }
  return changes;
}

/**
 * Deals a component's tasks over `p` new executors (Storm's split) and moves what the old ones held:
 * a spout's undelivered completions, a bolt's queued tuples. The caller wires the executors again.
 */
export function regroup(host: BuildHost, index: TaskIndex, c: ComponentIR, p: number, placement: Placement | undefined): void {
  if (placement) throw rebalanceError(host.name, 'executors are placed over worker processes');
  const ids = host.tasksByComponent.get(c.id)!;
  c.parallelism = p;
  const settings = componentSettings(c.id, host.conf, c.config, host.settings);
  if (c.kind === 'spout') {
    const old = host.spoutExecutors.filter((e) => e.component === c.id);
    const wasActive = old.some((e) => e.active);
    const fresh: SpoutExecutor[] = [];
    for (let e = 0; e < p; e++) {
      const tasks = ids.slice(Math.floor((e * ids.length) / p), Math.floor(((e + 1) * ids.length) / p)).map((tid) => index.spoutById[tid]!);
      const ex = new SpoutExecutor(index.nextExecId++, c.id, host, index.totalTasks, tasks, index.spoutById);
      ex.active = wasActive;
      for (const task of tasks) {
        task.collector.ex = ex;
        index.spoutTaskExecutor[task.id] = ex;
        host.executorOfTask[task.id] = ex;
      }
      fresh.push(ex);
    }
    for (const ex of old) ex.moveCompletions((task, msg, start, ok) => index.spoutTaskExecutor[task]!.completed(task, msg, start, ok));
    const spouts = host.spoutExecutors;
    const at = spouts.indexOf(old[0]!);
    spouts.splice(0, spouts.length, ...spouts.slice(0, at), ...fresh, ...spouts.slice(at).filter((e) => e.component !== c.id));
    return;
  }
  const old = host.boltExecutors.filter((e) => e.component === c.id);
  const fresh: BoltExecutor[] = [];
  for (let e = 0; e < p; e++) {
    const tasks = ids.slice(Math.floor((e * ids.length) / p), Math.floor(((e + 1) * ids.length) / p)).map((tid) => index.boltById[tid]!);
    const ex = new BoltExecutor(index.nextExecId++, c.id, host, index.totalTasks, settings.queueBytes, tasks, index.boltById);
    for (const task of tasks) {
      task.collector.ex = ex;
      host.executorOfTask[task.id] = ex;
    }
    fresh.push(ex);
  }
  for (const ex of old) ex.queue!.drainTo((task, tuples, bytes) => host.executorOfTask[task]!.queue!.push(task, tuples, bytes));
  const keep = host.boltExecutors.filter((e) => e.component !== c.id);
  host.boltExecutors.splice(0, host.boltExecutors.length, ...keep, ...fresh);
}
