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
import type { TopologyConfig } from '../api.js';
import { topologySettings, type TopologySettings } from '../config.js';
import { validateIR, type ComponentIR, type TopologyIR } from '../ir.js';
import type { StormTopology } from '../topology.js';
import { Tuple } from '../tuple.js';
import { buildExecutors, TaskIndex, wireExecutors, type Placement } from './build.js';
import { systemClock, type Cancel, type Clock } from './clock.js';
import { assignTasks } from './context.js';
import { BoltExecutor, BoltTask, SpoutExecutor, SpoutTask, type Executor, type ExecutorHost, type Task } from './executor.js';
import { planRebalance, rebalanceError, regroup, type RebalanceOptions } from './rebalance.js';
import { componentPage, topologyPage, topologySummaryEntry, type ComponentPage, type TopologyPage, type TopologySummaryEntry } from './ui.js';

export type { Placement } from './build.js';
export type { RebalanceOptions } from './rebalance.js';

export interface LocalClusterOptions {
  clock?: Clock;
  /** Do not schedule rounds automatically; the caller drives runRound()/runUntilIdle(). */
  manual?: boolean;
  logger?: Logger;
  /** Runs only some tasks here (a worker of the multi-process runtime, runtime/workers.ts). */
  placement?: Placement;
  /** When set, rebalance is refused with this reason (runtimes whose executors are placed elsewhere). */
  rebalanceRefusal?: string;
}

export type TopologyStatus = 'ACTIVE' | 'INACTIVE' | 'REBALANCING' | 'KILLED';

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
  /** Storm's rebalance (see LocalTopology.rebalance). */
  async rebalance(name: string, opts: RebalanceOptions): Promise<void> {
    const t = this.getTopology(name);
    if (!t) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `no topology named ${name} is running`);
    await t.rebalance(opts);
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
  private readonly index = new TaskIndex();

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
    // components copied: rebalance changes a component's parallelism in this topology's IR only
    const ir: TopologyIR = { ...topology.ir, name, components: topology.ir.components.map((c) => ({ ...c })), config: { ...topology.ir.config, ...conf, 'topology.name': name } };
    validateIR(ir);
    const t = new LocalTopology(id, name, ir, topologySettings(ir.config), ir.config, opts);
    buildExecutors(t, t.index, topology, opts.placement);
    await t.openAll();
    t.startTimers();
    t.activate();
    return t;
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
    this.index.spoutTaskExecutor[spoutTask]!.completed(spoutTask, msgId, startedAt, true);
  }
  treeFailed(spoutTask: number, msgId: unknown, startedAt: number): void {
    this.index.spoutTaskExecutor[spoutTask]!.completed(spoutTask, msgId, startedAt, false);
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
    if (this.status === 'REBALANCING') {
      this.afterRebalance = 'ACTIVE';
      return;
    }
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
    if (this.status === 'REBALANCING') this.afterRebalance = 'INACTIVE';
    else this.status = 'INACTIVE';
    for (const ex of this.spoutExecutors) {
      if (!ex.active) continue;
      ex.active = false;
      for (const t of ex.tasks) t.spout.deactivate?.();
    }
  }

  /**
   * Storm's rebalance: checks every option first (an unknown component, or an executor count outside
   * 1..numTasks, names the component), deactivates the spouts, waits `waitSecs` (default
   * topology.message.timeout.secs) or until no tuple tree is pending, regroups the tasks of each
   * named component over its new number of executors, then returns to the status it had (ACTIVE or
   * INACTIVE; an activate/deactivate during the wait is applied at the end). Tasks stay the same
   * objects, so their state and counters are kept; queued tuples and undelivered acks move with their
   * task, so nothing in flight is lost.
   */
  async rebalance(o: RebalanceOptions = {}): Promise<void> {
    const changes = planRebalance(this, o, this.opts.rebalanceRefusal);
    this.afterRebalance = this.status === 'ACTIVE' ? 'ACTIVE' : 'INACTIVE';
    this.deactivate();
    this.status = 'REBALANCING';
    try {
      const end = Date.now() + (o.waitSecs ?? this.settings.timeoutMs / 1000) * 1000;
      while (!this.stopped && Date.now() < end && !this.quiet()) {
        if (this.opts.manual) this.runUntilIdle(10_000);
        if (this.quiet()) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      if (this.stopped) throw rebalanceError(this.name, 'it was killed while waiting');
      for (const ex of [...this.spoutExecutors, ...this.boltExecutors]) ex.flush();
      for (const [c, p] of changes) regroup(this, this.index, c, p, this.opts.placement);
      wireExecutors(this, this.opts.placement);
    } finally {
      if (!this.stopped) {
        this.status = 'INACTIVE';
        if (this.afterRebalance === 'ACTIVE') this.activate();
        else this.wake();
      }
    }
    this.log.info({ topology: this.id, executors: o.executors ?? {} }, `topology ${this.name} rebalanced`);
  }

  private afterRebalance: 'ACTIVE' | 'INACTIVE' = 'INACTIVE';

  /** No tuple tree pending and no tuple queued or buffered anywhere. */
  private quiet(): boolean {
    if ((this.acker?.pending() ?? 0) > 0) return false;
    for (const ex of this.boltExecutors) if (ex.queue!.count > 0 || ex.hasBuffered()) return false;
    for (const ex of this.spoutExecutors) if (ex.hasBuffered() || ex.hasCompletions()) return false;
    return true;
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
