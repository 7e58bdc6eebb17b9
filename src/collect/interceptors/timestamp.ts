import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';

/**
 * Timestamp interceptor: sets the header `headerName` (default `timestamp`; `header` is accepted too)
 * to the time of interception in epoch millis.
 */
const schema = z.object({
  preserveExisting: prop.bool(false),
  headerName: prop.optionalString(),
  header: prop.optionalString(),
});
export type TimestampInterceptorConfig = z.infer<typeof schema>;

export class TimestampInterceptor implements Interceptor {
  private readonly header: string;
  constructor(
    private readonly cfg: TimestampInterceptorConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.header = cfg.headerName || cfg.header || 'timestamp';
  }
  intercept(events: Event[]): Event[] {
    const ts = String(this.now());
    const { header } = this;
    const { preserveExisting } = this.cfg;
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
