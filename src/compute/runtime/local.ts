/**
 * The local runtime: every executor of a topology in this process, scheduled cooperatively. A round
 * runs each bolt executor that has input and whose downstream queues are below their high watermark
 * (sinks first), then each spout executor (acks/fails first, then nextTuple calls while the spout's
 * pending trees are under topology.max.spout.pending and nothing downstream is above its high
 * watermark). Rounds follow each other on setImmediate; an idle round sleeps 1 ms (Storm's spout wait).
 * In manual mode nothing runs by itself: a test calls runRound()/runUntilIdle() and advances a
 * SimClock, so tick tuples and timeouts are deterministic.
 */
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import { Acker, EdgeIds, type AckerListener } from '../acker.js';
import type { CustomStreamGrouping, Spout, TopologyConfig } from '../api.js';
import { componentSettings, topologySettings, type TopologySettings } from '../config.js';
import { createGrouper, type Grouper } from '../groupings.js';
import { validateIR, type ComponentIR, type TopologyIR } from '../ir.js';
import { CHECKPOINT_COMPONENT } from '../state/checkpoint.js';
import { customGroupingKey, instantiate, type AnyBolt, type StormTopology } from '../topology.js';
import { Fields, StreamInfo, Tuple } from '../tuple.js';
import { systemClock, type Cancel, type Clock } from './clock.js';
import { assignTasks, TaskContext } from './context.js';
import { adaptBolt } from './adapt.js';
import { BoltCollectorImpl, SpoutCollectorImpl } from './collectors.js';
import { BoltExecutor, BoltTask, SpoutExecutor, SpoutTask, TaskRoute, type Executor, type ExecutorHost, type Task } from './executor.js';
import { TaskStats } from './stats.js';
import { componentPage, topologyPage, topologySummaryEntry, type ComponentPage, type TopologyPage, type TopologySummaryEntry } from './ui.js';

export interface LocalClusterOptions {
  clock?: Clock;
  /** Do not schedule rounds automatically; the caller drives runRound()/runUntilIdle(). */
  manual?: boolean;
  logger?: Logger;
  /** Runs only some tasks here (a worker of the multi-process runtime, runtime/workers.ts). */
  placement?: Placement;
}

/**
 * Which tasks this process runs. A task run elsewhere is reached through `remote(task)`: an executor
 * stand-in whose queue sends batches to the process running it. The acker may be partitioned too.
 */
export interface Placement {
  owns(task: number): boolean;
  remote(task: number): Executor;
  acker?(listener: AckerListener, timeoutMs: number): Acker;
}

export type TopologyStatus = 'ACTIVE' | 'INACTIVE' | 'KILLED';

export class LocalCluster {
  private readonly topologies = new Map<string, LocalTopology>();
  private seq = 0;
  constructor(private readonly opts: LocalClusterOptions = {}) {}

  /** Starts a topology (Storm's LocalCluster.submitTopology); resolves once every open/prepare finished. */
  async submitTopology(name: string, conf: TopologyConfig, topology: StormTopology): Promise<LocalTopology> {
    if (this.topologies.has(name)) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `a topology named ${name} is already running`);
    const id = `${name}-${++this.seq}-${Math.floor(Date.now() / 1000)}`;
    const t = await LocalTopology.start(id, name, conf, topology, this.opts);
    this.topologies.set(name, t);
    return t;
  }
  getTopology(name: string): LocalTopology | undefined {
    return this.topologies.get(name) ?? [...this.topologies.values()].find((t) => t.id === name);
  }
  list(): LocalTopology[] {
    return [...this.topologies.values()];
  }
  async killTopology(name: string, waitSecs = 0): Promise<void> {
    const t = this.getTopology(name);
    if (!t) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `no topology named ${name} is running`);
    await t.kill(waitSecs);
    this.topologies.delete(t.name);
  }
  /** Storm UI's /api/v1/topology/summary. */
  summary(): { topologies: TopologySummaryEntry[] } {
    return { topologies: this.list().map((t) => t.summary()) };
  }
  async shutdown(): Promise<void> {
    for (const t of this.list()) await this.killTopology(t.name);
  }
}

