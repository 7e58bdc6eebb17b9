import type { Event } from '../core/event.js';

/**
 * The store tier's one contract. A writer takes a batch and resolves once the batch is durable in the
 * store (the engine's commit, the server's acknowledgement, the file's fsync); only then may the caller
 * acknowledge upstream (commit a channel take, a bus offset, a tuple). A rejected promise means nothing
 * of the batch can be counted on; the caller retries the whole batch when the error is retriable.
 *
 * Writers are idempotent by event identity (monsoon.origin + monsoon.seq) wherever the store allows it,
 * so a replayed batch writes the same cells/rows again instead of adding duplicates.
 */
export interface StoreWriter<T = Event> {
  write(batch: readonly T[]): Promise<void>;
  /** Releases connections and handles; pending writes have settled when it resolves. */
  close(): Promise<void>;
}

/** A field of a row handed to a store (what a bolt's tuple fields or an event's mapped columns hold). */
export type FieldValue = string | Buffer | number | bigint | boolean | null | undefined;

/**
 * A row for the table stores (PostgreSQL, ClickHouse): `id` is the idempotence key (the event
 * identity, or what a bolt derives from its input's identity), `values` the other columns by name.
 */
export interface StoreRow {
  id: string;
  values: Readonly<Record<string, FieldValue>>;
}
