import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';

/** Timestamp interceptor: sets `header` (default `timestamp`) to the time of interception in epoch millis. */
const schema = z.object({
  preserveExisting: prop.bool(false),
  header: prop.string('timestamp'),
});
export type TimestampInterceptorConfig = z.infer<typeof schema>;

export class TimestampInterceptor implements Interceptor {
  constructor(
    private readonly cfg: TimestampInterceptorConfig,
    private readonly now: () => number = Date.now,
  ) {}
  intercept(events: Event[]): Event[] {
    const ts = String(this.now());
    const { header, preserveExisting } = this.cfg;
    for (const e of events) if (!(preserveExisting && e.headers[header] !== undefined)) e.headers[header] = ts;
    return events;
  }
}

defineInterceptor({
  type: 'timestamp',
  aliases: ['org.apache.flume.interceptor.TimestampInterceptor$Builder'],
  description: 'Sets a header to the current time in milliseconds since the epoch.',
  schema,
  create: (cfg) => new TimestampInterceptor(cfg),
});
