import type { Event } from '../core/event.js';
import type { ComponentCounters } from '../core/metrics.js';
import type { Logger } from '../core/log.js';
import type { Channel, ChannelProcessor, ChannelSelector, Interceptor } from './contracts.js';

/**
 * Runs a source's interceptors, routes each event through the selector and commits one transaction
 * per channel. Required channels fail the batch (the source retries all of it); optional channels are
 * best effort and only counted.
 *
 * A batch that reaches several channels is not one transaction. Two rules keep that exact:
 * - the channel that holds the source's markers (its first channel) commits last, so a marker never
 *   runs ahead of a channel that did not get the batch (a crash in between re-reads the batch, and
 *   the copies already committed elsewhere carry the same identities for downstream dedup);
 * - when a source retries the same batch (the same array) after a failure, channels that already
 *   committed it are skipped.
 * Interceptors run on copies of the events, so a retried batch is intercepted afresh, not twice.
 */
export class DefaultChannelProcessor implements ChannelProcessor {
  private readonly committed = new WeakMap<readonly Event[], Set<Channel>>();

  constructor(
    private readonly selector: ChannelSelector,
    private readonly interceptors: readonly Interceptor[],
    private readonly counters: ComponentCounters,
    private readonly log: Logger,
  ) {}

  marker(key: string): string | undefined {
    const first = this.selector.all()[0];
    return first?.marker(key);
  }

  maxBatch(): number {
    return Math.min(...this.selector.all().map((c) => c.transactionCapacity));
  }

  async waitForSpace(ms: number): Promise<void> {
    await Promise.race(this.selector.all().map((c) => c.waitForSpace(ms)));
  }

  async process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void> {
    let batch = events;
    if (this.interceptors.length > 0) {
      batch = events.map((e) => ({ headers: { ...e.headers }, body: e.body }));
      for (const i of this.interceptors) batch = i.intercept(batch);
    }
    const required = new Map<Channel, Event[]>();
    const optional = new Map<Channel, Event[]>();
    // A marker must reach the channel that a restarting source reads it from, even if every event
    // was filtered out or routed elsewhere.
    if (markers) for (const c of this.selector.all().slice(0, 1)) required.set(c, []);
    for (const e of batch) {
      const req = this.selector.required(e);
      for (const c of req) push(required, c, e);
      // Optional per event: another event requiring the same channel must not cancel this copy.
      for (const c of this.selector.optional(e)) if (!req.includes(c)) push(optional, c, e);
    }
    const markerChannel = this.selector.all()[0];
    const order = [...required.keys()].sort((a, b) => (a === markerChannel ? 1 : 0) - (b === markerChannel ? 1 : 0));
    const done = this.committed.get(events) ?? new Set<Channel>();
    for (const channel of order) {
      if (done.has(channel)) continue;
      const tx = channel.transaction();
      try {
        tx.put(required.get(channel)!);
        await tx.commit(markers);
      } catch (err) {
        await tx.rollback();
        this.counters.inc('ChannelWriteFail', 1);
        if (done.size > 0) this.committed.set(events, done);
        throw err;
      }
      done.add(channel);
    }
    this.committed.delete(events);
    for (const [channel, es] of optional) {
      const tx = channel.transaction();
      try {
        tx.put(es);
        await tx.commit();
      } catch (err) {
        await tx.rollback();
        this.log.warn({ channel: channel.name, err: String(err) }, 'Dropped a batch for an optional channel that refused it.');
      }
    }
  }
}

function push(m: Map<Channel, Event[]>, c: Channel, e: Event): void {
  const a = m.get(c);
  if (a) a.push(e);
  else m.set(c, [e]);
}
