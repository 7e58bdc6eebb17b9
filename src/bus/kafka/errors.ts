import { ErrorCodes, MonsoonError } from '../../core/errors.js';

/**
 * A kafkajs error as a coded Monsoon error: an API the cluster does not implement is
 * MON_ERR_BUS_UNSUPPORTED, an unknown topic MON_ERR_BUS_UNKNOWN_TOPIC, a record over the broker's
 * limit MON_ERR_BUS_RECORD_TOO_LARGE; everything else (connection, leadership, timeouts) is
 * MON_ERR_BUS_UNAVAILABLE and retriable.
 */
export function kafkaError(e: unknown, what: string): MonsoonError {
  if (e instanceof MonsoonError) return e;
  const err = e as { name?: string; message?: string };
  const msg = err.message ?? String(e);
  const types = kafkaErrorTypes(e);
  if (types.has('KafkaJSServerDoesNotSupportApiKey') || types.has('UNSUPPORTED_VERSION')) {
    return new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `${what}: the Kafka cluster does not support this request (${msg})`, { cause: e });
  }
  if (types.has('UNKNOWN_TOPIC_OR_PARTITION')) return new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `${what}: the topic does not exist`, { cause: e });
  if (types.has('MESSAGE_TOO_LARGE') || types.has('RECORD_LIST_TOO_LARGE')) return new MonsoonError(ErrorCodes.BUS_RECORD_TOO_LARGE, `${what}: ${msg}`, { cause: e });
  return new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `${what}: ${msg}`, { retriable: true, cause: e });
}

/**
 * The protocol error types (UNKNOWN_TOPIC_OR_PARTITION, …) and kafkajs error names in an error, its
 * causes (kafkajs wraps the broker's error when it gives up retrying) and its per-topic errors.
 */
export function kafkaErrorTypes(e: unknown): Set<string> {
  const out = new Set<string>();
  const visit = (x: unknown, depth: number) => {
    if (!x || typeof x !== 'object' || depth > 5) return;
    const o = x as { name?: unknown; type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
    if (typeof o.name === 'string') out.add(o.name);
    if (typeof o.type === 'string') out.add(o.type);
    visit(o.cause, depth + 1);
    visit(o.originalError, depth + 1);
    if (Array.isArray(o.errors)) for (const y of o.errors) visit(y, depth + 1);
  };
  visit(e, 0);
  return out;
}
