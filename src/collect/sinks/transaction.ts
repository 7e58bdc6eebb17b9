import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import type { SinkContext, SinkStatus } from '../contracts.js';

/**
 * The one take → write → commit cycle every local sink runs, with Flume's sink counters. A sink only
 * says how to write a batch (and, for sinks whose output must match the channel exactly, how to undo
 * a written batch whose take could not be committed).
 */
export interface BatchWriter {
  /** Writes the batch durably; returns markers to commit atomically with the take. */
  write(events: Event[]): Promise<Readonly<Record<string, string>> | undefined>;
  /** Removes a written batch again because its take was rolled back (it will be redelivered). */
  undo?(): Promise<void>;
  /** Runs after the take committed (e.g. renames that must wait until the data is accounted for). */
  committed?(): Promise<void>;
}

/** I/O failures that will not go away by retrying the same write. */
const PERMANENT_IO = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'EINVAL']);

/** Wraps a failure in a MonsoonError (SINK_WRITE unless it already carries a code). */
export function sinkWriteError(sink: string, err: unknown): MonsoonError {
  if (err instanceof MonsoonError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new MonsoonError(ErrorCodes.SINK_WRITE, `sink ${sink} failed to write a batch: ${errorMessage(err)}`, {
    retriable: !(code !== undefined && PERMANENT_IO.has(code)),
    cause: err,
  });
}

/**
 * Takes up to `batchSize` events in one transaction and hands them to `w`. Returns BACKOFF when the
 * channel was empty. On a write failure the take is rolled back and a MonsoonError is thrown so a
 * sink processor can fail over.
 */
export async function drainBatch(ctx: SinkContext, batchSize: number, w: BatchWriter): Promise<SinkStatus> {
  const c = ctx.counters;
  const tx = ctx.channel.transaction();
  let events: Event[];
  try {
    events = await tx.take(batchSize);
  } catch (err) {
    await tx.rollback();
    c.inc('ChannelReadFail', 1);
    throw err;
  }
  if (events.length === 0) {
    c.inc('BatchEmptyCount', 1);
    await tx.commit();
    return 'BACKOFF';
  }
  c.inc(events.length < batchSize ? 'BatchUnderflowCount' : 'BatchCompleteCount', 1);
  c.inc('EventDrainAttemptCount', events.length);
  let markers: Readonly<Record<string, string>> | undefined;
  try {
    markers = await w.write(events);
  } catch (err) {
    await tx.rollback();
    c.inc('EventWriteFail', 1);
    throw sinkWriteError(ctx.name, err);
  }
  try {
    await tx.commit(markers);
  } catch (err) {
    // The batch is on disk but still in the channel: remove it so the redelivery does not repeat it.
    await tx.rollback();
    c.inc('ChannelReadFail', 1);
    if (w.undo) await w.undo();
    throw err;
  }
  c.inc('EventDrainSuccessCount', events.length);
  if (w.committed) {
    try {
      await w.committed();
    } catch (err) {
      throw sinkWriteError(ctx.name, err);
    }
  }
  return 'READY';
}
