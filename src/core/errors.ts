/**
 * Errors with stable codes. Callers match on `code`, never on message text; retry loops look only at
 * `retriable`. Every code is listed in docs/ERRORS.md and never reused for another meaning.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'MON_ERR_CONFIG_INVALID',
  CONFIG_UNAVAILABLE: 'MON_ERR_COMPONENT_UNAVAILABLE',
  CHANNEL_FULL: 'MON_ERR_CHANNEL_FULL',
  CHANNEL_TX: 'MON_ERR_CHANNEL_TRANSACTION',
  CHANNEL_DISK_SPACE: 'MON_ERR_CHANNEL_DISK_SPACE',
  CHANNEL_CORRUPT: 'MON_ERR_CHANNEL_CORRUPT',
  CHANNEL_CLOSED: 'MON_ERR_CHANNEL_CLOSED',
  SOURCE_DECODE: 'MON_ERR_SOURCE_DECODE',
  SOURCE_FILE_CHANGED: 'MON_ERR_SOURCE_FILE_CHANGED',
  SINK_CONNECT: 'MON_ERR_SINK_CONNECT',
  SINK_TIMEOUT: 'MON_ERR_SINK_TIMEOUT',
  SINK_REJECTED: 'MON_ERR_SINK_REJECTED',
  SINK_WRITE: 'MON_ERR_SINK_WRITE',
  PROCESSOR_ALL_FAILED: 'MON_ERR_ALL_SINKS_FAILED',
  IO: 'MON_ERR_IO',
  PATH_ESCAPE: 'MON_ERR_PATH_ESCAPE',
  CHANNEL_LOCKED: 'MON_ERR_CHANNEL_LOCKED',
  BUS_INVALID_NAME: 'MON_ERR_BUS_INVALID_NAME',
  BUS_INVALID_ARGUMENT: 'MON_ERR_BUS_INVALID_ARGUMENT',
  BUS_UNKNOWN_TOPIC: 'MON_ERR_BUS_UNKNOWN_TOPIC',
  BUS_TOPIC_EXISTS: 'MON_ERR_BUS_TOPIC_EXISTS',
  BUS_RECORD_TOO_LARGE: 'MON_ERR_BUS_RECORD_TOO_LARGE',
  BUS_NOT_ASSIGNED: 'MON_ERR_BUS_NOT_ASSIGNED',
  BUS_CORRUPT: 'MON_ERR_BUS_CORRUPT',
  BUS_LOCKED: 'MON_ERR_BUS_LOCKED',
  BUS_CLOSED: 'MON_ERR_BUS_CLOSED',
  BUS_UNSUPPORTED: 'MON_ERR_BUS_UNSUPPORTED',
  /** The bus server could not be reached or did not confirm a write (retriable). */
  BUS_UNAVAILABLE: 'MON_ERR_BUS_UNAVAILABLE',
  /** A topology (builder, IR, Flux YAML or module) is invalid; the message names the component. */
  TOPOLOGY_INVALID: 'MON_ERR_TOPOLOGY_INVALID',
  /** A spout or bolt emitted to an undeclared stream, with the wrong number of values, or directly to a task that does not subscribe. */
  TOPOLOGY_EMIT: 'MON_ERR_TOPOLOGY_EMIT',
  /** StreamCQL text that does not parse; the message has line:column and the offending token. */
  SQL_SYNTAX: 'MON_ERR_SQL_SYNTAX',
  SQL_UNKNOWN_STREAM: 'MON_ERR_SQL_UNKNOWN_STREAM',
  SQL_UNKNOWN_COLUMN: 'MON_ERR_SQL_UNKNOWN_COLUMN',
  SQL_AMBIGUOUS_COLUMN: 'MON_ERR_SQL_AMBIGUOUS_COLUMN',
  SQL_TYPE_MISMATCH: 'MON_ERR_SQL_TYPE_MISMATCH',
  SQL_UNKNOWN_FUNCTION: 'MON_ERR_SQL_UNKNOWN_FUNCTION',
  SQL_FUNCTION_ARGUMENTS: 'MON_ERR_SQL_FUNCTION_ARGUMENTS',
  SQL_AGGREGATE_MISUSE: 'MON_ERR_SQL_AGGREGATE_MISUSE',
  SQL_WINDOW_INVALID: 'MON_ERR_SQL_WINDOW_INVALID',
  SQL_JOIN_INVALID: 'MON_ERR_SQL_JOIN_INVALID',
  SQL_UNKNOWN_CLASS: 'MON_ERR_SQL_UNKNOWN_CLASS',
  SQL_BAD_PROPERTY: 'MON_ERR_SQL_BAD_PROPERTY',
  SQL_DUPLICATE: 'MON_ERR_SQL_DUPLICATE',
  SQL_SCHEMA_MISMATCH: 'MON_ERR_SQL_SCHEMA_MISMATCH',
  SQL_STREAM_ROLE: 'MON_ERR_SQL_STREAM_ROLE',
  SQL_UNKNOWN_OPERATOR: 'MON_ERR_SQL_UNKNOWN_OPERATOR',
  SQL_UNSUPPORTED: 'MON_ERR_SQL_UNSUPPORTED',
  SQL_CYCLE: 'MON_ERR_SQL_CYCLE',
  SQL_RUNTIME: 'MON_ERR_SQL_RUNTIME',
  /** A store request names a bad table, key, range or column, or a store that does not exist. */
  STORE_INVALID_ARGUMENT: 'MON_ERR_STORE_INVALID_ARGUMENT',
  /** The store server could not be reached or did not confirm a write (retriable; nothing counted). */
  STORE_UNAVAILABLE: 'MON_ERR_STORE_UNAVAILABLE',
  /** The store server refused the batch for a reason retrying cannot fix (schema, types, permissions). */
  STORE_REJECTED: 'MON_ERR_STORE_REJECTED',
  /** A store address names a system Monsoon cannot reach from here (webhdfs://, hdfs://). */
  STORE_UNSUPPORTED: 'MON_ERR_STORE_UNSUPPORTED',
  /** A windowed bolt's window configuration is invalid (lengths, slide, lag, or a message timeout shorter than length + slide). */
  WINDOW_INVALID: 'MON_ERR_WINDOW_INVALID',
  /** A windowed bolt task holds topology.bolts.window.max.tuples tuples: the input is failed (replayed later). */
  WINDOW_FULL: 'MON_ERR_WINDOW_FULL',
  /** The state store (LMDB environment or its directory) could not be opened, read or written. */
  STATE_STORE: 'MON_ERR_STATE_STORE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class MonsoonError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  constructor(code: ErrorCode, message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'MonsoonError';
    this.code = code;
    this.retriable = opts.retriable ?? false;
  }
}

/** The channel cannot take more events now; the caller should back off and retry (Flume's ChannelFullException). */
export class ChannelFullError extends MonsoonError {
  constructor(message: string) {
    super(ErrorCodes.CHANNEL_FULL, message, { retriable: true });
    this.name = 'ChannelFullError';
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof MonsoonError ? err.retriable : false;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
