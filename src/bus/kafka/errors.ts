import { ErrorCodes, MonsoonError } from '../../core/errors.js';

/**
 * A kafkajs error as a coded Monsoon error: an API the cluster does not implement is
 * MON_ERR_BUS_UNSUPPORTED, an unknown topic MON_ERR_BUS_UNKNOWN_TOPIC, a record over the broker's
 * limit MON_ERR_BUS_RECORD_TOO_LARGE; everything else (connection, leadership, timeouts) is
 * MON_ERR_BUS_UNAVAILABLE and retriable.
 */
export function kafkaError(e: unknown, what: string): MonsoonError {
  if (e instanceof MonsoonError) return e;
  const err = e as { name?: string; type?: string; message?: string; errors?: unknown[] };
  const msg = err.message ?? String(e);
  const types = new Set<string>([err.type ?? '', ...(err.errors ?? []).map((x) => String((x as { type?: string }).type ?? ''))]);
  if (err.name === 'KafkaJSServerDoesNotSupportApiKey' || types.has('UNSUPPORTED_VERSION')) {
    return new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `${what}: the Kafka cluster does not support this request (${msg})`, { cause: e });
  }
  if (types.has('UNKNOWN_TOPIC_OR_PARTITION')) return new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `${what}: the topic does not exist`, { cause: e });
  if (types.has('MESSAGE_TOO_LARGE') || types.has('RECORD_LIST_TOO_LARGE')) return new MonsoonError(ErrorCodes.BUS_RECORD_TOO_LARGE, `${what}: ${msg}`, { cause: e });
  return new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `${what}: ${msg}`, { retriable: true, cause: e });
}
