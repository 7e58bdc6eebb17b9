import { join } from 'node:path';
import { channelContext, scratchDir } from '../testkit.js';
import { BusChannel, type BusChannelOptions } from './bus.js';
import type { ChannelFactory } from './conformance.js';

let topics = 0;

/** Bus channels for the channel conformance suite on the bus at `location()`, each on a topic of its own. */
export function busChannelFactory(location: () => string): ChannelFactory {
  return async ({ capacity, transactionCapacity }) => {
    const dir = scratchDir('buschan-');
    const ctx = channelContext('c1');
    const o: BusChannelOptions = {
      url: location(),
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
