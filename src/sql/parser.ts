import { EmbeddedActionsParser, EOF, type IParserErrorMessageProvider, type IToken, type TokenType } from 'chevrotain';
import { ErrorCodes } from '../core/errors.js';
import {
  SQL_TYPES, setPos, type BinaryOp, type ClassRef, type ColumnDef, type DataSourceRef, type Expr, type From,
  type JoinType, type Pos, type Properties, type Select, type SelectItem, type SqlType, type Statement,
  type StreamRef, type Window, type WindowProps,
} from './ast.js';
import { allTokens, Identifier, K, Keyword, NumberLit, P, sqlLexer, StringLit, unquote } from './lexer.js';
import { SqlError } from './errors.js';

/**
 * StreamCQL grammar on Chevrotain's embedded-actions parser: the rules build the typed AST directly
 * (no separate concrete-syntax-tree walk). Precedence, loosest first: OR, AND, NOT, predicates
 * (comparison, IS NULL, LIKE, BETWEEN, IN), |, ^, &, ||, + -, * / % DIV, unary - + ~.
 */

const UNIT_MS: Record<string, number> = {
  DAY: 86_400_000, DAYS: 86_400_000, HOUR: 3_600_000, HOURS: 3_600_000, MINUTE: 60_000, MINUTES: 60_000,
  SECOND: 1000, SECONDS: 1000, MILLISECOND: 1, MILLISECONDS: 1,
};

function tokPos(t: IToken | undefined): Pos {
  return { line: t?.startLine ?? 1, column: t?.startColumn ?? 1, offset: t?.startOffset ?? 0 };
}
/** A token's text; during Chevrotain's grammar recording, alternatives return no token. */
function img(t: IToken | undefined): string {
  return t?.image ?? '';
}

