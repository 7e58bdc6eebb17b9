import { isRetriable } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import type { SourceContext } from '../contracts.js';

/**
 * Hands one batch to the channel processor with Flume's source counters. A full channel (or any
 * retriable error) keeps the batch and retries after waiting for space, so nothing is dropped; the
 * loop ends only when `stopped()` turns true, in which case `false` is returned and nothing was
 * committed. Non-retriable errors are thrown to the caller.
 */
export async function deliver(
  ctx: SourceContext,
  events: Event[],
  markers?: Readonly<Record<string, string>>,
  stopped: () => boolean = () => false,
): Promise<boolean> {
  if (events.length > 0) {
    ctx.counters.inc('AppendBatchReceivedCount', 1);
    ctx.counters.inc('EventReceivedCount', events.length);
  }
  for (;;) {
    try {
      await ctx.processor.process(events, markers);
      break;
    } catch (err) {
      if (!isRetriable(err)) throw err;
      if (stopped()) return false;
      await ctx.processor.waitForSpace(1000);
      if (stopped()) return false;
    }
  }
  if (events.length > 0) {
    ctx.counters.inc('AppendBatchAcceptedCount', 1);
    ctx.counters.inc('EventAcceptedCount', events.length);
  }
  return true;
}

/** Tries once: true when committed, false when the channel refused for now (retriable). */
export async function deliverOnce(ctx: SourceContext, events: Event[]): Promise<boolean> {
  ctx.counters.inc('AppendBatchReceivedCount', 1);
  ctx.counters.inc('EventReceivedCount', events.length);
  try {
    await ctx.processor.process(events);
  } catch (err) {
    if (isRetriable(err)) return false;
    throw err;
  }
  ctx.counters.inc('AppendBatchAcceptedCount', 1);
  ctx.counters.inc('EventAcceptedCount', events.length);
  return true;
}
