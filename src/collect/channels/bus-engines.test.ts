import { join } from 'node:path';
import { after, before } from 'node:test';
import { startNats, type NatsServer } from '../../../test/support/nats.js';
import { startRedis, type RedisServer } from '../../../test/support/redis.js';
import { channelContext, scratchDir } from '../testkit.js';
import { BusChannel, type BusChannelOptions } from './bus.js';
import { channelConformance, type ChannelFactory } from './conformance.js';

/**
 * The channel conformance suite for the bus channel on the engines that run it across machines:
 * Redis Streams and NATS JetStream, each a throwaway server of this test. Every channel gets a
 * topic of its own.
 */
let redis: RedisServer;
let nats: NatsServer;
before(async () => {
  [redis, nats] = await Promise.all([startRedis(), startNats()]);
});
after(async () => {
  await Promise.all([redis?.stop(), nats?.stop()]);
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
