import { channelConformance } from './conformance.js';
import { MemoryChannel } from './memory.js';

channelConformance(
  'memory',
  async ({ capacity, transactionCapacity }) => ({
    channel: new MemoryChannel('c1', { capacity, transactionCapacity, byteCapacity: 1 << 30, byteCapacityBufferPercentage: 20, 'keep-alive': 0 }),
    cleanup: async () => {},
  }),
  { durable: false },
);
