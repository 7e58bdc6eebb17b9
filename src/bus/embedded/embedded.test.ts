import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Bus, BusRecord } from '../bus.js';
import { busConformance, countDelivery } from '../conformance.js';
import { openEmbeddedBus, type EmbeddedBus } from './embedded.js';

busConformance(
  'embedded log',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-bus-'));
    let bus: EmbeddedBus = await openEmbeddedBus(dir, { segmentBytes: 256 * 1024 });
    return {
      get bus() {
        return bus;
      },
      reopen: async () => {
        await bus.close();
        bus = await openEmbeddedBus(dir, { segmentBytes: 256 * 1024 });
        return bus;
      },
      cleanup: async () => {
        await bus.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { durable: true },
);

describe('the conformance loss count', () => {
  it('catches a bus that acknowledges records it silently dropped (1 in 25, like the lossy client)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-bus-lossy-'));
    const inner = await openEmbeddedBus(dir);
    try {
      let i = 0;
      // Drops every 25th record (4%) but still reports a place for it, as a lossy client would.
      const lossy: Bus = Object.assign(Object.create(inner) as Bus, {
        produce: async (topic: string, records: BusRecord[]) => {
          const kept = records.filter(() => ++i % 25 !== 0);
          const res = await inner.produce(topic, kept);
          return records.map((_, k) => res[Math.min(k, res.length - 1)]!);
        },
      });
      await inner.admin.createTopic('t', { partitions: 4 });
      const count = await countDelivery(lossy, 't', 'g', 10_000, 300);
      assert.equal(count.missing, 400);
      assert.equal(count.received, 9600);
      assert.ok(count.acknowledged < 10_000, 'the dropped records share acknowledged places');
    } finally {
      await inner.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('fsync: false', () => {
  it('acknowledges without fdatasync, and what it acknowledged is read back after a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-bus-nosync-'));
    let bus = await openEmbeddedBus(dir, { fsync: false });
    try {
      await bus.admin.createTopic('t', { partitions: 2 });
      for (let b = 0; b < 5; b++) await bus.produce('t', Array.from({ length: 200 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${b}-${i}`) })));
      assert.equal(bus.syncCount(), 0);
      await bus.close();
      bus = await openEmbeddedBus(dir);
      const d = await bus.admin.describeTopic('t');
      assert.equal(d.partitions.reduce((n, p) => n + p.latest, 0), 1000);
      await bus.produce('t', [{ value: Buffer.from('synced') }]);
      assert.ok(bus.syncCount() > 0, 'the default fsyncs');
    } finally {
      await bus.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
