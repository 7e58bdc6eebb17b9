import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Acker, AckerListener } from '../acker.js';
import type { CustomStreamGrouping, Spout, TopologyConfig } from '../api.js';
import { componentSettings } from '../config.js';
import { createGrouper, type Grouper } from '../groupings.js';
import type { TopologyIR } from '../ir.js';
import { CHECKPOINT_COMPONENT } from '../state/checkpoint.js';
import { customGroupingKey, instantiate, type AnyBolt, type StormTopology } from '../topology.js';
import { Fields, StreamInfo } from '../tuple.js';
import { adaptBolt } from './adapt.js';
import { BoltCollectorImpl, SpoutCollectorImpl } from './collectors.js';
import { TaskContext } from './context.js';
import { BoltExecutor, BoltTask, SpoutExecutor, SpoutTask, TaskRoute, type Executor, type ExecutorHost, type Task } from './executor.js';
import { TaskStats } from './stats.js';

/**
 * Building a topology's executors in this process: tasks split evenly over each component's executors
 * (Storm's partitioning), a collector, stats and context per task, each task's routes to the groupers
 * of its subscribers, then the executors wired for backpressure.
 */

/**
 * Which tasks this process runs. A task run elsewhere is reached through `remote(task)`: an executor
 * stand-in whose queue sends batches to the process running it. The acker may be partitioned too.
 */
export interface Placement {
  owns(task: number): boolean;
  remote(task: number): Executor;
  acker?(listener: AckerListener, timeoutMs: number): Acker;
}

/** The topology the executors are built for (the local runtime's LocalTopology). */
export interface BuildHost extends ExecutorHost {
  readonly id: string;
  readonly name: string;
  readonly ir: TopologyIR;
  readonly conf: TopologyConfig;
  readonly tasksByComponent: Map<string, number[]>;
  readonly spoutExecutors: SpoutExecutor[];
  /** Bolt executors, sinks first (reverse of a depth-first order from the spouts). */
  readonly boltExecutors: BoltExecutor[];
  readonly tasks: Task[];
}

/** Indexes over a topology's tasks that the build fills in and a rebalance keeps up to date. */
export class TaskIndex {
  /** The spout executor of each spout task id (where its completed trees go). */
  readonly spoutTaskExecutor: SpoutExecutor[] = [];
  readonly spoutById: SpoutTask[] = [];
  readonly boltById: BoltTask[] = [];
  /** The id of the next executor made. */
  nextExecId = 0;
  totalTasks = 0;
}