export class LocalTopology implements ExecutorHost, AckerListener {
  now = 0;
  readonly clock: Clock;
  readonly acker: Acker | null;
  readonly edges = new EdgeIds();
  readonly executorOfTask: Executor[] = [];
  readonly log: Logger;
  status: TopologyStatus = 'INACTIVE';
  readonly startedAt = Date.now();
  readonly tasksByComponent: Map<string, number[]>;
  readonly spoutExecutors: SpoutExecutor[] = [];
  /** Bolt executors, sinks first (reverse of a depth-first order from the spouts). */
  readonly boltExecutors: BoltExecutor[] = [];
  readonly tasks: Task[] = [];
  private readonly timers: Cancel[] = [];
  private loopScheduled = false;
  private stopped = false;
  private readonly spoutTaskExecutor: SpoutExecutor[] = [];

  private constructor(
    readonly id: string,
    readonly name: string,
    readonly ir: TopologyIR,
    readonly settings: TopologySettings,
    readonly conf: TopologyConfig,
    private readonly opts: LocalClusterOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.acker = settings.ackers > 0 ? (opts.placement?.acker?.(this, settings.timeoutMs) ?? new Acker(this, settings.timeoutMs)) : null;
    this.tasksByComponent = assignTasks(ir);
  }

  static async start(id: string, name: string, conf: TopologyConfig, topology: StormTopology, opts: LocalClusterOptions): Promise<LocalTopology> {
    const ir: TopologyIR = { ...topology.ir, name, config: { ...topology.ir.config, ...conf, 'topology.name': name } };
    validateIR(ir);
    const t = new LocalTopology(id, name, ir, topologySettings(ir.config), ir.config, opts);
    t.build(topology);
    await t.openAll();
    t.startTimers();
    t.activate();
    return t;
  }

