/**
 * The unit of data everywhere in Monsoon: Flume's model of string headers plus an opaque body.
 * Hot paths move arrays of events (batches), never one promise per event.
 */
export interface Event {
  headers: Record<string, string>;
  body: Buffer;
}

/** Header names that carry an event's identity, stamped once at the first source. */
export const ORIGIN_HEADER = 'monsoon.origin';
export const SEQ_HEADER = 'monsoon.seq';

export function makeEvent(body: Buffer | string, headers: Record<string, string> = {}): Event {
  return { headers, body: typeof body === 'string' ? Buffer.from(body) : body };
}

/** Approximate in-memory/wire size of an event, used for byte-bounded queues. */
export function eventBytes(e: Event): number {
  let n = e.body.length + 16;
  for (const k in e.headers) n += k.length + (e.headers[k]?.length ?? 0) + 8;
  return n;
}

export function batchBytes(events: readonly Event[]): number {
  let n = 0;
  for (const e of events) n += eventBytes(e);
  return n;
}

export interface EventIdentity {
  origin: string;
  seq: number;
}

export function identityOf(e: Event): EventIdentity | undefined {
  return hasIdentity(e) ? { origin: e.headers[ORIGIN_HEADER]!, seq: Number(e.headers[SEQ_HEADER]) } : undefined;
}

/** `identityOf(e) !== undefined`, without building the identity (for checks on every event). */
export function hasIdentity(e: Event): boolean {
  const origin = e.headers[ORIGIN_HEADER];
  const seq = e.headers[SEQ_HEADER];
  return origin !== undefined && seq !== undefined && Number.isSafeInteger(Number(seq));
}

export function stampIdentity(e: Event, origin: string, seq: number): void {
  if (e.headers[ORIGIN_HEADER] !== undefined) return; // identity is set once, at the first source
  e.headers[ORIGIN_HEADER] = origin;
  e.headers[SEQ_HEADER] = String(seq);
}

/** Stamps identities origin#0, origin#1, … on events that have none yet. */
export class SequenceStamper {
  constructor(
    readonly origin: string,
    public next = 0,
  ) {}
  stamp(events: readonly Event[]): void {
    for (const e of events) stampIdentity(e, this.origin, this.next++);
  }
}
