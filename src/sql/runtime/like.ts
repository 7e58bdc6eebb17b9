/**
 * SQL LIKE → RegExp: `%` any run of characters, `_` exactly one, `\` escapes the next character (so
 * `\%` is a literal percent); every other character matches itself, regex metacharacters included.
 * The whole value must match.
 */
export function likeToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escape(pattern[++i]!);
    else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += escape(c);
  }
  return new RegExp(`^${re}$`, 'u');
}

function escape(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}