  private build(topology: StormTopology): void {
    const ir = this.ir;
    const totalTasks = [...this.tasksByComponent.values()].reduce((n, l) => n + l.length, 0);
    const allTasks = new Set<number>();
    for (const l of this.tasksByComponent.values()) for (const x of l) allTasks.add(x);
    const placement = this.opts.placement;
    const workerTasks = [...allTasks].filter((t) => !placement || placement.owns(t)).sort((a, b) => a - b);
    const spoutById: SpoutTask[] = [];
    const boltById: BoltTask[] = [];
    let execId = 0;
    const execOfComponent = new Map<string, Executor[]>();
    const checkpointing = ir.components.some((c) => c.id === CHECKPOINT_COMPONENT);
    for (const c of ir.components) {
      const src = topology.components.get(c.id);
      if (!src) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `component ${c.id}: the topology carries no code for it`);
      const settings = componentSettings(c.id, this.conf, c.config, this.settings);
      const ids = this.tasksByComponent.get(c.id)!;
      const executors = Math.min(c.parallelism, ids.length);
      const list: Executor[] = [];
      for (let e = 0; e < executors; e++) {
        // tasks split evenly over executors, the first ones taking the remainder (Storm's partitioning)
        const from = Math.floor((e * ids.length) / executors);
        const to = Math.floor(((e + 1) * ids.length) / executors);
        const mine = ids.slice(from, to);
        if (placement && !placement.owns(mine[0]!)) {
          for (const tid of mine) this.executorOfTask[tid] = placement.remote(tid);
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
          const ex = new SpoutExecutor(execId++, c.id, this, totalTasks, tasks, spoutById);
          for (const task of tasks) {
            task.collector = new SpoutCollectorImpl(ex, task, this.log);
            this.spoutTaskExecutor[task.id] = ex;
          }
          this.spoutExecutors.push(ex);
          list.push(ex);
        } else {
          const tasks = mine.map((tid) => {
            const task = new BoltTask(tid, ids.indexOf(tid), c.id, c.streams.map((s) => s.id));
            task.bolt = adaptBolt(instantiate(src as AnyBolt), this, checkpointing);
            task.tickSecs = settings.tickSecs;
            boltById[tid] = task;
            return task;
          });
          const ex = new BoltExecutor(execId++, c.id, this, totalTasks, settings.queueBytes, tasks, boltById);
          for (const task of tasks) task.collector = new BoltCollectorImpl(ex, task, this);
          this.boltExecutors.push(ex);
          list.push(ex);
        }
      }
      execOfComponent.set(c.id, list);
      for (const ex of list) for (const task of ex.tasks) {
        this.executorOfTask[task.id] = ex;
        task.stats = new TaskStats(c.streams.length, this.clock.now());
        task.context = new TaskContext(this.id, ir, this.tasksByComponent, c.id, task.id, workerTasks);
        this.tasks.push(task);
      }
    }
    // routes: for every task, every declared stream → the groupers of the subscribing bolts
    const workerSet = new Set(workerTasks);
    for (const c of ir.components) {
      const infos = c.streams.map((s) => new StreamInfo(c.id, s.id, new Fields(s.fields)));
      for (const tid of this.tasksByComponent.get(c.id)!) {
        const task = this.tasks.find((x) => x.id === tid);
        if (!task) continue; // run by another process
        c.streams.forEach((s, index) => {
          const groupers: Grouper[] = [];
          const direct = new Set<number>();
          for (const sub of ir.components) {
            for (const inp of sub.inputs) {
              if (inp.component !== c.id || inp.stream !== s.id) continue;
              const targets = this.tasksByComponent.get(sub.id)!;
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
    // downstream executors (backpressure) and a sinks-first order for bolts
    for (const list of execOfComponent.values()) {
      for (const ex of list) {
        const down = new Set<Executor>();
        for (const sub of ir.components) {
          if (!sub.inputs.some((i) => i.component === ex.component)) continue;
          for (const d of execOfComponent.get(sub.id)!) if (d !== ex) down.add(d);
          // tasks in other processes: their stand-ins signal a full link
          if (placement) for (const t of this.tasksByComponent.get(sub.id)!) if (!placement.owns(t)) down.add(this.executorOfTask[t]!);
        }
        ex.downstream = [...down];
      }
    }
    const depth = depthFromSpouts(ir);
    this.boltExecutors.sort((a, b) => (depth.get(b.component) ?? 0) - (depth.get(a.component) ?? 0));
  }

  private async openAll(): Promise<void> {
    for (const task of this.tasks) {
      const conf = { ...this.conf, ...this.componentIR(task.component).config };
      if (task instanceof SpoutTask) await task.spout.open?.(conf, task.context, task.collector);
      else if (task instanceof BoltTask) await task.bolt.prepare?.(conf, task.context, task.collector);
    }
  }

  private startTimers(): void {
    const clock = this.clock;
    if (this.acker) {
      const every = Math.max(10, Math.min(1000, this.settings.timeoutMs / 4));
      this.timers.push(clock.setInterval(() => this.acker!.expire(clock.now()), every));
    }
    const byFreq = new Map<number, BoltTask[]>();
    for (const t of this.tasks) if (t instanceof BoltTask && t.tickSecs > 0) byFreq.set(t.tickSecs, [...(byFreq.get(t.tickSecs) ?? []), t]);
    for (const [secs, tasks] of byFreq) {
      this.timers.push(
        clock.setInterval(() => {
          for (const t of tasks) {
            const tick = Tuple.tick(secs);
            this.executorOfTask[t.id]!.queue!.push(t.id, [tick], tick.bytes);
          }
          this.wake();
        }, secs * 1000),
      );
    }
    this.timers.push(clock.setInterval(() => {
      const now = clock.now();
      for (const t of this.tasks) t.stats.sampleBusy(now);
    }, 60_000));
  }

  componentIR(id: string): ComponentIR {
    return this.ir.components.find((c) => c.id === id)!;
  }

  // AckerListener: trees completed or failed go to the owning spout executor, delivered at its next turn.
  treeAcked(spoutTask: number, msgId: unknown, startedAt: number): void {
    this.spoutTaskExecutor[spoutTask]!.completed(spoutTask, msgId, startedAt, true);
  }
  treeFailed(spoutTask: number, msgId: unknown, startedAt: number): void {
    this.spoutTaskExecutor[spoutTask]!.completed(spoutTask, msgId, startedAt, false);
    this.wake();
  }

  /** One scheduling round; true when any executor did work. */
  runRound(): boolean {
    if (this.stopped) return false;
    let worked = false;
    const bolts = this.boltExecutors;
    for (let i = 0; i < bolts.length; i++) {
      const ex = bolts[i]!;
      if (ex.queue!.count > 0 && !ex.blocked()) {
        this.now = this.clock.now();
        if (ex.run()) worked = true;
      } else if (ex.hasBuffered()) {
        ex.flush();
        worked = true;
      }
    }
    const spouts = this.spoutExecutors;
    for (let i = 0; i < spouts.length; i++) {
      this.now = this.clock.now();
      if (spouts[i]!.run()) worked = true;
    }
    return worked;
  }

  /** Runs rounds until one does no work (or maxRounds); returns the rounds run. */
  runUntilIdle(maxRounds = 1_000_000): number {
    let n = 0;
    while (n < maxRounds) {
      n++;
      if (!this.runRound()) break;
    }
    return n;
  }

  private loop = (): void => {
    this.loopScheduled = false;
    if (this.stopped) return;
    const worked = this.runRound();
    this.loopScheduled = true;
    if (worked) setImmediate(this.loop);
    else setTimeout(this.loop, 1);
  };

  /** Schedules a round soon (automatic mode). */
  wake(): void {
    if (this.opts.manual || this.stopped || this.loopScheduled) return;
    this.loopScheduled = true;
    setImmediate(this.loop);
  }

  activate(): void {
    if (this.status === 'KILLED') return;
    this.status = 'ACTIVE';
    for (const ex of this.spoutExecutors) {
      if (ex.active) continue;
      ex.active = true;
      for (const t of ex.tasks) t.spout.activate?.();
    }
    this.wake();
  }

  deactivate(): void {
    if (this.status === 'KILLED') return;
    this.status = 'INACTIVE';
    for (const ex of this.spoutExecutors) {
      if (!ex.active) continue;
      ex.active = false;
      for (const t of ex.tasks) t.spout.deactivate?.();
    }
  }

  /** Deactivates, lets in-flight tuples finish for `waitSecs`, then stops and closes every component. */
  async kill(waitSecs = 0): Promise<void> {
    if (this.status === 'KILLED') return;
    this.deactivate();
    if (waitSecs > 0) await new Promise((r) => setTimeout(r, waitSecs * 1000));
    this.status = 'KILLED';
    this.stopped = true;
    for (const c of this.timers) c();
    for (const task of this.tasks) {
      try {
        if (task instanceof SpoutTask) await task.spout.close?.();
        else if (task instanceof BoltTask) await task.bolt.cleanup?.();
      } catch (e) {
        task.reportError(this.log, e, 'close/cleanup threw');
      }
    }
  }

  /** Queue sizes in bytes per bolt executor (current and peak), for tests and the UI. */
  queues(): { component: string; executor: number; bytes: number; peakBytes: number; capacityBytes: number; high: number }[] {
    return this.boltExecutors.map((e) => ({ component: e.component, executor: e.id, bytes: e.queue!.bytes, peakBytes: e.queue!.peakBytes, capacityBytes: e.queue!.capacityBytes, high: e.queue!.high }));
  }

  uptimeSecs(): number {
    return Math.floor((Date.now() - this.startedAt) / 1000);
  }
  /** Storm UI JSON. */
  summary(): TopologySummaryEntry {
    return topologySummaryEntry(this);
  }
  page(): TopologyPage {
    return topologyPage(this);
  }
  component(id: string): ComponentPage {
    return componentPage(this, id);
  }
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
