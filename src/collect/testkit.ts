import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelFullError } from '../core/errors.js';
import type { Event } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { ChannelCounterNames, MetricsRegistry, SinkCounterNames, SourceCounterNames } from '../core/metrics.js';
import type { Channel, ChannelContext, ChannelProcessor, ComponentContext, InFlightLog, SinkContext, SourceContext } from './contracts.js';
import { MemoryChannel } from './channels/memory.js';

let scratch: string | undefined;
/**
 * One scratch directory per test process, removed when the process exits; under MONSOON_TEST_TMPDIR
 * when set (scripts/run-tests.mjs removes that at the end, for processes that were killed).
 */
export function scratchDir(prefix = 'ctx-'): string {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(process.env.MONSOON_TEST_TMPDIR ?? tmpdir(), 'monsoon-test-'));
    scratch = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return mkdtempSync(join(scratch, prefix));
}

/** Helpers for component tests: contexts with a silent log, fresh metrics and a temporary data dir. */
export function testContext(name: string): ComponentContext {
  return { agent: 'a1', agentId: 'test-host/a1', name, log: silentLogger, metrics: new MetricsRegistry('a1'), dataDir: scratchDir() };
}

export function channelContext(name: string): ChannelContext {
  const c = testContext(name);
  return { ...c, counters: c.metrics.component('CHANNEL', name, ChannelCounterNames) };
}

/** A ChannelProcessor that records what it was given; `failNext` makes the next calls throw ChannelFull. */
export class RecordingProcessor implements ChannelProcessor {
  readonly events: Event[] = [];
  readonly markers = new Map<string, string>();
  batches = 0;
  /** The number of events in each accepted batch, in order. */
  readonly sizes: number[] = [];
  failNext = 0;
  async process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new ChannelFullError('test channel is full');
    }
    this.batches++;
    this.sizes.push(events.length);
    for (const e of events) this.events.push(e);
    if (markers) for (const [k, v] of Object.entries(markers)) this.markers.set(k, v);
  }
  marker(key: string): string | undefined {
    return this.markers.get(key);
  }
  async waitForSpace(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, Math.min(ms, 10)));
  }
  maxBatch(): number {
    return Number.MAX_SAFE_INTEGER;
  }
  bodies(): string[] {
    return this.events.map((e) => e.body.toString());
  }
}

export function sourceContext(name: string, processor: ChannelProcessor = new RecordingProcessor()): SourceContext {
  const c = testContext(name);
  return { ...c, processor, counters: c.metrics.component('SOURCE', name, SourceCounterNames) };
}

export const noInFlight: InFlightLog = { begin() {}, end() {} };

export function sinkContext(name: string, channel: Channel): SinkContext {
  const c = testContext(name);
  return { ...c, channel, counters: c.metrics.component('SINK', name, SinkCounterNames), inflight: noInFlight };
}

export function memoryChannel(name = 'c1', capacity = 100_000, transactionCapacity = 10_000): MemoryChannel {
  return new MemoryChannel(name, { capacity, transactionCapacity, byteCapacity: 1 << 30, byteCapacityBufferPercentage: 20, 'keep-alive': 0 }, channelContext(name));
}

/** Polls `cond` every 10 ms until it holds or `ms` pass; throws with `what` on timeout. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
