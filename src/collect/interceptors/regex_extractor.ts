import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';
import { DatePattern } from './date-pattern.js';
import { checkJavaRegex, javaRegex } from './java-regex.js';

/**
 * Regex extractor interceptor: matches `regex` against the body (UTF-8) and stores capture group i in
 * the header named by the i-th serializer of `serializers`. The millis serializer turns a date written
 * in `pattern` into epoch millis; the default one copies the group as is.
 *
 *   serializers = s1 s2
 *   serializers.s1.name = level
 *   serializers.s2.type = org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer
 *   serializers.s2.name = timestamp
 *   serializers.s2.pattern = yyyy-MM-dd HH:mm
 */
const MILLIS = ['millis', 'org.apache.flume.interceptor.regexextractorinterceptormillisserializer'];
const PASS = ['default', 'org.apache.flume.interceptor.regexextractorinterceptorpassthroughserializer'];

const schema = z.object({
  regex: prop.requiredString(),
  serializers: z.record(z.string(), z.string()).default({}),
});
export type RegexExtractorConfig = z.infer<typeof schema>;

interface Serializer {
  header: string;
  convert: (s: string) => string | undefined;
}

/** Builds the serializers, or returns [key, message] problems naming the exact property. */
function buildSerializers(map: Record<string, string>): { list: Serializer[]; problems: Array<[string, string]> } {
  const list: Serializer[] = [];
  const problems: Array<[string, string]> = [];
  for (const n of (map[''] ?? '').split(/\s+/).filter(Boolean)) {
    const header = map[`${n}.name`];
    if (!header) problems.push([`serializers.${n}.name`, 'is required']);
    const type = (map[`${n}.type`] ?? 'default').trim().toLowerCase();
    let convert: Serializer['convert'] = (s) => s;
    if (MILLIS.includes(type)) {
      const pattern = map[`${n}.pattern`];
      if (!pattern) {
        problems.push([`serializers.${n}.pattern`, 'is required for the millis serializer']);
        continue;
      }
      try {
        const p = new DatePattern(pattern);
        convert = (s) => {
          const ms = p.parse(s);
          return ms === undefined ? undefined : String(ms);
        };
      } catch (e) {
        problems.push([`serializers.${n}.pattern`, (e as Error).message]);
      }
    } else if (!PASS.includes(type)) {
      problems.push([`serializers.${n}.type`, `unknown serializer type "${map[`${n}.type`]}"; use default or org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer`]);
    }
    if (header) list.push({ header, convert });
  }
  return { list, problems };
}

export class RegexExtractorInterceptor implements Interceptor {
  private readonly re: RegExp;
  private readonly serializers: Serializer[];
  constructor(cfg: RegexExtractorConfig) {
    this.re = javaRegex(cfg.regex);
    this.serializers = buildSerializers(cfg.serializers).list;
  }
  intercept(events: Event[]): Event[] {
    for (const e of events) {
      const m = this.re.exec(e.body.toString('utf8'));
      if (!m) continue;
      const n = Math.min(m.length - 1, this.serializers.length);
      for (let i = 0; i < n; i++) {
        const group = m[i + 1];
        if (group === undefined) continue;
        const s = this.serializers[i]!;
        const v = s.convert(group);
        if (v !== undefined) e.headers[s.header] = v;
      }
    }
    return events;
  }
}

defineInterceptor({
  type: 'regex_extractor',
  aliases: ['org.apache.flume.interceptor.RegexExtractorInterceptor$Builder'],
  description: 'Copies regular expression groups of the body into headers, optionally parsing dates to millis.',
  schema,
  maps: ['serializers'],
  check: (c) => {
    const out = buildSerializers(c.serializers).problems;
    const bad = checkJavaRegex(c.regex);
    if (bad) out.unshift(['regex', bad]);
    return out;
  },
  create: (cfg) => new RegexExtractorInterceptor(cfg),
});
