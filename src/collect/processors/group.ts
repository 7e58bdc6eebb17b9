import { ConfigError } from '../../core/config/component.js';
import type { ProcessorContext, Sink } from '../contracts.js';

/**
 * What every sink processor shares: the group's sinks and their lifecycle (a processor starts and
 * stops its sinks, as Flume's do), and configuration errors that name the group's full keys.
 */

/** Milliseconds since the epoch; processors take one so tests can move time by hand. */
export type Clock = () => number;

/** The full Flume key of a processor property, e.g. `a1.sinkgroups.g1.processor.priority.k1`. */
export function processorKey(ctx: ProcessorContext, key: string): string {
  return `${ctx.agent}.sinkgroups.${ctx.name}.processor.${key}`;
}

export function groupConfigError(ctx: ProcessorContext, key: string, message: string): ConfigError {
  return new ConfigError(`sink group ${ctx.name}`, [{ key: processorKey(ctx, key), message }]);
}

/** Rejects per-sink keys (`priority.<sink>`) that name no sink of the group. */
export function checkSinkNames(ctx: ProcessorContext, prefix: string, names: Iterable<string>): void {
  const known = new Set(ctx.sinks.map((s) => s.name));
  for (const n of names) {
    if (!known.has(n)) {
      throw groupConfigError(ctx, `${prefix}.${n}`, `names sink "${n}", which is not in sink group ${ctx.name} (its sinks: ${[...known].join(' ') || 'none'})`);
    }
  }
}

export async function startSinks(sinks: readonly Sink[]): Promise<void> {
  for (const s of sinks) await s.start();
}

/** Stops every sink even when some fail to stop; the first failure is rethrown afterwards. */
export async function stopSinks(sinks: readonly Sink[]): Promise<void> {
  let first: unknown;
  for (const s of sinks) {
    try {
      await s.stop();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}
