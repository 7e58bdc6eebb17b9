import type { Bus } from '../../bus/bus.js';
import { acquireBus, type BusHandle } from '../../bus/shared.js';

/**
 * The compute runtime's handles on shared buses (src/bus/shared.ts: one open bus per URL per process,
 * which the embedded log needs): each acquireSharedBus(url) is paired with a releaseSharedBus(url).
 */
const held = new Map<string, BusHandle[]>();

export async function acquireSharedBus(url: string): Promise<Bus> {
  const h = await acquireBus(url);
  const list = held.get(url) ?? [];
  list.push(h);
  held.set(url, list);
  return h.bus;
}

export async function releaseSharedBus(url: string): Promise<void> {
  const list = held.get(url);
  const h = list?.pop();
  if (list && list.length === 0) held.delete(url);
  await h?.release();
}
