import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';
import { checkJavaRegex, javaRegex } from './java-regex.js';

/**
 * Regex filtering interceptor: keeps events whose body (UTF-8) contains a match of `regex`, or drops
 * them when excludeEvents is true.
 */
const schema = z.object({
  regex: prop.string('.*'),
  excludeEvents: prop.bool(false),
});
export type RegexFilterConfig = z.infer<typeof schema>;

export class RegexFilterInterceptor implements Interceptor {
  private readonly re: RegExp;
  constructor(private readonly cfg: RegexFilterConfig) {
    this.re = javaRegex(cfg.regex);
  }
  intercept(events: Event[]): Event[] {
    const keep = !this.cfg.excludeEvents;
    return events.filter((e) => this.re.test(e.body.toString('utf8')) === keep);
  }
}

defineInterceptor({
  type: 'regex_filter',
  aliases: ['org.apache.flume.interceptor.RegexFilteringInterceptor$Builder'],
  description: 'Keeps (or, with excludeEvents, drops) events whose body matches a regular expression.',
  schema,
  check: (c) => {
    const bad = checkJavaRegex(c.regex);
    return bad ? [['regex', bad]] : [];
  },
  create: (cfg) => new RegexFilterInterceptor(cfg),
});
