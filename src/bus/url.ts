import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { Bus } from './bus.js';
import { openEmbeddedBus, type EmbeddedOptions } from './embedded/embedded.js';
import type { KafkaBusOptions } from './kafka/kafka.js';
import type { RedisBusOptions } from './redis/redis.js';

/**
 * Chooses a bus by URL: a local directory path or `file:<path>` opens the embedded log in this
 * process; `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS) opens Redis Streams;
 * `kafka://h1:p1,h2:p2[?acks=all|1]` opens Kafka. The other engines are named here so a user gets a
 * clear answer until each lands: `monsoon://host:port` (an embedded log served by another Monsoon
 * process), `nats://host:port`.
 */
const PLANNED: Record<string, string> = {
  monsoon: 'the loopback protocol to an embedded log served by another Monsoon process',
  nats: 'NATS JetStream',
};

export type BusLocation = { kind: 'embedded'; dir: string } | { kind: 'redis'; url: string } | { kind: 'kafka'; url: string };

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
  if (scheme === 'kafka') {
    if (!/^kafka:\/\/[^/?#]/i.test(url)) throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url} names no Kafka brokers; use kafka://host:port[,host:port...]`);
    return { kind: 'kafka', url };
  }
  const planned = PLANNED[scheme];
  if (planned) {
    throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url}: the ${scheme}:// bus (${planned}) is not available yet; use a local directory path or file:<path> for the embedded log`);
  }
  throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `bus URL ${url}: unknown scheme ${scheme}:; use a directory path, file:<path>, monsoon://, kafka://, nats:// or redis://`);
}

export async function openBus(url: string, embedded: EmbeddedOptions = {}, redis: RedisBusOptions = {}, kafka: KafkaBusOptions = {}): Promise<Bus> {
  const loc = parseBusUrl(url);
  if (loc.kind === 'kafka') {
    // Loaded on first use, like the Redis client.
    const { openKafkaBus } = await import('./kafka/kafka.js');
    return openKafkaBus(loc.url, kafka);
  }
  if (loc.kind === 'redis') {
    // Loaded on first use, so commands on the embedded log never load the Redis client.
    const { openRedisBus } = await import('./redis/redis.js');
    return openRedisBus(loc.url, redis);
  }
  return openEmbeddedBus(loc.dir, embedded);
}
