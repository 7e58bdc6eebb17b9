import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';

/** Body prefix interceptor: prepends the literal string `value` (UTF-8) to every event body. */
const schema = z.object({
  value: prop.requiredString(),
});
export type BodyPrefixConfig = z.infer<typeof schema>;

export class BodyPrefixInterceptor implements Interceptor {
  private readonly prefix: Buffer;
  constructor(cfg: BodyPrefixConfig) {
    this.prefix = Buffer.from(cfg.value, 'utf8');
  }
  intercept(events: Event[]): Event[] {
    for (const e of events) e.body = Buffer.concat([this.prefix, e.body]);
    return events;
  }
}

defineInterceptor({
  type: 'body_prefix',
  aliases: ['org.apache.flume.interceptor.ValueBodyInterceptor$Builder'],
  description: 'Prepends a literal string to every event body.',
  schema,
  create: (cfg) => new BodyPrefixInterceptor(cfg),
});
