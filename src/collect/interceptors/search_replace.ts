import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';
import { checkJavaRegex, javaRegex } from './java-regex.js';

/**
 * Search and replace interceptor: replaces every match of searchPattern in the body with
 * replaceString. The replacement follows Java's rules, as in Flume: `$1` / `${name}` insert groups and
 * a backslash makes the next character literal.
 */
const CHARSETS: Readonly<Record<string, BufferEncoding>> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  'iso-8859-1': 'latin1',
  latin1: 'latin1',
  'us-ascii': 'ascii',
  ascii: 'ascii',
  'utf-16le': 'utf16le',
};

const schema = z.object({
  searchPattern: prop.requiredString(),
  replaceString: prop.string(''),
  charset: prop.string('UTF-8'),
});
export type SearchReplaceConfig = z.infer<typeof schema>;

type Groups = Record<string, string | undefined> | undefined;

/** Compiles a Java replacement string into a function of the match. */
export function javaReplacement(rep: string): (match: string, groups: (string | undefined)[], named: Groups) => string {
  const parts: Array<string | number | { name: string }> = [];
  let lit = '';
  for (let i = 0; i < rep.length; i++) {
    const ch = rep[i]!;
    if (ch === '\\' && i + 1 < rep.length) {
      lit += rep[++i];
    } else if (ch === '$' && rep[i + 1] === '{') {
      const end = rep.indexOf('}', i);
      if (end < 0) throw new Error(`unterminated group name in replacement "${rep}"`);
      parts.push(lit, { name: rep.slice(i + 2, end) });
      lit = '';
      i = end;
    } else if (ch === '$' && /\d/.test(rep[i + 1] ?? '')) {
      parts.push(lit, Number(rep[++i]));
      lit = '';
    } else {
      lit += ch;
    }
  }
  parts.push(lit);
  return (match, groups, named) =>
    parts.map((p) => (typeof p === 'string' ? p : typeof p === 'number' ? (p === 0 ? match : (groups[p - 1] ?? '')) : (named?.[p.name] ?? ''))).join('');
}

export class SearchReplaceInterceptor implements Interceptor {
  private readonly re: RegExp;
  private readonly enc: BufferEncoding;
  private readonly rep: ReturnType<typeof javaReplacement>;
  constructor(cfg: SearchReplaceConfig) {
    this.re = javaRegex(cfg.searchPattern, 'g');
    this.enc = CHARSETS[cfg.charset.toLowerCase()] ?? 'utf8';
    this.rep = javaReplacement(cfg.replaceString);
  }
  intercept(events: Event[]): Event[] {
    for (const e of events) {
      const s = e.body.toString(this.enc);
      const out = s.replace(this.re, (m: string, ...rest: unknown[]) => {
        const hasNamed = typeof rest[rest.length - 1] === 'object';
        const named = hasNamed ? (rest[rest.length - 1] as Groups) : undefined;
        const groups = rest.slice(0, rest.length - (hasNamed ? 3 : 2)) as (string | undefined)[];
        return this.rep(m, groups, named);
      });
      if (out !== s) e.body = Buffer.from(out, this.enc);
    }
    return events;
  }
}

defineInterceptor({
  type: 'search_replace',
  aliases: ['org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder'],
  description: 'Replaces every match of a regular expression in the event body.',
  schema,
  check: (c) => {
    const out: Array<[string, string]> = [];
    const bad = checkJavaRegex(c.searchPattern);
    if (bad) out.push(['searchPattern', bad]);
    try {
      javaReplacement(c.replaceString);
    } catch (e) {
      out.push(['replaceString', (e as Error).message]);
    }
    if (CHARSETS[c.charset.toLowerCase()] === undefined) out.push(['charset', `unsupported charset "${c.charset}"; use one of ${Object.keys(CHARSETS).join(', ')}`]);
    return out;
  },
  create: (cfg) => new SearchReplaceInterceptor(cfg),
});
