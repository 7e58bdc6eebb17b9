import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { ErrorCodes, errorMessage, MonsoonError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { defineProcessor, type ProcessorContext, type Sink, type SinkProcessor, type SinkStatus } from '../contracts.js';
import { type Clock, groupConfigError, startSinks, stopSinks } from './group.js';
import { type SelectorKind, SinkOrder } from './order.js';

/**
 * Load-balancing sink processor (Flume's LoadBalancingSinkProcessor). Each batch goes to the first
 * sink, in selector order (round_robin or random), that delivers it; a sink that throws has rolled its
 * batch back, so the next sink takes it. With `backoff = true` a failed sink sits out for
 * min(selector.maxTimeOut, 1000 * 2^sequentialFailures) ms; the count resets on a delivery. Unlike
 * Flume, a sink's BACKOFF does not end the round: the next sink is asked too (its channel may differ),
 * and only BACKOFF from every sink tried is returned as BACKOFF.
 *
 * Stickiness for exact delivery: a sink listed in ctx.inflightAtStart sent a batch whose outcome is
 * unknown when the agent last stopped; the rolled-back batch is at the head of the channel again. The
 * first calls offer it to that same sink, whose receiver drops the replay by event identity. The sink
 * is retried (honouring the back-off) for at most `stickyMs` (10 s); the group is held meanwhile.
 * After that the batch goes to the other sinks and PossibleDuplicateCount counts it.
 */
const SELECTORS: readonly SelectorKind[] = ['round_robin', 'random'];
const STICKY_MS = 10_000;

const schema = z.object({
  selector: prop.string('round_robin'),
  backoff: prop.bool(false),
  'selector.maxTimeOut': prop.int(30_000, 0),
});
export type LoadBalanceProcessorConfig = z.infer<typeof schema>;

function selectorKind(name: string): SelectorKind | undefined {
  return SELECTORS.find((s) => s === name.trim().toLowerCase());
}

function checkSelector(c: LoadBalanceProcessorConfig): Array<[string, string]> {
  if (selectorKind(c.selector) !== undefined) return [];
  const why = c.selector.includes('.') ? 'names a custom selector class, which Monsoon cannot load' : 'is not a known selector';
  return [['selector', `"${c.selector}" ${why}; use round_robin or random`]];
}

export interface LoadBalanceOptions {
  log?: Logger;
  counters?: ProcessorContext['counters'];
  inflightAtStart?: readonly string[];
  now?: Clock;
  random?: () => number;
  /** How long a sink that held a batch in flight keeps the first claim on it after a restart. */
  stickyMs?: number;
}

export class LoadBalancingSinkProcessor implements SinkProcessor {
  private readonly order: SinkOrder;
  private readonly failing: boolean[];
  private readonly sticky: number[];
  private stickyUntil: number | undefined;
  private stickyError: unknown;

  constructor(
    private readonly sinks: readonly Sink[],
    cfg: LoadBalanceProcessorConfig,
    private readonly opts: LoadBalanceOptions = {},
  ) {
    const kind = selectorKind(cfg.selector);
    if (kind === undefined) throw new MonsoonError(ErrorCodes.CONFIG_INVALID, checkSelector(cfg)[0]![1]);
    this.order = new SinkOrder(sinks.length, kind, cfg.backoff, cfg['selector.maxTimeOut'], () => this.now(), opts.random);
    this.failing = sinks.map(() => false);
    this.sticky = sinks.flatMap((s, i) => (opts.inflightAtStart?.includes(s.name) ? [i] : []));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  start(): Promise<void> {
    return startSinks(this.sinks);
  }
  stop(): Promise<void> {
    return stopSinks(this.sinks);
  }

  async process(): Promise<SinkStatus> {
    if (this.sticky.length > 0) {
      const status = await this.processSticky();
      if (status !== undefined) return status;
    }
    const order = this.order.order();
    let sawBackoff = false;
    let lastError: unknown;
    for (const i of order) {
      try {
        if ((await this.call(i)) === 'READY') return 'READY';
        sawBackoff = true;
      } catch (e) {
        lastError = e;
      }
    }
    if (sawBackoff) return 'BACKOFF';
    throw this.allFailed(order.length, lastError);
  }

  /** Calls sink i; records success or failure (back-off, one warning per failure streak) and rethrows. */
  private async call(i: number): Promise<SinkStatus> {
    const sink = this.sinks[i]!;
    try {
      const status = await sink.process();
      if (status === 'READY') {
        this.order.succeeded(i);
        if (this.failing[i]) this.opts.log?.info({ sink: sink.name }, `Sink ${sink.name} delivers again.`);
        this.failing[i] = false;
      }
      return status;
    } catch (e) {
      const ms = this.order.failed(i);
      if (!this.failing[i]) {
        this.opts.log?.warn({ sink: sink.name, backoffMs: ms }, `Sink ${sink.name} failed (${errorMessage(e)}); the next sink of the group takes the batch${ms > 0 ? ` and ${sink.name} sits out for ${ms} ms` : ''}.`);
      }
      this.failing[i] = true;
      throw e;
    }
  }

  /** Offers the head batch to the sinks that held it in flight; undefined once none is pending. */
  private async processSticky(): Promise<SinkStatus | undefined> {
    while (this.sticky.length > 0) {
      const i = this.sticky[0]!;
      const now = this.now();
      this.stickyUntil ??= now + (this.opts.stickyMs ?? STICKY_MS);
      if (now >= this.stickyUntil) {
        this.giveUp(i);
        continue;
      }
      const restoreAt = this.order.restoreAt(i);
      if (restoreAt > now) throw this.stickyWait(i);
      try {
        const status = await this.call(i);
        this.sticky.shift();
        // BACKOFF: nothing at the head, so the batch was committed before the stop; nothing to replay.
        if (status === 'READY') return status;
      } catch (e) {
        this.stickyError = e;
        if (this.now() >= this.stickyUntil) this.giveUp(i);
        else throw this.stickyWait(i);
      }
    }
    return undefined;
  }

  private giveUp(i: number): void {
    this.sticky.shift();
    this.opts.counters?.inc('PossibleDuplicateCount');
    const name = this.sinks[i]!.name;
    this.opts.log?.warn({ sink: name }, `Sink ${name} could not deliver the batch it held in flight before the restart in time; other sinks take it, so its events may arrive twice.`);
  }

  private stickyWait(i: number): MonsoonError {
    const name = this.sinks[i]!.name;
    const code = this.stickyError instanceof MonsoonError ? this.stickyError.code : ErrorCodes.SINK_WRITE;
    const last = this.stickyError === undefined ? '' : ` (last error: ${errorMessage(this.stickyError)})`;
    return new MonsoonError(
      code,
      `sink ${name} held a batch in flight when the agent stopped and is retried first, until ${new Date(this.stickyUntil ?? 0).toISOString()}, so that its receiver can drop the replay${last}`,
      { retriable: true, cause: this.stickyError },
    );
  }

  private allFailed(tried: number, lastError: unknown): MonsoonError {
    const what = tried === 0 ? `all ${this.sinks.length} sinks of the load-balancing group are backed off after failures` : `all ${tried} sinks tried failed`;
    const last = lastError === undefined ? '' : ` (last error: ${errorMessage(lastError)})`;
    return new MonsoonError(ErrorCodes.PROCESSOR_ALL_FAILED, `${what}${last}`, { retriable: true, cause: lastError });
  }
}

export function createLoadBalanceProcessor(cfg: LoadBalanceProcessorConfig, ctx: ProcessorContext): LoadBalancingSinkProcessor {
  if (ctx.sinks.length === 0) throw groupConfigError(ctx, 'type', `load_balance needs at least one sink, but sink group ${ctx.name} has none`);
  return new LoadBalancingSinkProcessor(ctx.sinks, cfg, { log: ctx.log, counters: ctx.counters, inflightAtStart: ctx.inflightAtStart });
}

defineProcessor({
  type: 'load_balance',
  aliases: ['org.apache.flume.sink.LoadBalancingSinkProcessor'],
  description: 'Spreads batches over its sinks (round_robin or random), moving on when a sink fails; optional exponential back-off.',
  schema,
  check: checkSelector,
  create: createLoadBalanceProcessor,
});
