/**
 * Flume configurations carry Java regular expressions. Most of the syntax is shared with JavaScript;
 * the common exception is leading inline flags such as `(?i)`, which become RegExp flags here.
 */
const FLAGS: Readonly<Record<string, string>> = { i: 'i', s: 's', m: 'm', u: 'u' };

export function javaRegex(source: string, extraFlags = ''): RegExp {
  let src = source;
  let flags = extraFlags;
  const m = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (m && [...m[1]!].every((f) => FLAGS[f] !== undefined || f === 'x' || f === 'd')) {
    for (const f of m[1]!) if (FLAGS[f] && !flags.includes(FLAGS[f])) flags += FLAGS[f];
    src = src.slice(m[0].length);
  }
  return new RegExp(src, flags);
}

/** A config check message for a Java regular expression, or undefined when it compiles. */
export function checkJavaRegex(source: string): string | undefined {
  try {
    javaRegex(source);
    return undefined;
  } catch (e) {
    return `is not a valid regular expression: ${(e as Error).message}`;
  }
}
