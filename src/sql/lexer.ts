import { createToken, Lexer, type TokenType } from 'chevrotain';

/**
 * StreamCQL tokens. Keywords are case-insensitive. Words that only mean something in one statement
 * (SOURCE, COMMENT, SCHEMA, …) are "soft": they also match Identifier, so they stay usable as stream,
 * column and property names. Types, time units and function names are plain identifiers checked by
 * the parser or the analyzer, so `day` or `date` can name a column.
 */

export const Identifier = createToken({ name: 'Identifier', label: 'a name', pattern: /[A-Za-z_][A-Za-z0-9_$]*/ });

/** Any keyword: property keys and values may be words such as `group` or `file`. */
export const Keyword = createToken({ name: 'Keyword', pattern: Lexer.NA });

const keywordList: TokenType[] = [];
function kw(word: string, soft = false): TokenType {
  const t = createToken({
    name: word,
    pattern: new RegExp(`${word}(?![A-Za-z0-9_$])`, 'i'),
    longer_alt: Identifier,
    categories: soft ? [Identifier, Keyword] : [Keyword],
  });
  keywordList.push(t);
  return t;
}

export const K = {
  SELECT: kw('SELECT'), FROM: kw('FROM'), WHERE: kw('WHERE'), GROUP: kw('GROUP'), BY: kw('BY'),
  HAVING: kw('HAVING'), ORDER: kw('ORDER'), LIMIT: kw('LIMIT'), INSERT: kw('INSERT'), INTO: kw('INTO'),
  STREAM: kw('STREAM'), CREATE: kw('CREATE'), INPUT: kw('INPUT', true), OUTPUT: kw('OUTPUT', true),
  SOURCE: kw('SOURCE', true), SINK: kw('SINK', true), SERDE: kw('SERDE', true), PROPERTIES: kw('PROPERTIES', true),
  PARALLEL: kw('PARALLEL'), COMMENT: kw('COMMENT', true), AS: kw('AS'), AND: kw('AND'), OR: kw('OR'),
  NOT: kw('NOT'), IS: kw('IS'), NULL: kw('NULL'), LIKE: kw('LIKE'), RLIKE: kw('RLIKE'), REGEXP: kw('REGEXP'),
  BETWEEN: kw('BETWEEN'), IN: kw('IN'), CASE: kw('CASE'), WHEN: kw('WHEN'), THEN: kw('THEN'), ELSE: kw('ELSE'),
  END: kw('END'), CAST: kw('CAST'), PREVIOUS: kw('PREVIOUS'), DISTINCT: kw('DISTINCT'), ASC: kw('ASC'),
  DESC: kw('DESC'), TRUE: kw('TRUE'), FALSE: kw('FALSE'), JOIN: kw('JOIN'), INNER: kw('INNER'), LEFT: kw('LEFT'),
  RIGHT: kw('RIGHT'), FULL: kw('FULL'), OUTER: kw('OUTER'), CROSS: kw('CROSS'), ON: kw('ON'),
  UNIDIRECTION: kw('UNIDIRECTION'), COMBINE: kw('COMBINE'), ROWS: kw('ROWS'), RANGE: kw('RANGE'),
  SLIDE: kw('SLIDE'), BATCH: kw('BATCH'), UNBOUNDED: kw('UNBOUNDED'), TODAY: kw('TODAY'),
  PARTITION: kw('PARTITION'), SORT: kw('SORT'), TRIGGER: kw('TRIGGER'), EXCLUDE: kw('EXCLUDE'), NOW: kw('NOW', true),
  SUBMIT: kw('SUBMIT'), APPLICATIONS: kw('APPLICATIONS', true), APPLICATION: kw('APPLICATION', true),
  FORCE: kw('FORCE', true), EXPLAIN: kw('EXPLAIN'), DROP: kw('DROP'), IF: kw('IF'), EXISTS: kw('EXISTS'),
  SHOW: kw('SHOW'), DEACTIVE: kw('DEACTIVE'), ACTIVE: kw('ACTIVE'), REBALANCE: kw('REBALANCE'), SET: kw('SET'),
  WORKER: kw('WORKER', true), GET: kw('GET'), FUNCTIONS: kw('FUNCTIONS', true), FUNCTION: kw('FUNCTION', true),
  OPERATOR: kw('OPERATOR', true), USING: kw('USING'), DISTRIBUTE: kw('DISTRIBUTE'), ADD: kw('ADD'),
  JAR: kw('JAR', true), FILE: kw('FILE', true), DATASOURCE: kw('DATASOURCE', true), SCHEMA: kw('SCHEMA', true),
  QUERY: kw('QUERY', true), DIV: kw('DIV'), RETURNS: kw('RETURNS', true),
};

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /\s+/, group: Lexer.SKIPPED, line_breaks: true });
export const LineComment = createToken({ name: 'LineComment', pattern: /--[^\n\r]*/, group: Lexer.SKIPPED });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: Lexer.SKIPPED, line_breaks: true });
export const StringLit = createToken({ name: 'StringLit', label: 'a string', pattern: /'(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*"/, line_breaks: true });
/** 12, 12L, 1.5, 1.5F, 2D, 3.25BD, 1e9 — the suffix picks the type (INT/LONG/FLOAT/DOUBLE/DECIMAL). */
export const NumberLit = createToken({ name: 'NumberLit', label: 'a number', pattern: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?:BD|bd|Bd|bD|[LlFfDd])?(?![A-Za-z0-9_])/ });

const p = (name: string, pattern: string) => createToken({ name, label: `'${pattern}'`, pattern: new RegExp(pattern.replace(/[|\\{}()[\]^$+*?.]/g, '\\$&')) });
export const P = {
  NullSafeEq: p('NullSafeEq', '<=>'), Le: p('Le', '<='), Ne: p('Ne', '<>'), Ge: p('Ge', '>='), BangEq: p('BangEq', '!='),
  EqEq: p('EqEq', '=='), Concat: p('Concat', '||'), Lt: p('Lt', '<'), Gt: p('Gt', '>'), Eq: p('Eq', '='),
  Bang: p('Bang', '!'), Plus: p('Plus', '+'), Minus: p('Minus', '-'), Star: p('Star', '*'), Slash: p('Slash', '/'),
  Percent: p('Percent', '%'), Pipe: p('Pipe', '|'), Amp: p('Amp', '&'), Caret: p('Caret', '^'), Tilde: p('Tilde', '~'),
  LParen: p('LParen', '('), RParen: p('RParen', ')'), LSquare: p('LSquare', '['), RSquare: p('RSquare', ']'),
  Comma: p('Comma', ','), Dot: p('Dot', '.'), Semi: p('Semi', ';'),
};

export const allTokens: TokenType[] = [
  WhiteSpace, LineComment, BlockComment, StringLit, NumberLit,
  P.NullSafeEq, P.Le, P.Ne, P.Ge, P.BangEq, P.EqEq, P.Concat, P.Lt, P.Gt, P.Eq, P.Bang, P.Plus, P.Minus, P.Star,
  P.Slash, P.Percent, P.Pipe, P.Amp, P.Caret, P.Tilde, P.LParen, P.RParen, P.LSquare, P.RSquare, P.Comma, P.Dot, P.Semi,
  ...keywordList, Identifier, Keyword,
];

export const sqlLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });

/**
 * The value of a quoted string token: '' (or "") is one quote; backslash escapes \n \t \r \0 and any
 * other character, except that \% and \_ keep their backslash so LIKE patterns can match a literal % or _.
 */
export function unquote(image: string): string {
  const q = image[0]!;
  const body = image.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && i + 1 < body.length) {
      const n = body[++i]!;
      out += n === '%' || n === '_' ? '\\' + n : n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === '0' ? '\0' : n;
    } else if (c === q && body[i + 1] === q) {
      out += q;
      i++;
    } else out += c;
  }
  return out;
}
