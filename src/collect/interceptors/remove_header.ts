import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';
import { checkJavaRegex, javaRegex } from './java-regex.js';

/**
 * Remove header interceptor: removes the header named withName, the headers named in fromList (split
 * by the fromListSeparator regex) and every header whose whole name matches the `matching` regex.
 */
const schema = z.object({
  withName: prop.optionalString(),
  fromList: prop.optionalString(),
  fromListSeparator: prop.regex('\\s*,\\s*'),
  matching: prop.optionalString(),
});
export type RemoveHeaderConfig = z.infer<typeof schema>;

export class RemoveHeaderInterceptor implements Interceptor {
  private readonly names = new Set<string>();
  private readonly matching: RegExp | undefined = undefined;
  constructor(cfg: RemoveHeaderConfig) {
    if (cfg.withName) this.names.add(cfg.withName);
    if (cfg.fromList) for (const n of cfg.fromList.split(cfg.fromListSeparator ?? /\s*,\s*/)) if (n) this.names.add(n);
    if (cfg.matching) {
      const re = javaRegex(cfg.matching);
      this.matching = new RegExp(`^(?:${re.source})$`, re.flags);
    }
  }
  intercept(events: Event[]): Event[] {
    for (const e of events) {
      for (const n of this.names) delete e.headers[n];
      if (this.matching) for (const k of Object.keys(e.headers)) if (this.matching.test(k)) delete e.headers[k];
    }
    return events;
  }
}

defineInterceptor({
  type: 'remove_header',
  aliases: ['org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder'],
  description: 'Removes headers by name, from a list, or by a regular expression over their names.',
  schema,
  check: (c) => {
    const bad = c.matching ? checkJavaRegex(c.matching) : undefined;
    return bad ? [['matching', bad]] : [];
  },
  create: (cfg) => new RemoveHeaderInterceptor(cfg),
});
