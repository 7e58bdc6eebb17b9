import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { ErrorCodes, errorMessage, MonsoonError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { defineProcessor, type ProcessorContext, type Sink, type SinkProcessor, type SinkStatus } from '../contracts.js';
import { checkSinkNames, type Clock, startSinks, stopSinks } from './group.js';

/**
 * Failover sink processor (Flume's FailoverSinkProcessor). The live sink with the highest
 * `priority.<sink>` takes every batch. A sink that throws moves to the failed set with a penalty of
 * min(maxpenalty, 1000 << sequentialFailures) ms (2 s after the first failure, doubling per failure);
 * once the penalty has passed the next call offers it a batch, and a READY puts it back among the live
 * sinks. Sinks without a priority rank below those with one, in configuration order (-1, -2, …, as in
 * Flume); equal priorities keep configuration order instead of dropping a sink as Flume does.
 *
 * After a restart, a sink that held a batch in flight (ctx.inflightAtStart) is offered the first batch
 * once, so its receiver can drop the replay; if it fails the batch goes the usual way and is counted
 * as PossibleDuplicateCount.
 */
const BASE_PENALTY_MS = 1000;

const schema = z.object({
  priority: z.record(z.string(), prop.requiredInt(-2147483648, 2147483647)),
  maxpenalty: prop.int(30_000, 0),
});
export type FailoverProcessorConfig = z.infer<typeof schema>;

interface Member {
  sink: Sink;
  priority: number;
  order: number;
  /** Consecutive failures; 0 while live. */
  fails: number;
  retryAt: number;
}

const byRank = (a: Member, b: Member) => b.priority - a.priority || a.order - b.order;

export class FailoverSinkProcessor implements SinkProcessor {
  private readonly members: Member[];
  private live: Member[];
  private failed: Member[] = [];
  private firstChoice: Member | undefined;

  constructor(
    sinks: readonly Sink[],
    private readonly cfg: FailoverProcessorConfig,
    private readonly opts: { log?: Logger; counters?: ProcessorContext['counters']; inflightAtStart?: readonly string[]; now?: Clock } = {},
  ) {
    let next = 0;
    this.members = sinks.map((sink, order) => ({ sink, priority: cfg.priority[sink.name] ?? --next, order, fails: 0, retryAt: 0 }));
    this.live = [...this.members].sort(byRank);
    this.firstChoice = this.members.find((m) => opts.inflightAtStart?.includes(m.sink.name));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  start(): Promise<void> {
    return startSinks(this.members.map((m) => m.sink));
  }
  stop(): Promise<void> {
    return stopSinks(this.members.map((m) => m.sink));
  }

  /** Names of the live sinks in the order they would be used (for status pages and tests). */
  liveSinks(): string[] {
    return this.live.map((m) => m.sink.name);
  }
  /** Failed sinks with the time each is next offered a batch. */
  failedSinks(): Array<{ name: string; retryAt: number; failures: number }> {
    return this.failed.map((m) => ({ name: m.sink.name, retryAt: m.retryAt, failures: m.fails }));
  }

  async process(): Promise<SinkStatus> {
    const first = this.firstChoice;
    if (first !== undefined) {
      this.firstChoice = undefined;
      const status = await this.tryOnce(first);
      if (status !== undefined) return status;
      this.opts.counters?.inc('PossibleDuplicateCount');
    }
    // Sinks whose penalty is over get the next batch; highest priority first.
    const now = this.now();
    const due = this.failed.filter((m) => m.retryAt <= now).sort(byRank);
    for (const m of due) {
      const status = await this.tryOnce(m);
      if (status !== undefined) return status;
    }
    for (;;) {
      const active = this.live[0];
      if (active === undefined) break;
      const status = await this.tryOnce(active);
      if (status !== undefined) return status;
    }
    const when = this.failed.map((m) => `${m.sink.name} at ${new Date(m.retryAt).toISOString()}`).join(', ');
    throw new MonsoonError(ErrorCodes.PROCESSOR_ALL_FAILED, `all sinks of the failover group have failed; they are retried after their penalty: ${when}`, { retriable: true });
  }

  /** Calls one sink; a failure moves it to the failed set and yields undefined. */
  private async tryOnce(m: Member): Promise<SinkStatus | undefined> {
    let status: SinkStatus;
    try {
      status = await m.sink.process();
    } catch (e) {
      this.markFailed(m, e);
      return undefined;
    }
    // BACKOFF proves nothing about a failed sink (the channel was empty); it stays failed and due.
    if (status === 'READY' && m.fails > 0) {
      m.fails = 0;
      this.failed = this.failed.filter((x) => x !== m);
      this.live = [...this.live, m].sort(byRank);
      this.opts.log?.info({ sink: m.sink.name }, `Sink ${m.sink.name} delivered again and is back in the failover group.`);
    }
    return status;
  }

  private markFailed(m: Member, e: unknown): void {
    m.fails = Math.min(m.fails + 1, 30);
    const penalty = Math.min(this.cfg.maxpenalty, BASE_PENALTY_MS * 2 ** m.fails);
    m.retryAt = this.now() + penalty;
    if (m.fails === 1) {
      this.live = this.live.filter((x) => x !== m);
      this.failed.push(m);
    }
    this.opts.log?.warn({ sink: m.sink.name, failures: m.fails, penaltyMs: penalty }, `Sink ${m.sink.name} failed (${errorMessage(e)}); it is retried in ${penalty} ms and the next sink by priority takes over.`);
  }
}

export function createFailoverProcessor(cfg: FailoverProcessorConfig, ctx: ProcessorContext): FailoverSinkProcessor {
  checkSinkNames(ctx, 'priority', Object.keys(cfg.priority));
  return new FailoverSinkProcessor(ctx.sinks, cfg, { log: ctx.log, counters: ctx.counters, inflightAtStart: ctx.inflightAtStart });
}

defineProcessor({
  type: 'failover',
  aliases: ['org.apache.flume.sink.FailoverSinkProcessor'],
  description: 'Sends every batch to the live sink with the highest priority; failed sinks are retried after a growing penalty.',
  schema,
  maps: ['priority'],
  create: createFailoverProcessor,
});
