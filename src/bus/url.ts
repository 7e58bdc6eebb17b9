import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { Bus } from './bus.js';
import { openEmbeddedBus, type EmbeddedOptions } from './embedded/embedded.js';
import type { KafkaBusOptions } from './kafka/kafka.js';
import { parseNatsUrl } from './nats/layout.js';
import type { NatsBusOptions } from './nats/nats.js';
import type { RedisBusOptions } from './redis/redis.js';

/**
 * Chooses a bus by URL: a local directory path or `file:<path>` opens the embedded log in this
 * process — or, when a live `monsoon bus serve` holds that directory, connects to it over monsoon://
 * (found through `<dir>/monsoon-bus.addr`); `monsoon://host:port` connects to a served bus directly;
 * `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS) opens Redis Streams;
 * `kafka://h1:p1,h2:p2[?acks=all|1]` opens Kafka; `nats://host:port[,host2:port2][?replicas=N&prefix=P]`
 * opens NATS JetStream (several servers of one cluster for fail-over; `replicas` for the streams and KV
 * buckets the bus creates, default 1).
 */
export type BusLocation = { kind: 'embedded'; dir: string } | { kind: 'redis'; url: string } | { kind: 'monsoon'; host: string; port: number } | { kind: 'kafka'; url: string } | { kind: 'nats'; url: string };

export function parseBusUrl(url: string): BusLocation {
  if (!url) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, 'no bus given: pass a directory path (the embedded log) or a bus URL');
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!m) return { kind: 'embedded', dir: resolve(url) };
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'file') {
    const dir = url.startsWith('file://') ? fileURLToPath(url) : url.slice('file:'.length);
    if (!dir) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url} names no directory`);
    return { kind: 'embedded', dir: resolve(dir) };
  }
  if (scheme === 'redis' || scheme === 'rediss') {
    if (!/^rediss?:\/\/[^/]/.test(url)) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url} names no Redis host; use redis://host:port`);
    return { kind: 'redis', url };
  }
  if (scheme === 'monsoon') {
    const m = /^monsoon:\/\/(?:\[([^\]]+)\]|([^:/[\]]+)):(\d{1,5})\/?$/i.exec(url);
    const port = Number(m?.[3]);
    if (!m || port < 1 || port > 65535) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url} names no host and port; use monsoon://host:port`);
    return { kind: 'monsoon', host: (m[1] ?? m[2])!, port };
  }
  if (scheme === 'kafka') {
    if (!/^kafka:\/\/[^/?#]/i.test(url)) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url} names no Kafka brokers; use kafka://host:port[,host:port...]`);
    return { kind: 'kafka', url };
  }
  if (scheme === 'nats') {
    parseNatsUrl(url);
    return { kind: 'nats', url };
  }
  throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url}: unknown scheme ${scheme}:; use a directory path, file:<path>, monsoon://, kafka://, nats:// or redis://`);
}

export async function openBus(url: string, embedded: EmbeddedOptions = {}, redis: RedisBusOptions = {}, kafka: KafkaBusOptions = {}, nats: NatsBusOptions = {}): Promise<Bus> {
  const loc = parseBusUrl(url);
  if (loc.kind === 'nats') {
    // Loaded on first use, like the Redis client.
    const { openNatsBus } = await import('./nats/nats.js');
    return openNatsBus(loc.url, nats);
  }
  if (loc.kind === 'kafka') {
    // Loaded on first use, like the Redis client.
    const { openKafkaBus } = await import('./kafka/kafka.js');
    return openKafkaBus(loc.url, kafka);
  }
  if (loc.kind === 'redis') {
    // Loaded on first use, so commands on the embedded log never load the Redis client.
    const { openRedisBus } = await import('./redis/redis.js');
    const { url: bare, options } = redisUrlOptions(loc.url);
    return openRedisBus(bare, { ...options, ...redis });
  }
  if (loc.kind === 'monsoon') {
    const { openRemoteBus } = await import('./remote/client.js');
    return openRemoteBus(loc.host, loc.port);
  }
  return openDir(loc.dir, embedded);
}

/** How long a directory locked by a live process is watched for its monsoon-bus.addr to appear (a server starting). */
const ADDR_WAIT_MS = 2000;

async function openDir(dir: string, embedded: EmbeddedOptions): Promise<Bus> {
  const { readAddrFile, removeAddrFile } = await import('./remote/addr.js');
  let bus: Bus;
  try {
    bus = await openEmbeddedBus(dir, embedded);
  } catch (e) {
    if (!(e instanceof MonsoonError) || e.code !== ErrorCodes.BUS_LOCKED) throw e;
    // Held by a live process: if it serves the log, reach it over monsoon://.
    const { openRemoteBus } = await import('./remote/client.js');
    const end = Date.now() + ADDR_WAIT_MS;
    let addr = await readAddrFile(dir);
    while (!addr && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      addr = await readAddrFile(dir);
    }
    if (!addr) throw e;
    try {
      return await openRemoteBus(addr.host, addr.port);
    } catch (ce) {
      throw new MonsoonError(ErrorCodes.BUS_LOCKED, `${e.message}; its monsoon-bus.addr names ${addr.host}:${addr.port}, which cannot be reached (${ce instanceof Error ? ce.message : String(ce)})`);
    }
  }
  // This process holds the lock, so an address left by a server that died is stale.
  await removeAddrFile(dir);
  return bus;
}

/**
 * Group-membership timings given in a Redis bus URL's query (`?sessionTimeoutMs=3000&heartbeatMs=300`),
 * so processes that only pass a URL (workers, spouts) can tune them; the query is removed from the URL.
 */
export function redisUrlOptions(url: string): { url: string; options: RedisBusOptions } {
  const q = url.indexOf('?');
  if (q < 0) return { url, options: {} };
  const options: RedisBusOptions = {};
  const rest: string[] = [];
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) {
    if (k === 'sessionTimeoutMs' || k === 'heartbeatMs') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url}: ${k} must be a positive integer of milliseconds, got ${JSON.stringify(v)}`);
      options[k] = n;
    } else rest.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return { url: url.slice(0, q) + (rest.length ? `?${rest.join('&')}` : ''), options };
}
