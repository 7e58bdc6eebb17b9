import { join } from 'node:path';
import { after, before } from 'node:test';
import { aliasBus } from '../../bus/shared.js';
import { openKafkaBus } from '../../bus/kafka/kafka.js';
import { mockTopics, startKafkaMock, type KafkaMock } from '../../../test/support/kafka.js';
import { startNats, type NatsServer } from '../../../test/support/nats.js';
import { startRedis, type RedisServer } from '../../../test/support/redis.js';
import { channelContext, scratchDir } from '../testkit.js';
import { BusChannel, type BusChannelOptions } from './bus.js';
import { channelConformance, type ChannelFactory } from './conformance.js';

/**
 * The channel conformance suite for the bus channel on the engines that run it across machines:
 * Redis Streams, NATS JetStream and Kafka, each a throwaway server of this test (Kafka: librdkafka's
 * mock cluster, 3 brokers). Every channel gets a topic of its own.
 *
 * The mock cannot create topics over the protocol, so the Kafka channel reaches its bus through an
 * alias (the channel's location is a path that opens the Kafka bus with the harness's topic catalog,
 * test/support/kafka.ts); puts, takes, offsets and the consumer group go over the Kafka protocol.
 */
let redis: RedisServer;
let nats: NatsServer;
let kafka: KafkaMock;
const kafkaAlias = scratchDir('buschan-kafka-');
before(async () => {
  [redis, nats, kafka] = await Promise.all([startRedis(), startNats(), startKafkaMock(3)]);
  const topics = mockTopics(kafka, 3);
  // the mock holds every rebalance for a session timeout less 1 s: a short session keeps the suite quick
  aliasBus(kafkaAlias, () => openKafkaBus(kafka.url, { topics: () => topics, sessionTimeoutMs: 4000, heartbeatMs: 300 }));
});
after(async () => {
  await Promise.all([redis?.stop(), nats?.stop(), kafka?.stop()]);
});

let topics = 0;
function factory(url: () => string): ChannelFactory {
  return async ({ capacity, transactionCapacity }) => {
    const dir = scratchDir('buschan-');
    const ctx = channelContext('c1');
    const o: BusChannelOptions = {
      url: url(),
      topic: `channel-${++topics}`,
      group: 'flume',
      parseAsFlumeEvent: false,
      pollTimeout: 500,
      from: 'earliest',
      partitions: 1,
      capacity,
      transactionCapacity,
      checkpointDir: join(dir, 'state'),
      checkpointInterval: 30_000,
      checkpointBytes: 64 * 1024 * 1024,
    };
    let channel = new BusChannel('c1', o, ctx);
    return {
      channel,
      reopen: async () => {
        await channel.stop();
        channel = new BusChannel('c1', o, ctx);
        return channel;
      },
      cleanup: async () => {},
    };
  };
}

channelConformance('bus (Redis Streams)', factory(() => redis.url), { durable: true });
channelConformance('bus (NATS JetStream)', factory(() => `nats://127.0.0.1:${nats.port}`), { durable: true });
channelConformance('bus (Kafka, librdkafka mock cluster)', factory(() => kafkaAlias), { durable: true });
