import { mkdirSync } from 'node:fs';
import { ErrorCodes, errorMessage, MonsoonError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { ChannelCounterNames, MetricsRegistry, SinkCounterNames, SourceCounterNames } from '../core/metrics.js';
import { DefaultChannelProcessor } from './channel-processor.js';
import { MemoryChannel, memoryByteLimit, type MemoryChannelConfig } from './channels/memory.js';
import type { Channel, ChannelSelector, ComponentContext, Interceptor, Sink, SinkProcessor, Source } from './contracts.js';
import type { AgentPlan, PlannedComponent } from './config/plan.js';
import { FileInFlightLog, inFlightLogPath } from './processors/inflight.js';
import { SinkRunner } from './sink-runner.js';
import { Watchdog } from './watchdog.js';

/**
 * Runs one agent plan. Start-up and reload share one path, `apply`: sources and sinks are stopped
 * (committing what they hold), channels whose configuration did not change keep running with their
 * events, and everything else is built anew from the plan.
 */
export interface AgentOptions {
  name: string;
  agentId: string;
  dataDir: string;
  log: Logger;
  metrics?: MetricsRegistry;
  /** How long a component may sit with waiting input and no progress before it is flagged stuck. */
  stuckAfterMs?: number;
}

interface RunningChannel {
  fingerprint: string;
  channel: Channel;
}

export class Agent {
  readonly metrics: MetricsRegistry;
  readonly watchdog: Watchdog;
  private channels = new Map<string, RunningChannel>();
  /**
   * Replaced in-memory channels whose events have not moved into their successor yet, in the order
   * they were replaced (a channel replaced again while its own hand-over is pending adds a second
   * one). A move takes a channel's oldest events first, so a later entry, a successor that took
   * part of an earlier one's events before failing, holds older events than that earlier one still
   * does: the moves go newest entry first, which keeps the events in order.
   */
  private readonly handOver = new Map<string, Channel[]>();
  private sources: Array<{ name: string; source: Source }> = [];
  private runners: SinkRunner[] = [];
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly opts: AgentOptions) {
    this.metrics = opts.metrics ?? new MetricsRegistry(opts.name);
    this.watchdog = new Watchdog(opts.log, opts.stuckAfterMs ?? 60_000);
    mkdirSync(opts.dataDir, { recursive: true });
  }

  private failure: string | undefined;

  /**
   * Applies a plan; calls are serialised so a reload never overlaps another. A failed apply does not
   * block later ones; until one succeeds, `problems()` reports it (and /health answers 503).
   *
   * With `retryAfterMs`, a failed apply is tried again after that long, and again after each
   * failure, until it succeeds, another apply is asked for or the agent stops — as Flume's lifecycle
   * supervisor keeps restarting a component that failed to start (a spooling directory created
   * after the reload, a port freed). Each try stops what the one before had started.
   */
  apply(plan: AgentPlan, opts: { retryAfterMs?: number } = {}): Promise<void> {
    const generation = ++this.generation;
    clearTimeout(this.retryTimer);
    const run = this.applying.catch(() => {}).then(() => this.doApply(plan));
    this.applying = run.then(
      () => {
        this.failure = undefined;
      },
      (e: unknown) => {
        this.failure = `applying the configuration of agent ${plan.agent} failed: ${errorMessage(e)}`;
        if (opts.retryAfterMs !== undefined && !this.stopped && generation === this.generation) this.retryLater(plan, opts.retryAfterMs, generation);
        throw e;
      },
    );
    return this.applying;
  }

  private generation = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private retryLater(plan: AgentPlan, ms: number, generation: number): void {
    this.retryTimer = setTimeout(() => {
      if (this.stopped || generation !== this.generation) return;
      this.apply(plan, { retryAfterMs: ms }).then(
        () => this.opts.log.info(`The configuration of agent ${plan.agent} applied on a retry.`),
        (e: unknown) => this.opts.log.warn({ err: errorMessage(e) }, `Applying the configuration of agent ${plan.agent} failed again; next try in ${ms} ms.`),
      );
    }, ms);
    this.retryTimer.unref();
  }

  /** Conditions that make the agent unhealthy besides stuck components. */
  problems(): string[] {
    return this.failure ? [this.failure] : [];
  }

  async stop(drainMs = 5000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.applying.catch(() => {});
    this.watchdog.stop();
    await this.stopSources();
    // Give sinks a bounded moment to empty in-memory channels before they stop for good.
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline && [...this.channels.values()].some((c) => !c.channel.durable && c.channel.size() > 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.stopFlow();
    for (const [name, rc] of this.channels) await this.stopChannel(name, rc.channel);
    this.channels.clear();
    for (const [name, olds] of this.handOver) for (const old of olds) await this.stopChannel(name, old);
    this.handOver.clear();
  }

  channel(name: string): Channel | undefined {
    return this.channels.get(name)?.channel;
  }

  private ctx(name: string): ComponentContext {
    return { agent: this.opts.name, agentId: this.opts.agentId, name, log: this.opts.log.child({ component: name }), metrics: this.metrics, dataDir: this.opts.dataDir };
  }

  private async doApply(plan: AgentPlan): Promise<void> {
    this.checkHandover(plan);
    this.watchdog.stop();
    this.watchdog.clear();
    await this.stopFlow();

    const wanted = new Map(plan.channels.map((c) => [c.name, c]));
    // A changed in-memory channel hands its events to its successor; a durable one is closed so
    // that its successor recovers the same files. A hand-over stays pending (and the old channel
    // holds its events) until the move is done, across applies that fail before it.
    for (const [name, rc] of [...this.channels]) {
      const next = wanted.get(name);
      if (next && fingerprint(next) === rc.fingerprint) continue;
      this.channels.delete(name);
      if (next && !rc.channel.durable) this.handOver.set(name, [...(this.handOver.get(name) ?? []), rc.channel]);
      else await this.stopChannel(name, rc.channel);
    }
    for (const [name, olds] of [...this.handOver]) {
      if (wanted.has(name)) continue;
      this.handOver.delete(name);
      for (const old of olds) await this.stopChannel(name, old);
    }
    for (const c of plan.channels) {
      if (!this.channels.has(c.name)) {
        const counters = this.metrics.component('CHANNEL', c.name, ChannelCounterNames);
        const channel = c.spec.create(c.config, { ...this.ctx(c.name), counters }) as Channel;
        await channel.start();
        this.channels.set(c.name, { fingerprint: fingerprint(c), channel });
      }
      const olds = this.handOver.get(c.name);
      while (olds && olds.length > 0) {
        await moveEvents(olds[olds.length - 1]!, this.channels.get(c.name)!.channel);
        olds.pop();
      }
      this.handOver.delete(c.name);
    }

    const sinks = new Map<string, Sink>();
    for (const s of plan.sinks) {
      const channel = this.channels.get(s.channel)!.channel;
      const counters = this.metrics.component('SINK', s.name, SinkCounterNames);
      const group = plan.groups.find((g) => g.sinks.includes(s.name))!;
      const inflight = this.inflightFor(group.name);
      sinks.set(s.name, s.spec.create(s.config, { ...this.ctx(s.name), channel, counters, inflight }) as Sink);
    }
    for (const g of plan.groups) {
      const members = g.sinks.map((n) => sinks.get(n)!);
      const inflight = this.inflightFor(g.name);
      const counters = this.metrics.component('SINK_PROCESSOR', g.name, SinkCounterNames);
      const processor = g.processor.spec.create(g.processor.config, { ...this.ctx(g.name), sinks: members, counters, inflightAtStart: inflight.atStart }) as SinkProcessor;
      const channels = [...new Set(plan.sinks.filter((s) => g.sinks.includes(s.name)).map((s) => this.channels.get(s.channel)!.channel))];
      // The runner starts the processor, and the processor its sinks (and stops them likewise).
      const runner = new SinkRunner({ processor, channels, log: this.opts.log.child({ sinkgroup: g.name }), name: g.name });
      await runner.start();
      this.runners.push(runner);
    }

    for (const s of plan.sources) {
      const channels = s.channels.map((n) => this.channels.get(n)!.channel);
      const counters = this.metrics.component('SOURCE', s.name, SourceCounterNames);
      const selector = s.selector.spec.create(s.selector.config, { ...this.ctx(s.name), channels }) as ChannelSelector;
      const interceptors = s.interceptors.map((i) => i.spec.create(i.config, this.ctx(`${s.name}.${i.name}`)) as Interceptor);
      const processor = new DefaultChannelProcessor(selector, interceptors, counters, this.opts.log.child({ source: s.name }));
      const source = s.spec.create(s.config, { ...this.ctx(s.name), processor, counters }) as Source;
      await source.start();
      this.sources.push({ name: s.name, source });
      if (source.backlog) {
        const backlog = source.backlog.bind(source);
        this.watchdog.watch({ what: `source ${s.name}`, counters, pending: backlog, progress: () => counters.get('EventAcceptedCount') });
      }
    }
    const drained = new Set(plan.sinks.map((s) => s.channel));
    for (const [name, rc] of this.channels) {
      // a channel without sinks (a bus channel feeding a topic) has no takers to be stuck
      if (!drained.has(name)) continue;
      const counters = this.metrics.component('CHANNEL', name, ChannelCounterNames);
      this.watchdog.watch({ what: `channel ${name} (its sinks)`, counters, pending: () => rc.channel.size(), progress: () => counters.get('EventTakeSuccessCount') });
    }
    this.watchdog.start();
    this.opts.log.info({ sources: plan.sources.length, channels: plan.channels.length, sinks: plan.sinks.length }, `Agent ${plan.agent} is running.`);
  }

  /**
   * Refuses, before anything stops, a reload whose new in-memory channel cannot hold the events it
   * takes over (in number and in bytes): the changed channel's, and those of hand-overs an earlier
   * failed apply left pending.
   */
  private checkHandover(plan: AgentPlan): void {
    for (const c of plan.channels) {
      const running = this.channels.get(c.name);
      const olds = [...(this.handOver.get(c.name) ?? [])];
      const changed = running !== undefined && fingerprint(c) !== running.fingerprint;
      if (running && !running.channel.durable && (changed || olds.length > 0)) olds.push(running.channel);
      let held = 0;
      let bytes = 0;
      for (const old of olds) {
        held += old.size();
        if (old instanceof MemoryChannel) bytes += old.heldBytes();
      }
      const cfg = c.config as { capacity?: number; byteCapacity?: number };
      const refuse = (what: string) =>
        new MonsoonError(ErrorCodes.CONFIG_INVALID, `${c.key}.${what} channel ${c.name} holds now; the reload is refused and the agent keeps running as it was`);
      if (held > 0 && cfg.capacity !== undefined && held > cfg.capacity) throw refuse(`capacity: (${cfg.capacity}) is below the ${held} event(s)`);
      // only a memory channel's config has a byteCapacity (with its buffer percentage)
      if (bytes > 0 && cfg.byteCapacity !== undefined) {
        const mem = cfg as MemoryChannelConfig;
        const limit = memoryByteLimit(mem);
        if (bytes > limit) throw refuse(`byteCapacity: (${mem.byteCapacity}, less ${mem.byteCapacityBufferPercentage}% kept free: ${limit} bytes) is below the ${bytes} bytes`);
      }
    }
  }

  private inflightFiles = new Map<string, FileInFlightLog>();
  private inflightFor(group: string): FileInFlightLog {
    let f = this.inflightFiles.get(group);
    if (!f) {
      f = new FileInFlightLog(inFlightLogPath(this.opts.dataDir, group));
      this.inflightFiles.set(group, f);
    }
    return f;
  }

  /** Stops sources first (they commit what they hold), then sink runners after their current batch. */
  private async stopFlow(): Promise<void> {
    await this.stopSources();
    for (const r of this.runners) {
      await r.stop().catch((e) => this.opts.log.warn({ err: errorMessage(e) }, 'A sink group failed to stop cleanly.'));
    }
    this.runners = [];
    for (const f of this.inflightFiles.values()) f.close();
    this.inflightFiles.clear();
  }

  private async stopSources(): Promise<void> {
    for (const { name, source } of this.sources) {
      await source.stop().catch((e) => this.opts.log.warn({ source: name, err: errorMessage(e) }, 'A source failed to stop cleanly.'));
    }
    this.sources = [];
  }

  private async stopChannel(name: string, channel: Channel): Promise<void> {
    const left = channel.durable ? 0 : channel.size();
    if (left > 0) {
      this.opts.log.error({ channel: name, events: left }, `Memory channel ${name} stopped with ${left} event(s) in it; they are lost.`);
    }
    await channel.stop();
  }
}

function fingerprint(c: PlannedComponent): string {
  return JSON.stringify([c.spec.type, Object.entries(c.raw).sort()]);
}

/** Moves events from a replaced in-memory channel into its successor, so a reload loses nothing. */
async function moveEvents(from: Channel, to: Channel): Promise<void> {
  for (;;) {
    const take = from.transaction();
    const events = await take.take(Math.min(from.transactionCapacity, to.transactionCapacity));
    if (events.length === 0) {
      await take.commit();
      break;
    }
    const put = to.transaction();
    try {
      put.put(events);
      await put.commit();
    } catch (e) {
      await take.rollback();
      throw e;
    }
    await take.commit();
  }
  await from.stop();
}
