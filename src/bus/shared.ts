import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/log.js';
import type { Bus } from './bus.js';

/**
 * One open bus per URL in a process, shared by everything that names it (the agent's bus sinks and
 * sources, the compute tier's bus spouts): the embedded log admits one opener per directory, and a
 * Redis or Kafka bus needs no second set of connections. The last release closes it; a reopen waits
 * for that close. Bus modules are loaded on first use, so a process that names no bus never loads them.
 */
interface Entry {
  bus: Promise<Bus>;
  refs: number;
}

const open = new Map<string, Entry>();
/** Closes in progress: a reopen of the same URL waits for them (the embedded log's lock). */
const closing = new Map<string, Promise<void>>();

export interface BusHandle {
  bus: Bus;
  release(): Promise<void>;
}

/**
 * Bus locations (paths) this thread reaches some other way: a worker thread of a process whose main
 * thread holds an embedded log must not open its directory a second time (src/bus/thread/); a test
 * may also point a path at a bus it opened itself (the Kafka channel suite, on a mock cluster).
 */
const aliases = new Map<string, () => Promise<Bus>>();

/** From now on, in this thread, naming `dir` (an embedded log's directory, or any path) opens the bus `open` gives. */
export function aliasBus(dir: string, open: () => Promise<Bus>): void {
  aliases.set(resolve(dir), open);
}

/** The alias of a bus location in this thread: its key in `open` and how to open it. */
function aliasOf(url: string): { key: string; open: () => Promise<Bus> } | undefined {
  if (aliases.size === 0) return undefined;
  const dir = url.startsWith('file://') ? fileURLToPath(url) : url.startsWith('file:') ? url.slice('file:'.length) : /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? undefined : url;
  if (dir === undefined) return undefined;
  const open = aliases.get(resolve(dir));
  return open ? { key: `alias:${resolve(dir)}`, open } : undefined;
}

export async function acquireBus(location: string, log?: Logger): Promise<BusHandle> {
  const alias = aliasOf(location);
  const url = alias?.key ?? location;
  let e = open.get(url);
  if (!e) {
    const before = closing.get(url) ?? Promise.resolve();
    const bus = alias ? before.then(alias.open) : before.then(() => import('./url.js')).then(({ openBus }) => openBus(url, log ? { log } : {}));
    e = { bus, refs: 0 };
    open.set(url, e);
    bus.catch(() => {
      if (open.get(url) === e) open.delete(url);
    });
  }
  e.refs++;
  const entry = e;
  let bus: Bus;
  try {
    bus = await entry.bus;
  } catch (err) {
    entry.refs--;
    throw err;
  }
  let released = false;
  return {
    bus,
    release: async () => {
      if (released) return;
      released = true;
      if (--entry.refs > 0) return;
      if (open.get(url) === entry) open.delete(url);
      const done = bus.close().finally(() => {
        if (closing.get(url) === done) closing.delete(url);
      });
      closing.set(url, done);
      await done;
    },
  };
}

/** A bus URL fit for logs and messages: a password in it is masked. */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, '$1***@');
}
