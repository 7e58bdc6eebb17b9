import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';

/** Static interceptor: sets one fixed header on every event (kept if present, unless preserveExisting is false). */
const schema = z.object({
  preserveExisting: prop.bool(true),
  key: prop.string('key'),
  value: prop.string('value'),
});
export type StaticInterceptorConfig = z.infer<typeof schema>;

export class StaticInterceptor implements Interceptor {
  constructor(private readonly cfg: StaticInterceptorConfig) {}
  intercept(events: Event[]): Event[] {
    const { key, value, preserveExisting } = this.cfg;
    for (const e of events) if (!(preserveExisting && e.headers[key] !== undefined)) e.headers[key] = value;
    return events;
  }
}

defineInterceptor({
  type: 'static',
  aliases: ['org.apache.flume.interceptor.StaticInterceptor$Builder'],
  description: 'Sets a fixed header on every event.',
  schema,
  create: (cfg) => new StaticInterceptor(cfg),
});
