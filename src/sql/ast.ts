/**
 * StreamCQL abstract syntax tree. Plain JSON-serialisable objects; source positions are kept in a side
 * table (`posOf`) so that two parses of equivalent text compare deep-equal whatever their layout.
 */

export const SQL_TYPES = ['INT', 'LONG', 'BOOLEAN', 'FLOAT', 'DOUBLE', 'STRING', 'TIMESTAMP', 'DATE', 'TIME', 'DECIMAL'] as const;
export type SqlType = (typeof SQL_TYPES)[number];

export interface Pos {
  line: number;
  column: number;
  offset: number;
}

const positions = new WeakMap<object, Pos>();
export function setPos<T extends object>(node: T, pos: Pos | undefined): T {
  if (pos) positions.set(node, pos);
  return node;
}
export function posOf(node: object | undefined): Pos | undefined {
  return node ? positions.get(node) : undefined;
}

// ---------------------------------------------------------------- expressions

export type BinaryOp =
  | 'OR' | 'AND'
  | '=' | '<=>' | '<>' | '<' | '<=' | '>' | '>='
  | '+' | '-' | '*' | '/' | '%' | 'DIV'
  | '||' | '|' | '&' | '^';

export type LiteralType = SqlType | 'NULL';

export type Expr =
  | { kind: 'literal'; type: LiteralType; value: number | string | boolean | null }
  | { kind: 'column'; stream?: string; name: string }
  | { kind: 'star'; stream?: string }
  | { kind: 'unary'; op: 'NOT' | '-' | '+' | '~'; arg: Expr }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr }
  | { kind: 'isNull'; not: boolean; arg: Expr }
  | { kind: 'like'; op: 'LIKE' | 'RLIKE' | 'REGEXP'; not: boolean; arg: Expr; pattern: Expr }
  | { kind: 'between'; not: boolean; arg: Expr; low: Expr; high: Expr }
  | { kind: 'in'; not: boolean; arg: Expr; list: Expr[] }
  | { kind: 'case'; operand?: Expr; whens: { when: Expr; then: Expr }[]; else?: Expr }
  | { kind: 'cast'; arg: Expr; type: SqlType }
  | { kind: 'previous'; n: number; arg: Expr }
  | { kind: 'call'; name: string; distinct: boolean; args: Expr[] };

// ---------------------------------------------------------------- windows and FROM

export type Window =
  | { kind: 'rows'; count: number; mode: 'SLIDE' | 'BATCH'; props: WindowProps }
  | { kind: 'range'; ms: number; mode: 'SLIDE' | 'BATCH'; props: WindowProps }
  | { kind: 'unbounded'; props: WindowProps }
  | { kind: 'today'; column: Expr; props: WindowProps };

export interface WindowProps {
  partitionBy?: Expr[];
  sortBy?: Expr;
  triggerBy?: Expr;
  excludeNow?: boolean;
}

export interface StreamRef {
  kind: 'stream';
  name: string;
  alias?: string;
  filter?: Expr;
  window?: Window;
  unidirection?: boolean;
}

export interface DataSourceRef {
  kind: 'datasource';
  name: string;
  alias?: string;
  schema: ColumnDef[];
  query: string;
  args: Expr[];
}

export type JoinType = 'INNER' | 'LEFT' | 'RIGHT' | 'FULL' | 'CROSS';

export type From =
  | StreamRef
  | { kind: 'join'; type: JoinType; left: StreamRef; right: StreamRef; on?: Expr }
  | { kind: 'combine'; streams: StreamRef[]; keys: Expr[] }
  | { kind: 'lookup'; stream: StreamRef; datasource: DataSourceRef };

// ---------------------------------------------------------------- SELECT

export interface SelectItem {
  expr: Expr;
  alias?: string;
}

export interface Select {
  distinct: boolean;
  items: SelectItem[];
  /** Absent inside a multi-insert, whose FROM is shared. */
  from?: From;
  where?: Expr;
  groupBy?: Expr[];
  having?: Expr;
  orderBy?: { expr: Expr; desc: boolean }[];
  limit?: number;
  parallel?: number;
}

// ---------------------------------------------------------------- statements

export interface ColumnDef {
  name: string;
  type: SqlType;
  comment?: string;
}

export type Properties = [string, string][];

export interface ClassRef {
  cls: string;
  props: Properties;
}

export type Statement =
  | {
      kind: 'createStream';
      role: 'input' | 'output' | 'stream';
      name: string;
      columns: ColumnDef[];
      comment?: string;
      serde?: ClassRef;
      /** SOURCE for input streams, SINK for output streams. */
      connector?: ClassRef;
      parallel?: number;
    }
  | { kind: 'insert'; target: string; select: Select }
  | { kind: 'multiInsert'; from: From; inserts: { target: string; select: Select }[] }
  | { kind: 'insertOperator'; target: string; operator: string; source: string; distributeBy?: string[]; parallel?: number }
  | { kind: 'createOperator'; name: string; ref: string; input: ColumnDef[]; output: ColumnDef[]; props: Properties }
  | { kind: 'createDatasource'; name: string; source: ClassRef }
  | { kind: 'createFunction'; name: string; ref: string; returns?: SqlType; props: Properties }
  | { kind: 'dropFunction'; name: string; ifExists: boolean }
  | { kind: 'showFunctions' }
  | { kind: 'submitApplication'; name: string; force: boolean }
  | { kind: 'explainApplication'; name: string }
  | { kind: 'dropApplication'; name: string; ifExists: boolean }
  | { kind: 'showApplications' }
  | { kind: 'activateApplication'; name: string; active: boolean }
  | { kind: 'rebalanceApplication'; name: string; workers: number }
  | { kind: 'set'; key: string; value: string }
  | { kind: 'get'; key: string }
  | { kind: 'addResource'; resource: 'JAR' | 'FILE'; path: string };

export type StatementKind = Statement['kind'];
