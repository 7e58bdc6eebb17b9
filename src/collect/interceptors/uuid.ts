import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';

/** UUID interceptor: sets `headerName` (default `id`) to `prefix` + a random UUID. */
const schema = z.object({
  headerName: prop.string('id'),
  preserveExisting: prop.bool(true),
  prefix: prop.string(''),
});
export type UuidInterceptorConfig = z.infer<typeof schema>;

export class UuidInterceptor implements Interceptor {
  constructor(private readonly cfg: UuidInterceptorConfig) {}
  intercept(events: Event[]): Event[] {
    const { headerName, preserveExisting, prefix } = this.cfg;
    for (const e of events) if (!(preserveExisting && e.headers[headerName] !== undefined)) e.headers[headerName] = prefix + randomUUID();
    return events;
  }
}

defineInterceptor({
  type: 'uuid',
  aliases: ['org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder'],
  description: 'Sets a header to a random UUID, optionally prefixed.',
  schema,
  create: (cfg) => new UuidInterceptor(cfg),
});
