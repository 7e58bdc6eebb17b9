import { ChannelFullError } from '../core/errors.js';
import type { Event } from '../core/event.js';
import type { ComponentCounters } from '../core/metrics.js';
import type { Logger } from '../core/log.js';
import type { Channel, ChannelProcessor, ChannelSelector, Interceptor } from './contracts.js';

/**
 * Runs a source's interceptors, routes each event through the selector and commits one transaction
 * per channel. Required channels fail the batch (the source retries all of it); optional channels are
 * best effort and only counted.
 */
export class DefaultChannelProcessor implements ChannelProcessor {
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

  async waitForSpace(ms: number): Promise<void> {
    await Promise.race(this.selector.all().map((c) => c.waitForSpace(ms)));
  }

  async process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void> {
    let batch = events;
    for (const i of this.interceptors) batch = i.intercept(batch);
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
    for (const [channel, es] of required) {
      const tx = channel.transaction();
      try {
        tx.put(es);
        await tx.commit(markers);
      } catch (err) {
        await tx.rollback();
        this.counters.inc('ChannelWriteFail', 1);
        if (err instanceof ChannelFullError) throw err;
        throw err;
      }
    }
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