const label = (t: TokenType) => t.LABEL ?? t.name;
const found = (t: IToken) => (t.tokenType === EOF ? 'end of input' : `'${t.image}'`);
const oneOf = (firsts: TokenType[]) => {
  const names = [...new Set(firsts.map(label))];
  return names.length === 1 ? names[0]! : `one of ${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
};

/** Syntax error texts: what was expected, by the token's text ('(' rather than LParen). */
const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `expected ${label(expected)} but found ${found(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    `expected the start of a statement but found ${found(firstRedundant)}${firstRedundant.tokenType === K.SELECT ? ' (a SELECT goes inside INSERT INTO <stream> SELECT …)' : ''}`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual }) =>
    `expected ${oneOf(expectedPathsPerAlt.flatMap((alt) => alt.map((path) => path[0]).filter((t): t is TokenType => t !== undefined)))} but found ${found(actual[0]!)}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) =>
    `expected ${oneOf(expectedIterationPaths.map((path) => path[0]).filter((t): t is TokenType => t !== undefined))} but found ${found(actual[0]!)}`,
};

class CqlParser extends EmbeddedActionsParser {
  /** Errors found by actions while parsing (bad type name, unknown time unit, …). */
  actionErrors: SqlError[] = [];

  constructor() {
    super(allTokens, { maxLookahead: 3, errorMessageProvider: messages });
    this.performSelfAnalysis();
  }

  private fail(t: IToken, message: string): void {
    this.actionErrors.push(new SqlError(ErrorCodes.SQL_SYNTAX, message, tokPos(t)));
  }

  // ------------------------------------------------------------ program and statements

  program = this.RULE('program', (): Statement[] => {
    const out: Statement[] = [];
    this.MANY(() => {
      const s = this.SUBRULE(this.statement);
      this.CONSUME(P.Semi);
      out.push(s);
    });
    return out;
  });

  statement = this.RULE('statement', (): Statement => {
    const first = this.LA(1);
    const s = this.OR([
      { ALT: () => this.SUBRULE(this.createStatement) },
      { ALT: () => this.SUBRULE(this.insertStatement) },
      { ALT: () => this.SUBRULE(this.multiInsert) },
      { ALT: () => this.SUBRULE(this.applicationStatement) },
      { ALT: () => this.SUBRULE(this.dropStatement) },
      { ALT: () => this.SUBRULE(this.showStatement) },
      {
        ALT: () => {
          this.CONSUME(K.SET);
          const key = this.SUBRULE(this.text);
          this.CONSUME(P.Eq);
          const value = this.SUBRULE2(this.text);
          return { kind: 'set' as const, key, value };
        },
      },
      { ALT: () => { this.CONSUME(K.GET); return { kind: 'get' as const, key: this.SUBRULE3(this.text) }; } },
      {
        ALT: () => {
          this.CONSUME(K.ADD);
          const r = this.OR2([{ ALT: () => this.CONSUME(K.JAR) }, { ALT: () => this.CONSUME(K.FILE) }]);
          const path = this.SUBRULE4(this.text);
          return { kind: 'addResource' as const, resource: img(r).toUpperCase() === 'JAR' ? ('JAR' as const) : ('FILE' as const), path };
        },
      },
    ]);
    return setPos(s, tokPos(first));
  });

  createStatement = this.RULE('createStatement', (): Statement => {
    this.CONSUME(K.CREATE);
    return this.OR([
      { ALT: () => this.SUBRULE(this.createStream) },
      {
        ALT: () => {
          this.CONSUME(K.FUNCTION);
          const name = this.SUBRULE(this.ident);
          this.CONSUME(K.AS);
          const ref = unquote(this.CONSUME(StringLit).image);
          let returns: SqlType | undefined;
          this.OPTION(() => { this.CONSUME(K.RETURNS); returns = this.SUBRULE(this.sqlType); });
          const props = this.OPTION2(() => this.SUBRULE(this.properties)) ?? [];
          const s: Statement = { kind: 'createFunction', name, ref, props };
          if (returns !== undefined) s.returns = returns;
          return s;
        },
      },
      {
        ALT: () => {
          this.CONSUME(K.OPERATOR);
          const name = this.SUBRULE2(this.ident);
          this.CONSUME2(K.AS);
          const ref = unquote(this.CONSUME2(StringLit).image);
          this.CONSUME(K.INPUT);
          const input = this.SUBRULE(this.columnDefs);
          this.CONSUME(K.OUTPUT);
          const output = this.SUBRULE2(this.columnDefs);
          const props = this.OPTION3(() => this.SUBRULE2(this.properties)) ?? [];
          return { kind: 'createOperator' as const, name, ref, input, output, props };
        },
      },
      {
        ALT: () => {
          this.CONSUME(K.DATASOURCE);
          const name = this.SUBRULE3(this.ident);
          this.CONSUME(K.SOURCE);
          const source = this.SUBRULE(this.classRef);
          return { kind: 'createDatasource' as const, name, source };
        },
      },
    ]);
  });

  createStream = this.RULE('createStream', (): Statement => {
    let role: 'input' | 'output' | 'stream' = 'stream';
    const start = this.LA(1);
    this.OPTION(() => this.OR([
      { ALT: () => { this.CONSUME(K.INPUT); role = 'input'; } },
      { ALT: () => { this.CONSUME(K.OUTPUT); role = 'output'; } },
    ]));
    this.CONSUME(K.STREAM);
    const name = this.SUBRULE(this.ident);
    const columns = this.SUBRULE(this.columnDefs);
    const s: Statement & { kind: 'createStream' } = { kind: 'createStream', role, name, columns };
    this.OPTION2(() => { this.CONSUME(K.COMMENT); s.comment = unquote(this.CONSUME(StringLit).image); });
    this.OPTION3(() => { this.CONSUME(K.SERDE); s.serde = this.SUBRULE(this.classRef); });
    let connTok: IToken | undefined;
    this.OPTION4(() => this.OR2([
      { ALT: () => { connTok = this.CONSUME(K.SOURCE); s.connector = this.SUBRULE2(this.classRef); } },
      { ALT: () => { connTok = this.CONSUME(K.SINK); s.connector = this.SUBRULE3(this.classRef); } },
    ]));
    this.OPTION5(() => { this.CONSUME(K.PARALLEL); s.parallel = this.SUBRULE(this.integer); });
    this.ACTION(() => {
      const word = connTok?.image.toUpperCase();
      if (role === 'input' && word !== 'SOURCE') this.fail(connTok ?? start, `CREATE INPUT STREAM ${name} needs SOURCE <class>`);
      if (role === 'output' && word !== 'SINK') this.fail(connTok ?? start, `CREATE OUTPUT STREAM ${name} needs SINK <class>`);
      if (role === 'stream' && connTok) this.fail(connTok, `CREATE STREAM ${name} is an intermediate stream and takes no ${word}; use CREATE ${word === 'SOURCE' ? 'INPUT' : 'OUTPUT'} STREAM`);
      if (role === 'stream' && s.serde) this.fail(start, `CREATE STREAM ${name} is an intermediate stream and takes no SERDE`);
    });
    return s;
  });

  columnDefs = this.RULE('columnDefs', (): ColumnDef[] => {
    const cols: ColumnDef[] = [];
    this.CONSUME(P.LParen);
    this.AT_LEAST_ONE_SEP({
      SEP: P.Comma,
      DEF: () => {
        const t = this.LA(1);
        const name = this.SUBRULE(this.ident);
        const type = this.SUBRULE(this.sqlType);
        const c: ColumnDef = { name, type };
        this.OPTION(() => { this.CONSUME(K.COMMENT); c.comment = unquote(this.CONSUME(StringLit).image); });
        cols.push(setPos(c, tokPos(t)));
      },
    });
    this.CONSUME(P.RParen);
    return cols;
  });

  sqlType = this.RULE('sqlType', (): SqlType => {
    const t = this.CONSUME(Identifier);
    const up = img(t).toUpperCase();
    const alias: Record<string, SqlType> = { INTEGER: 'INT', BIGINT: 'LONG', BOOL: 'BOOLEAN', VARCHAR: 'STRING' };
    const ty = (SQL_TYPES as readonly string[]).includes(up) ? (up as SqlType) : alias[up];
    if (ty) return ty;
    this.ACTION(() => this.fail(t, `unknown type '${img(t)}' (expected one of ${SQL_TYPES.join(', ')})`));
    return 'STRING';
  });

  classRef = this.RULE('classRef', (): ClassRef => {
    const cls = this.OR([
      { ALT: () => unquote(this.CONSUME(StringLit).image) },
      { ALT: () => this.SUBRULE(this.qualifiedName) },
    ]);
    const props = this.OPTION(() => this.SUBRULE(this.properties)) ?? [];
    return { cls, props };
  });

  qualifiedName = this.RULE('qualifiedName', (): string => {
    let s = this.SUBRULE(this.ident);
    this.MANY(() => { this.CONSUME(P.Dot); s += '.' + this.SUBRULE2(this.ident); });
    return s;
  });

  properties = this.RULE('properties', (): Properties => {
    const out: Properties = [];
    this.CONSUME(K.PROPERTIES);
    this.CONSUME(P.LParen);
    this.MANY_SEP({
      SEP: P.Comma,
      DEF: () => {
        const k = this.SUBRULE(this.text);
        this.CONSUME(P.Eq);
        const v = this.SUBRULE2(this.text);
        out.push([k, v]);
      },
    });
    this.CONSUME(P.RParen);
    return out;
  });

  /** A property key or value: a quoted string, a number, true/false or a bare word. */
  text = this.RULE('text', (): string => this.OR([
    { ALT: () => unquote(this.CONSUME(StringLit).image) },
    { ALT: () => this.CONSUME(NumberLit).image },
    { ALT: () => this.CONSUME(K.TRUE).image.toLowerCase() },
    { ALT: () => this.CONSUME(K.FALSE).image.toLowerCase() },
    { ALT: () => this.SUBRULE(this.qualifiedName) },
    { ALT: () => this.CONSUME(Keyword).image, IGNORE_AMBIGUITIES: true },
  ]));

  ident = this.RULE('ident', (): string => this.CONSUME(Identifier).image);

  integer = this.RULE('integer', (): number => {
    const t = this.CONSUME(NumberLit);
    const n = Number(img(t));
    this.ACTION(() => { if (!/^\d+$/.test(img(t)) || !Number.isSafeInteger(n)) this.fail(t, `expected a whole number, got '${img(t)}'`); });
    return n;
  });

  insertStatement = this.RULE('insertStatement', (): Statement => {
    const { target } = this.SUBRULE(this.insertHead);
    return this.OR([
      {
        ALT: () => {
          const t = this.LA(1);
          const select = this.SUBRULE(this.select);
          this.ACTION(() => { if (!select.from) this.fail(t, `INSERT INTO ${target} SELECT … needs FROM`); });
          return { kind: 'insert' as const, target, select };
        },
      },
      {
        ALT: () => {
          this.CONSUME(K.USING);
          this.CONSUME(K.OPERATOR);
          const operator = this.SUBRULE(this.ident);
          this.CONSUME(K.FROM);
          const source = this.SUBRULE2(this.ident);
          const s: Statement & { kind: 'insertOperator' } = { kind: 'insertOperator', target, operator, source };
          this.OPTION(() => {
            this.CONSUME(K.DISTRIBUTE);
            this.CONSUME(K.BY);
            const cols: string[] = [];
            this.AT_LEAST_ONE_SEP({ SEP: P.Comma, DEF: () => cols.push(this.SUBRULE3(this.ident)) });
            s.distributeBy = cols;
          });
          this.OPTION2(() => { this.CONSUME(K.PARALLEL); s.parallel = this.SUBRULE(this.integer); });
          return s;
        },
      },
    ]);
  });

  insertHead = this.RULE('insertHead', (): { target: string } => {
    this.CONSUME(K.INSERT);
    this.CONSUME(K.INTO);
    this.OPTION(() => this.CONSUME(K.STREAM));
    return { target: this.SUBRULE(this.ident) };
  });

  multiInsert = this.RULE('multiInsert', (): Statement => {
    this.CONSUME(K.FROM);
    const from = this.SUBRULE(this.from);
    const inserts: { target: string; select: Select }[] = [];
    this.AT_LEAST_ONE(() => {
      const { target } = this.SUBRULE(this.insertHead);
      const t = this.LA(1);
      const select = this.SUBRULE(this.select);
      this.ACTION(() => { if (select.from) this.fail(t, `INSERT INTO ${target} inside FROM … INSERT takes its FROM from the statement`); });
      inserts.push(setPos({ target, select }, tokPos(t)));
    });
    return { kind: 'multiInsert', from, inserts };
  });

  applicationStatement = this.RULE('applicationStatement', (): Statement => this.OR([
    {
      ALT: () => {
        this.CONSUME(K.SUBMIT);
        this.CONSUME(K.APPLICATION);
        // `SUBMIT APPLICATION force` names an application called force.
        const force = this.OPTION({ GATE: () => this.LA(2).tokenType !== P.Semi, DEF: () => this.CONSUME(K.FORCE) }) !== undefined;
        return { kind: 'submitApplication' as const, name: this.SUBRULE(this.ident), force };
      },
    },
    { ALT: () => { this.CONSUME(K.EXPLAIN); this.CONSUME2(K.APPLICATION); return { kind: 'explainApplication' as const, name: this.SUBRULE2(this.ident) }; } },
    {
      ALT: () => {
        const active = this.OR2([{ ALT: () => { this.CONSUME(K.ACTIVE); return true; } }, { ALT: () => { this.CONSUME(K.DEACTIVE); return false; } }]);
        this.CONSUME3(K.APPLICATION);
        return { kind: 'activateApplication' as const, name: this.SUBRULE3(this.ident), active };
      },
    },
    {
      ALT: () => {
        this.CONSUME(K.REBALANCE);
        this.CONSUME4(K.APPLICATION);
        const name = this.SUBRULE4(this.ident);
        this.CONSUME(K.SET);
        this.CONSUME(K.WORKER);
        return { kind: 'rebalanceApplication' as const, name, workers: this.SUBRULE(this.integer) };
      },
    },
  ]));

  dropStatement = this.RULE('dropStatement', (): Statement => {
    this.CONSUME(K.DROP);
    const what = this.OR([{ ALT: () => { this.CONSUME(K.APPLICATION); return 'app'; } }, { ALT: () => { this.CONSUME(K.FUNCTION); return 'fn'; } }]);
    let ifExists = false;
    this.OPTION(() => { this.CONSUME(K.IF); this.CONSUME(K.EXISTS); ifExists = true; });
    const name = this.SUBRULE(this.ident);
    return what === 'app' ? { kind: 'dropApplication', name, ifExists } : { kind: 'dropFunction', name, ifExists };
  });

  showStatement = this.RULE('showStatement', (): Statement => {
    this.CONSUME(K.SHOW);
    return this.OR([
      { ALT: () => { this.CONSUME(K.APPLICATIONS); return { kind: 'showApplications' as const }; } },
      { ALT: () => { this.CONSUME(K.FUNCTIONS); return { kind: 'showFunctions' as const }; } },
    ]);
  });

  // ------------------------------------------------------------ SELECT

  select = this.RULE('select', (): Select => {
    this.CONSUME(K.SELECT);
    const s: Select = { distinct: false, items: [] };
    this.OPTION(() => { this.CONSUME(K.DISTINCT); s.distinct = true; });
    this.AT_LEAST_ONE_SEP({ SEP: P.Comma, DEF: () => s.items.push(this.SUBRULE(this.selectItem)) });
    this.OPTION2(() => { this.CONSUME(K.FROM); s.from = this.SUBRULE(this.from); });
    this.OPTION3(() => { this.CONSUME(K.WHERE); s.where = this.SUBRULE(this.expr); });
    this.OPTION4(() => {
      this.CONSUME(K.GROUP);
      this.CONSUME(K.BY);
      const g: Expr[] = [];
      this.AT_LEAST_ONE_SEP2({ SEP: P.Comma, DEF: () => g.push(this.SUBRULE2(this.expr)) });
      s.groupBy = g;
    });
    this.OPTION5(() => { this.CONSUME(K.HAVING); s.having = this.SUBRULE3(this.expr); });
    this.OPTION6(() => {
      this.CONSUME(K.ORDER);
      this.CONSUME2(K.BY);
      const o: { expr: Expr; desc: boolean }[] = [];
      this.AT_LEAST_ONE_SEP3({
        SEP: P.Comma,
        DEF: () => {
          const expr = this.SUBRULE4(this.expr);
          let desc = false;
          this.OPTION7(() => this.OR([{ ALT: () => this.CONSUME(K.ASC) }, { ALT: () => { this.CONSUME(K.DESC); desc = true; } }]));
          o.push({ expr, desc });
        },
      });
      s.orderBy = o;
    });
    this.OPTION8(() => { this.CONSUME(K.LIMIT); s.limit = this.SUBRULE(this.integer); });
    this.OPTION9(() => { this.CONSUME(K.PARALLEL); s.parallel = this.SUBRULE2(this.integer); });
    return s;
  });

  selectItem = this.RULE('selectItem', (): SelectItem => {
    const t = this.LA(1);
    const item: SelectItem = { expr: this.SUBRULE(this.expr) };
    this.OPTION(() => { this.OPTION2(() => this.CONSUME(K.AS)); item.alias = this.SUBRULE(this.ident); });
    return setPos(item, tokPos(t));
  });

  from = this.RULE('from', (): From => {
    const startTok = this.LA(1);
    const first = this.SUBRULE(this.streamRef);
    const out = this.OR([
      {
        ALT: () => {
          const type = this.SUBRULE(this.joinType);
          const right = this.SUBRULE2(this.streamRef);
          const j: From = { kind: 'join', type, left: first, right };
          this.OPTION(() => { this.CONSUME(K.ON); j.on = this.SUBRULE(this.expr); });
          return j;
        },
      },
      {
        ALT: () => {
          this.CONSUME(P.Comma);
          return this.OR2([
            {
              ALT: () => {
                const ds = this.SUBRULE(this.datasourceRef);
                return { kind: 'lookup' as const, stream: first, datasource: ds };
              },
            },
            {
              ALT: () => {
                const streams = [first, this.SUBRULE3(this.streamRef)];
                this.MANY(() => { this.CONSUME2(P.Comma); streams.push(this.SUBRULE4(this.streamRef)); });
                this.CONSUME(K.COMBINE);
                this.CONSUME(P.LParen);
                const keys: Expr[] = [];
                this.AT_LEAST_ONE_SEP({ SEP: P.Comma, DEF: () => keys.push(this.SUBRULE2(this.expr)) });
                this.CONSUME(P.RParen);
                return { kind: 'combine' as const, streams, keys };
              },
            },
          ]);
        },
      },
      { ALT: () => first },
    ]);
    return out === first ? out : setPos(out, tokPos(startTok));
  });

  joinType = this.RULE('joinType', (): JoinType => {
    const t = this.OPTION(() => this.OR([
      { ALT: () => this.CONSUME(K.INNER) },
      { ALT: () => this.CONSUME(K.CROSS) },
      { ALT: () => { const x = this.CONSUME(K.LEFT); this.OPTION2(() => this.CONSUME(K.OUTER)); return x; } },
      { ALT: () => { const x = this.CONSUME(K.RIGHT); this.OPTION3(() => this.CONSUME2(K.OUTER)); return x; } },
      { ALT: () => { const x = this.CONSUME(K.FULL); this.OPTION4(() => this.CONSUME3(K.OUTER)); return x; } },
    ]));
    this.CONSUME(K.JOIN);
    return t ? (img(t).toUpperCase() as JoinType) : 'INNER';
  });

  streamRef = this.RULE('streamRef', (): StreamRef => {
    const t = this.LA(1);
    const r: StreamRef = { kind: 'stream', name: this.SUBRULE(this.ident) };
    this.OPTION(() => { this.CONSUME(P.LParen); r.filter = this.SUBRULE(this.expr); this.CONSUME(P.RParen); });
    this.OPTION2(() => { this.CONSUME(P.LSquare); r.window = this.SUBRULE(this.window); this.CONSUME(P.RSquare); });
    this.OPTION3(() => { this.OPTION4(() => this.CONSUME(K.AS)); r.alias = this.SUBRULE2(this.ident); });
    this.OPTION5(() => { this.CONSUME(K.UNIDIRECTION); r.unidirection = true; });
    return setPos(r, tokPos(t));
  });

  datasourceRef = this.RULE('datasourceRef', (): DataSourceRef => {
    const t = this.CONSUME(K.DATASOURCE);
    const name = this.SUBRULE(this.ident);
    this.CONSUME(P.LSquare);
    this.CONSUME(K.SCHEMA);
    const schema = this.SUBRULE(this.columnDefs);
    this.CONSUME(P.Comma);
    this.CONSUME(K.QUERY);
    this.CONSUME(P.LParen);
    const query = unquote(this.CONSUME(StringLit).image);
    const args: Expr[] = [];
    this.MANY(() => { this.CONSUME2(P.Comma); args.push(this.SUBRULE(this.expr)); });
    this.CONSUME(P.RParen);
    this.CONSUME(P.RSquare);
    const d: DataSourceRef = { kind: 'datasource', name, schema, query, args };
    this.OPTION(() => { this.OPTION2(() => this.CONSUME(K.AS)); d.alias = this.SUBRULE2(this.ident); });
    return setPos(d, tokPos(t));
  });

  window = this.RULE('window', (): Window => {
    const startTok = this.LA(1);
    const w: Window = this.OR([
      {
        ALT: () => {
          this.CONSUME(K.ROWS);
          const count = this.SUBRULE(this.integer);
          return { kind: 'rows' as const, count, mode: this.SUBRULE(this.windowMode), props: {} };
        },
      },
      {
        ALT: () => {
          this.CONSUME(K.RANGE);
          return this.OR2([
            { ALT: () => { this.CONSUME(K.UNBOUNDED); return { kind: 'unbounded' as const, props: {} }; } },
            { ALT: () => { this.CONSUME(K.TODAY); return { kind: 'today' as const, column: this.SUBRULE(this.expr), props: {} }; } },
            {
              ALT: () => {
                let ms = 0;
                this.AT_LEAST_ONE(() => {
                  const n = this.SUBRULE2(this.integer);
                  const u = this.CONSUME(Identifier);
                  this.ACTION(() => {
                    const f = UNIT_MS[img(u).toUpperCase()];
                    if (f === undefined) this.fail(u, `unknown time unit '${img(u)}' (expected DAYS, HOURS, MINUTES, SECONDS or MILLISECONDS)`);
                    else ms += n * f;
                  });
                });
                return { kind: 'range' as const, ms, mode: this.SUBRULE2(this.windowMode), props: {} };
              },
            },
          ]);
        },
      },
    ]);
    const props: WindowProps = {};
    this.OPTION(() => {
      this.CONSUME(K.PARTITION);
      this.CONSUME(K.BY);
      const p: Expr[] = [];
      this.AT_LEAST_ONE_SEP({ SEP: P.Comma, DEF: () => p.push(this.SUBRULE2(this.expr)) });
      props.partitionBy = p;
    });
    this.OPTION2(() => { this.CONSUME(K.SORT); this.CONSUME2(K.BY); props.sortBy = this.SUBRULE3(this.expr); });
    this.OPTION3(() => { this.CONSUME(K.TRIGGER); this.CONSUME3(K.BY); props.triggerBy = this.SUBRULE4(this.expr); });
    this.OPTION4(() => { this.CONSUME(K.EXCLUDE); this.CONSUME(K.NOW); props.excludeNow = true; });
    return w === undefined ? w : setPos({ ...w, props }, tokPos(startTok));
  });

  windowMode = this.RULE('windowMode', (): 'SLIDE' | 'BATCH' => this.OR([
    { ALT: () => { this.CONSUME(K.SLIDE); return 'SLIDE' as const; } },
    { ALT: () => { this.CONSUME(K.BATCH); return 'BATCH' as const; } },
  ]));

  // ------------------------------------------------------------ expressions

  expr = this.RULE('expr', (): Expr => this.SUBRULE(this.orExpr));

  orExpr = this.RULE('orExpr', (): Expr => {
    let e = this.SUBRULE(this.andExpr);
    this.MANY(() => { const t = this.CONSUME(K.OR); e = bin('OR', e, this.SUBRULE2(this.andExpr), t); });
    return e;
  });

  andExpr = this.RULE('andExpr', (): Expr => {
    let e = this.SUBRULE(this.notExpr);
    this.MANY(() => { const t = this.CONSUME(K.AND); e = bin('AND', e, this.SUBRULE2(this.notExpr), t); });
    return e;
  });

  notExpr = this.RULE('notExpr', (): Expr => this.OR([
    {
      ALT: () => {
        const t = this.OR2([{ ALT: () => this.CONSUME(K.NOT) }, { ALT: () => this.CONSUME(P.Bang) }]);
        return setPos({ kind: 'unary' as const, op: 'NOT' as const, arg: this.SUBRULE(this.notExpr) }, tokPos(t));
      },
    },
    { ALT: () => this.SUBRULE(this.predicate) },
  ]));

  predicate = this.RULE('predicate', (): Expr => {
    const left = this.SUBRULE(this.bitOr);
    let e = left;
    this.OPTION(() => this.OR([
      {
        ALT: () => {
          const t = this.OR2([
            { ALT: () => this.CONSUME(P.Eq) }, { ALT: () => this.CONSUME(P.EqEq) }, { ALT: () => this.CONSUME(P.NullSafeEq) },
            { ALT: () => this.CONSUME(P.Ne) }, { ALT: () => this.CONSUME(P.BangEq) }, { ALT: () => this.CONSUME(P.Lt) },
            { ALT: () => this.CONSUME(P.Le) }, { ALT: () => this.CONSUME(P.Gt) }, { ALT: () => this.CONSUME(P.Ge) },
          ]);
          const op: BinaryOp = img(t) === '==' ? '=' : img(t) === '!=' ? '<>' : (img(t) as BinaryOp);
          e = bin(op, left, this.SUBRULE2(this.bitOr), t);
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(K.IS);
          const not = this.OPTION2(() => this.CONSUME(K.NOT)) !== undefined;
          this.CONSUME(K.NULL);
          e = setPos({ kind: 'isNull', not, arg: left }, tokPos(t));
        },
      },
      {
        ALT: () => {
          const not = this.OPTION3(() => this.CONSUME2(K.NOT)) !== undefined;
          this.OR3([
            {
              ALT: () => {
                const t = this.OR4([{ ALT: () => this.CONSUME(K.LIKE) }, { ALT: () => this.CONSUME(K.RLIKE) }, { ALT: () => this.CONSUME(K.REGEXP) }]);
                const op = img(t).toUpperCase() as 'LIKE' | 'RLIKE' | 'REGEXP';
                e = setPos({ kind: 'like', op, not, arg: left, pattern: this.SUBRULE3(this.bitOr) }, tokPos(t));
              },
            },
            {
              ALT: () => {
                const t = this.CONSUME(K.BETWEEN);
                const low = this.SUBRULE4(this.bitOr);
                this.CONSUME(K.AND);
                const high = this.SUBRULE5(this.bitOr);
                e = setPos({ kind: 'between', not, arg: left, low, high }, tokPos(t));
              },
            },
            {
              ALT: () => {
                const t = this.CONSUME(K.IN);
                this.CONSUME(P.LParen);
                const list: Expr[] = [];
                this.AT_LEAST_ONE_SEP({ SEP: P.Comma, DEF: () => list.push(this.SUBRULE(this.expr)) });
                this.CONSUME(P.RParen);
                e = setPos({ kind: 'in', not, arg: left, list }, tokPos(t));
              },
            },
          ]);
        },
      },
    ]));
    return e;
  });

  bitOr = this.RULE('bitOr', (): Expr => {
    let e = this.SUBRULE(this.bitXor);
    this.MANY(() => { const t = this.CONSUME(P.Pipe); e = bin('|', e, this.SUBRULE2(this.bitXor), t); });
    return e;
  });

  bitXor = this.RULE('bitXor', (): Expr => {
    let e = this.SUBRULE(this.bitAnd);
    this.MANY(() => { const t = this.CONSUME(P.Caret); e = bin('^', e, this.SUBRULE2(this.bitAnd), t); });
    return e;
  });

  bitAnd = this.RULE('bitAnd', (): Expr => {
    let e = this.SUBRULE(this.concat);
    this.MANY(() => { const t = this.CONSUME(P.Amp); e = bin('&', e, this.SUBRULE2(this.concat), t); });
    return e;
  });

  concat = this.RULE('concat', (): Expr => {
    let e = this.SUBRULE(this.additive);
    this.MANY(() => { const t = this.CONSUME(P.Concat); e = bin('||', e, this.SUBRULE2(this.additive), t); });
    return e;
  });

  additive = this.RULE('additive', (): Expr => {
    let e = this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      const t = this.OR([{ ALT: () => this.CONSUME(P.Plus) }, { ALT: () => this.CONSUME(P.Minus) }]);
      e = bin(img(t) as BinaryOp, e, this.SUBRULE2(this.multiplicative), t);
    });
    return e;
  });

  multiplicative = this.RULE('multiplicative', (): Expr => {
    let e = this.SUBRULE(this.unary);
    this.MANY(() => {
      const t = this.OR([
        { ALT: () => this.CONSUME(P.Star) }, { ALT: () => this.CONSUME(P.Slash) },
        { ALT: () => this.CONSUME(P.Percent) }, { ALT: () => this.CONSUME(K.DIV) },
      ]);
      const op = (img(t).toUpperCase() === 'DIV' ? 'DIV' : img(t)) as BinaryOp;
      e = bin(op, e, this.SUBRULE2(this.unary), t);
    });
    return e;
  });

  unary = this.RULE('unary', (): Expr => this.OR([
    {
      ALT: () => {
        const t = this.OR2([{ ALT: () => this.CONSUME(P.Minus) }, { ALT: () => this.CONSUME(P.Plus) }, { ALT: () => this.CONSUME(P.Tilde) }]);
        const arg = this.SUBRULE(this.unary);
        // A minus sign on a number literal is part of the literal, so printed negative literals re-parse equal.
        if (img(t) === '-' && arg?.kind === 'literal' && typeof arg.value === 'number') return setPos({ ...arg, value: -arg.value }, tokPos(t));
        return setPos({ kind: 'unary' as const, op: img(t) as '-' | '+' | '~', arg }, tokPos(t));
      },
    },
    { ALT: () => this.SUBRULE(this.primary) },
  ]));

  primary = this.RULE('primary', (): Expr => this.OR([
    { ALT: () => this.SUBRULE(this.literal) },
    { ALT: () => { const t = this.CONSUME(P.Star); return setPos({ kind: 'star' as const }, tokPos(t)); } },
    { ALT: () => { this.CONSUME(P.LParen); const e = this.SUBRULE(this.expr); this.CONSUME(P.RParen); return e; } },
    { ALT: () => this.SUBRULE(this.caseExpr) },
    {
      ALT: () => {
        const t = this.CONSUME(K.CAST);
        this.CONSUME2(P.LParen);
        const arg = this.SUBRULE2(this.expr);
        this.CONSUME(K.AS);
        const type = this.SUBRULE(this.sqlType);
        this.CONSUME2(P.RParen);
        return setPos({ kind: 'cast' as const, arg, type }, tokPos(t));
      },
    },
    {
      ALT: () => {
        const t = this.CONSUME(K.PREVIOUS);
        this.CONSUME3(P.LParen);
        const n = this.SUBRULE(this.integer);
        this.CONSUME(P.Comma);
        const arg = this.SUBRULE3(this.expr);
        this.CONSUME3(P.RParen);
        return setPos({ kind: 'previous' as const, n, arg }, tokPos(t));
      },
    },
    { ALT: () => this.SUBRULE(this.nameExpr) },
  ]));

  /** A column, `stream.column`, `stream.*` or a function call. */
  nameExpr = this.RULE('nameExpr', (): Expr => {
    const t = this.CONSUME(Identifier);
    const pos = tokPos(t);
    return this.OR([
      {
        ALT: () => {
          this.CONSUME(P.LParen);
          let distinct = false;
          const args: Expr[] = [];
          this.OPTION(() => { this.CONSUME(K.DISTINCT); distinct = true; });
          this.MANY_SEP({ SEP: P.Comma, DEF: () => args.push(this.SUBRULE(this.expr)) });
          this.CONSUME(P.RParen);
          return setPos({ kind: 'call' as const, name: img(t).toLowerCase(), distinct, args }, pos);
        },
      },
      {
        ALT: () => {
          this.CONSUME(P.Dot);
          return this.OR2([
            { ALT: () => { this.CONSUME(P.Star); return setPos({ kind: 'star' as const, stream: img(t) }, pos); } },
            { ALT: () => setPos({ kind: 'column' as const, stream: img(t), name: this.CONSUME2(Identifier).image }, pos) },
          ]);
        },
      },
      { ALT: () => setPos({ kind: 'column' as const, name: img(t) }, pos) },
    ]);
  });

  caseExpr = this.RULE('caseExpr', (): Expr => {
    const t = this.CONSUME(K.CASE);
    const c: Expr & { kind: 'case' } = { kind: 'case', whens: [] };
    this.OPTION(() => { c.operand = this.SUBRULE(this.expr); });
    this.AT_LEAST_ONE(() => {
      this.CONSUME(K.WHEN);
      const when = this.SUBRULE2(this.expr);
      this.CONSUME(K.THEN);
      c.whens.push({ when, then: this.SUBRULE3(this.expr) });
    });
    this.OPTION2(() => { this.CONSUME(K.ELSE); c.else = this.SUBRULE4(this.expr); });
    this.CONSUME(K.END);
    return setPos(c, tokPos(t));
  });

  literal = this.RULE('literal', (): Expr => {
    const t = this.LA(1);
    const e: Expr = this.OR([
      { ALT: () => ({ kind: 'literal' as const, type: 'STRING' as const, value: unquote(this.CONSUME(StringLit).image) }) },
      { ALT: () => numberLiteral(this.CONSUME(NumberLit).image) },
      { ALT: () => { this.CONSUME(K.TRUE); return { kind: 'literal' as const, type: 'BOOLEAN' as const, value: true }; } },
      { ALT: () => { this.CONSUME(K.FALSE); return { kind: 'literal' as const, type: 'BOOLEAN' as const, value: false }; } },
      { ALT: () => { this.CONSUME(K.NULL); return { kind: 'literal' as const, type: 'NULL' as const, value: null }; } },
    ]);
    return setPos(e, tokPos(t));
  });
}

function bin(op: BinaryOp, left: Expr, right: Expr, t: IToken): Expr {
  return setPos({ kind: 'binary', op, left, right }, tokPos(t));
}

function numberLiteral(image: string): Expr {
  const m = /^(.*?)(BD|[LFD])?$/i.exec(image) ?? ['', image, ''];
  const digits = m[1]!;
  const suffix = (m[2] ?? '').toUpperCase();
  const value = Number(digits);
  const type: SqlType =
    suffix === 'L' ? 'LONG' : suffix === 'F' ? 'FLOAT' : suffix === 'D' ? 'DOUBLE' : suffix === 'BD' ? 'DECIMAL'
      : /[.eE]/.test(digits) ? 'DOUBLE' : Math.abs(value) <= 2147483647 ? 'INT' : 'LONG';
  return { kind: 'literal', type, value };
}

const parser = new CqlParser();


function endPos(text: string): Pos {
  const lines = text.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1, offset: text.length };
}

/** Parses a whole script. Throws the first syntax error as a SqlError (code MON_ERR_SQL_SYNTAX) with line:column. */
export function parse(text: string): Statement[] {
  const lexed = sqlLexer.tokenize(text);
  if (lexed.errors.length > 0) {
    const e = lexed.errors[0]!;
    const ch = text.substr(e.offset, e.length || 1);
    throw new SqlError(ErrorCodes.SQL_SYNTAX, `unexpected character '${ch}'`, { line: e.line ?? 1, column: e.column ?? 1, offset: e.offset });
  }
  parser.input = lexed.tokens;
  parser.actionErrors = [];
  const out = parser.program();
  if (parser.errors.length > 0) {
    const e = parser.errors[0]!;
    const t = e.token;
    const pos = t.tokenType === EOF || Number.isNaN(t.startOffset) ? endPos(text) : tokPos(t);
    throw new SqlError(ErrorCodes.SQL_SYNTAX, e.message, pos);
  }
  if (parser.actionErrors.length > 0) throw parser.actionErrors[0]!;
  return out;
}


/** Token types, exposed for the interactive shell's completion and for tests. */
export const tokenTypes: TokenType[] = allTokens;
