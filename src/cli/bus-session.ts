import { MonsoonError } from '../core/errors.js';
import type { Bus } from '../bus/bus.js';

/**
 * Opens the bus a bus command names with --bus, runs the command and always closes the bus (which
 * releases the embedded log's lock). A failure is printed with its code and sets exit status 1.
 */
export async function withBus(url: string, fn: (bus: Bus) => Promise<void>): Promise<void> {
  let bus: Bus | undefined;
  try {
    // loaded on use: `monsoon agent` never opens a bus, and the bus modules would slow its start
    const { openBus } = await import('../bus/url.js');
    bus = await openBus(url);
    await fn(bus);
  } catch (e) {
    fail(e);
  } finally {
    await bus?.close().catch((e: unknown) => fail(e));
  }
}

export function fail(e: unknown): void {
  const msg = e instanceof MonsoonError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
  process.stderr.write(`monsoon: ${msg}\n`);
  process.exitCode = 1;
}

export function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** Retention: -1 for unlimited, or a positive integer. */
export function retention(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '-1') return v === undefined ? undefined : -1;
  return positiveInt(name, v);
}