/** Makes the executors and tasks this process runs (all of them without a placement), with their routes. */
export function buildExecutors(host: BuildHost, index: TaskIndex, topology: StormTopology, placement: Placement | undefined): void {
  const ir = host.ir;
  const totalTasks = (index.totalTasks = [...host.tasksByComponent.values()].reduce((n, l) => n + l.length, 0));
  const allTasks = new Set<number>();
  for (const l of host.tasksByComponent.values()) for (const x of l) allTasks.add(x);
  const workerTasks = [...allTasks].filter((t) => !placement || placement.owns(t)).sort((a, b) => a - b);
  const spoutById = index.spoutById;
  const boltById = index.boltById;
  let execId = 0;
  const checkpointing = ir.components.some((c) => c.id === CHECKPOINT_COMPONENT);
  for (const c of ir.components) {
    const src = topology.components.get(c.id);
    if (!src) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `component ${c.id}: the topology carries no code for it`);
    const settings = componentSettings(c.id, host.conf, c.config, host.settings);
    const ids = host.tasksByComponent.get(c.id)!;
    const executors = Math.min(c.parallelism, ids.length);
    const list: Executor[] = [];
    for (let e = 0; e < executors; e++) {
      // tasks split evenly over executors (Storm's partitioning); rebalance splits them alike
      const from = Math.floor((e * ids.length) / executors);
      const to = Math.floor(((e + 1) * ids.length) / executors);
      const mine = ids.slice(from, to);
      if (placement && !placement.owns(mine[0]!)) {
        for (const tid of mine) host.executorOfTask[tid] = placement.remote(tid);
        execId++;
        continue;
      }
      if (c.kind === 'spout') {
        const tasks = mine.map((tid) => {
          const task = new SpoutTask(tid, ids.indexOf(tid), c.id, c.streams.map((s) => s.id));
          task.spout = instantiate(src as Spout);
          task.maxPending = settings.maxSpoutPending;
          spoutById[tid] = task;
          return task;
        });
        const ex = new SpoutExecutor(execId++, c.id, host, totalTasks, tasks, spoutById);
        for (const task of tasks) {
          task.collector = new SpoutCollectorImpl(ex, task, host.log);
          index.spoutTaskExecutor[task.id] = ex;
        }
        host.spoutExecutors.push(ex);
        list.push(ex);
      } else {
        const tasks = mine.map((tid) => {
          const task = new BoltTask(tid, ids.indexOf(tid), c.id, c.streams.map((s) => s.id));
          task.bolt = adaptBolt(instantiate(src as AnyBolt), host, checkpointing);
          task.tickSecs = settings.tickSecs;
          boltById[tid] = task;
          return task;
        });
        const ex = new BoltExecutor(execId++, c.id, host, totalTasks, settings.queueBytes, tasks, boltById);
        for (const task of tasks) task.collector = new BoltCollectorImpl(ex, task, host);
        host.boltExecutors.push(ex);
        list.push(ex);
      }
    }
    for (const ex of list) for (const task of ex.tasks) {
      host.executorOfTask[task.id] = ex;
      task.stats = new TaskStats(c.streams.length, host.clock.now());
      task.context = new TaskContext(host.id, ir, host.tasksByComponent, c.id, task.id, workerTasks);
      host.tasks.push(task);
    }
  }
  // routes: for every task, every declared stream → the groupers of the subscribing bolts
  const workerSet = new Set(workerTasks);
  for (const c of ir.components) {
    const infos = c.streams.map((s) => new StreamInfo(c.id, s.id, new Fields(s.fields)));
    for (const tid of host.tasksByComponent.get(c.id)!) {
      const task = host.tasks.find((x) => x.id === tid);
      if (!task) continue; // run by another process
      c.streams.forEach((s, index) => {
        const groupers: Grouper[] = [];
        const direct = new Set<number>();
        for (const sub of ir.components) {
          for (const inp of sub.inputs) {
            if (inp.component !== c.id || inp.stream !== s.id) continue;
            const targets = host.tasksByComponent.get(sub.id)!;
            if (inp.grouping.type === 'DIRECT') {
              for (const x of targets) direct.add(x);
              continue;
            }
            let custom: CustomStreamGrouping | undefined;
            if (inp.grouping.type === 'CUSTOM') {
              const g = topology.customGroupings.get(customGroupingKey(sub.id, c.id, s.id));
              if (!g) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `component ${sub.id}: CUSTOM grouping on ${c.id}:${s.id} has no grouping object`);
              custom = instantiate(g);
            }
            groupers.push(
              createGrouper({
                type: inp.grouping.type,
                streamFields: infos[index]!.fields,
                fields: inp.grouping.fields ?? [],
                targetTasks: targets,
                sourceTask: tid,
                workerTasks: workerSet,
                ...(custom ? { custom, context: task.context, stream: { component: c.id, stream: s.id } } : {}),
              }),
            );
          }
        }
        task.routes[s.id] = new TaskRoute(infos[index]!, index, s.direct, groupers, direct);
      });
    }
  }
  index.nextExecId = execId;
  wireExecutors(host, placement);
}

/** Downstream executors of every executor (backpressure) and a sinks-first order for bolts. */
export function wireExecutors(host: BuildHost, placement: Placement | undefined): void {
  const ir = host.ir;
  const execOfComponent = new Map<string, Executor[]>();
  for (const c of ir.components) execOfComponent.set(c.id, []);
  for (const ex of [...host.spoutExecutors, ...host.boltExecutors]) execOfComponent.get(ex.component)!.push(ex);
  for (const list of execOfComponent.values()) {
    for (const ex of list) {
      const down = new Set<Executor>();
      for (const sub of ir.components) {
        if (!sub.inputs.some((i) => i.component === ex.component)) continue;
        for (const d of execOfComponent.get(sub.id)!) if (d !== ex) down.add(d);
        // tasks in other processes: their stand-ins signal a full link
        if (placement) for (const t of host.tasksByComponent.get(sub.id)!) if (!placement.owns(t)) down.add(host.executorOfTask[t]!);
      }
      ex.downstream = [...down];
    }
  }
  const depth = depthFromSpouts(ir);
  host.boltExecutors.sort((a, b) => (depth.get(b.component) ?? 0) - (depth.get(a.component) ?? 0));
}

function depthFromSpouts(ir: TopologyIR): Map<string, number> {
  const depth = new Map<string, number>();
  const queue: string[] = [];
  for (const c of ir.components) if (c.kind === 'spout') {
    depth.set(c.id, 0);
    queue.push(c.id);
  }
  while (queue.length) {
    const id = queue.shift()!;
    for (const c of ir.components) {
      if (depth.has(c.id) || !c.inputs.some((i) => i.component === id)) continue;
      depth.set(c.id, depth.get(id)! + 1);
      queue.push(c.id);
    }
  }
  return depth;
}
