import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { makeEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { MetricsRegistry, SinkCounterNames } from '../../core/metrics.js';
import type { Channel, ProcessorContext, Sink, SinkStatus } from '../contracts.js';

/** Test doubles for sink processor tests: a sink that takes real batches and fails on demand. */
export class FakeSink implements Sink {
  /** `fail`: takes a batch, rolls it back and throws, as a sink whose receiver is down. */
  mode: 'ok' | 'fail' = 'ok';
  calls = 0;
  failures = 0;
  readonly batches: string[][] = [];
  started = false;
  stopped = false;
  /** When set, process() waits for it after taking its batch (to hold a delivery open). */
  gate: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly channel: Channel,
    readonly batchSize = 10,
  ) {}

  async start(): Promise<void> {
    this.started = true;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }

  async process(): Promise<SinkStatus> {
    this.calls++;
    const tx = this.channel.transaction();
    const events = await tx.take(this.batchSize);
    if (events.length === 0) {
      await tx.commit();
      return 'BACKOFF';
    }
    if (this.gate) await this.gate;
    if (this.mode === 'fail') {
      await tx.rollback();
      this.failures++;
      throw new MonsoonError(ErrorCodes.SINK_CONNECT, `sink ${this.name} cannot reach its receiver`, { retriable: true });
    }
    await tx.commit();
    this.batches.push(events.map((e) => e.body.toString()));
    return 'READY';
  }

  delivered(): string[] {
    return this.batches.flat();
  }
}

export async function fill(ch: Channel, n: number, from = 0): Promise<void> {
  const events = Array.from({ length: n }, (_, i) => makeEvent(`e${from + i}`));
  for (let i = 0; i < events.length; i += ch.transactionCapacity) {
    const tx = ch.transaction();
    tx.put(events.slice(i, i + ch.transactionCapacity));
    await tx.commit();
  }
}

export function processorContext(sinks: Sink[], inflightAtStart: readonly string[] = []): ProcessorContext {
  const metrics = new MetricsRegistry('a1');
  return {
    agent: 'a1',
    agentId: 'test-host/a1',
    name: 'g1',
    log: silentLogger,
    metrics,
    dataDir: '/nonexistent',
    sinks,
    counters: metrics.component('SINK_PROCESSOR', 'g1', SinkCounterNames),
    inflightAtStart,
  };
}

/** A hand-moved clock. */
export function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void; set: (t: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (v) => void (t = v) };
}
