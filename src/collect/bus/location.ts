import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { errorMessage } from '../../core/errors.js';
import { parseBusUrl } from '../../bus/url.js';

/**
 * Where a bus sink or source connects, per component type: each type names the bus with its own
 * property (Flume's `kafka.bootstrap.servers`, Monsoon's `bus.url`, …) and this turns it into the one
 * bus URL `openBus` takes. The sink and source files share it, so every type has the same keys on
 * both sides.
 */
export interface BusType {
  /** Canonical type name and accepted aliases, as after `type =`. */
  type: string;
  aliases: string[];
  /** What the bus is, for descriptions. */
  what: string;
  /** Schema keys naming the bus. */
  keys: z.ZodRawShape;
  url(c: Record<string, unknown>): string;
  /** The key to name in an error about the URL. */
  urlKey: string;
}

/** `h1:p1, h2:p2` or `nats://h1:p1,nats://h2:p2` → `h1:p1,h2:p2`. */
function hostList(v: unknown, scheme: string): string {
  return String(v)
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((s) => s.replace(new RegExp(`^${scheme}://`, 'i'), ''))
    .join(',');
}

export const MONSOON_TYPES: BusType[] = [
  {
    type: 'bus',
    aliases: [],
    what: 'any Monsoon bus named by URL (a directory for the embedded log, redis://, kafka://, nats://, monsoon://)',
    keys: { 'bus.url': prop.requiredString() },
    url: (c) => String(c['bus.url']),
    urlKey: 'bus.url',
  },
  {
    type: 'embedded',
    aliases: ['monsoon'],
    what: "Monsoon's embedded log (a directory, or monsoon://host:port for one served by another Monsoon process)",
    keys: { path: prop.requiredString() },
    url: (c) => String(c.path),
    urlKey: 'path',
  },
  {
    type: 'redis',
    aliases: [],
    what: 'Redis Streams',
    keys: { 'redis.url': prop.requiredString() },
    url: (c) => (/^rediss?:\/\//i.test(String(c['redis.url'])) ? String(c['redis.url']) : `redis://${String(c['redis.url'])}`),
    urlKey: 'redis.url',
  },
  {
    type: 'nats',
    aliases: [],
    what: 'NATS JetStream',
    keys: { 'nats.servers': prop.requiredString() },
    url: (c) => `nats://${hostList(c['nats.servers'], 'nats')}`,
    urlKey: 'nats.servers',
  },
];

/** Why Flume's ZooKeeper offset keys (migrateZookeeperOffsets, zookeeperConnect) are accepted and ignored. */
export const ZOOKEEPER_IGNORED =
  'Monsoon does not read offsets Flume kept in ZooKeeper; the group starts from its committed offsets on the bus, or from kafka.consumer.auto.offset.reset';

/** The Kafka bus URL for Flume's `kafka.bootstrap.servers`, with settings passed as query parameters. */
export function kafkaUrl(servers: string, query: Record<string, string>): string {
  const q = new URLSearchParams(query).toString();
  return `kafka://${hostList(servers, 'kafka')}${q ? `?${q}` : ''}`;
}

/** A config error for a URL no bus in this build opens (e.g. an engine not built yet). Pure: no I/O. */
export function checkUrl(url: string, key: string): Array<[string, string]> {
  try {
    parseBusUrl(url);
    return [];
  } catch (e) {
    return [[key, errorMessage(e)]];
  }
}
