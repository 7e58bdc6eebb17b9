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

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MonsoonError } from '../../core/errors.js';
import { makeEvent } from '../../core/event.js';

it('memory channel: a batch that can never fit its byteCapacity is a non-retriable error', async () => {
  const ch = new MemoryChannel('c1', { capacity: 100, transactionCapacity: 100, byteCapacity: 1000, byteCapacityBufferPercentage: 0, 'keep-alive': 0 });
  const tx = ch.transaction();
  tx.put([makeEvent(Buffer.alloc(2000))]);
  await assert.rejects(tx.commit(), (e: unknown) => e instanceof MonsoonError && !e.retriable && /can never fit/.test(e.message));
});
