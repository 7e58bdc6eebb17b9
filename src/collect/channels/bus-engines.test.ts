import { after, before } from 'node:test';
import { startNats, type NatsServer } from '../../../test/support/nats.js';
import { startRedis, type RedisServer } from '../../../test/support/redis.js';
import { busChannelFactory } from './bus-testkit.js';
import { channelConformance } from './conformance.js';

/**
 * The channel conformance suite for the bus channel on the engines that run it across machines:
 * Redis Streams and NATS JetStream, each a throwaway server of this test (Kafka: bus-kafka.test.ts).
 * Every channel gets a topic of its own.
 */
let redis: RedisServer;
let nats: NatsServer;
before(async () => {
  [redis, nats] = await Promise.all([startRedis(), startNats()]);
});
after(async () => {
  await Promise.all([redis?.stop(), nats?.stop()]);
});

channelConformance('bus (Redis Streams)', busChannelFactory(() => redis.url), { durable: true });
channelConformance('bus (NATS JetStream)', busChannelFactory(() => `nats://127.0.0.1:${nats.port}`), { durable: true });
