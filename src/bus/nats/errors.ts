import { JetStreamApiError } from '@nats-io/jetstream';
import { RequestError, TimeoutError } from '@nats-io/transport-node';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { PublishError } from './publisher.js';

/**
 * NATS and JetStream failures as coded Monsoon errors. JetStream's err_codes the bus tells apart:
 * 10059 stream not found (the topic was deleted), 10054 message too large, 10074 too few servers for
 * the replicas asked, 10071 and 10164 a KV compare-and-set lost to another writer.
 */

export const unknownTopic = (topic: string) => new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `topic ${topic} does not exist`);

/** The bus a failure happened on, for the error's message. */
export interface ErrorSite {
  url: string;
  replicas: number;
  closed: boolean;
}

/** A NATS or JetStream failure as a coded error (`what` names the operation). */
export function natsError(e: unknown, what: string, at: ErrorSite): MonsoonError {
  if (e instanceof MonsoonError) return e;
  const msg = (e as Error)?.message ?? String(e);
  if (e instanceof JetStreamApiError && e.code === 10059) return new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `NATS bus ${at.url}: ${what}: the stream does not exist (the topic was deleted)`, { cause: e });
  if (e instanceof PublishError && e.code === 10054) return new MonsoonError(ErrorCodes.BUS_RECORD_TOO_LARGE, `NATS bus ${at.url}: ${what}: ${msg}`, { cause: e });
  if (e instanceof JetStreamApiError && e.code === 10074) return new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `NATS bus ${at.url}: ${what}: ${msg}; replicas=${at.replicas} needs a JetStream cluster of at least that many servers`, { cause: e });
  if (e instanceof JetStreamApiError && e.code === 10054) return new MonsoonError(ErrorCodes.BUS_RECORD_TOO_LARGE, `NATS bus ${at.url}: ${what}: ${msg}`, { cause: e });
  if (at.closed) return new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${at.url} is closed`, { cause: e });
  const hint = e instanceof PublishError && e.code === 408 ? '' : e instanceof TimeoutError ? ' (no answer in time)' : isNoStream(e) || (e instanceof RequestError && e.isNoResponders()) ? ' (no JetStream server answered: down, electing a leader, or the stream is gone)' : '';
  return new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `NATS bus ${at.url}: ${what} failed: ${msg}${hint}`, { retriable: true, cause: e });
}

/** A publish or request nobody answered: the client reports it as "JetStream not enabled". */
const isNoStream = (e: unknown) => (e as Error)?.name === 'JetStreamNotEnabled';

/** A KV create or update that lost to another writer (the key exists, or its revision moved on). */
export function isCasConflict(e: unknown): boolean {
  if (e instanceof JetStreamApiError && (e.code === 10071 || e.code === 10164)) return true;
  return /wrong last sequence/i.test((e as Error)?.message ?? '');
}
