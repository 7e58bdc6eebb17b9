import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { startKafkaMock, mockTopics, type KafkaMock } from '../../../test/support/kafka.js';
import type { ProducedOffset } from '../bus.js';
import { busConformance } from '../conformance.js';
import { openKafkaBus, type KafkaBus } from './kafka.js';

/**
 * The shared conformance suite against a fresh librdkafka mock cluster of 3 brokers. Records,
 * offsets, groups and commits go over the Kafka protocol; topic create/delete/configs and offsets by
 * time go through the harness (mockTopics), since the mock does not implement those requests.
 */
let mock: KafkaMock;
before(async () => {
  mock = await startKafkaMock(3);
});
after(async () => {
  await mock?.stop();
});

busConformance(
  'Kafka (librdkafka mock cluster, 3 brokers)',
  async () => {
    const topics = mockTopics(mock, 3);
    // The mock holds every rebalance for a session timeout less 1 s: a short session keeps the suite quick.
    const open = () => openKafkaBus(mock.url, { topics: () => topics, sessionTimeoutMs: 4000, heartbeatMs: 300 });
    let bus: KafkaBus = await open();
    return {
      get bus() {
        return bus;
      },
      // The mock keeps records and committed offsets in memory: a restart is a new client on the same
      // running cluster (brokers restarting is not something the mock can do).
      reopen: async () => {
        await bus.close();
        bus = await open();
        return bus;
      },
      cleanup: async () => {
        await bus.close();
      },
    };
  },
  { durable: true, concurrency: 4 },
);

describe('Kafka bus specifics (librdkafka mock cluster)', () => {
  it('the mock keeps 5 MiB per partition: older batches go, the log start moves, and consumers start there', async () => {
    const topics = mockTopics(mock, 3);
    const bus = await openKafkaBus(mock.url, { topics: () => topics, sessionTimeoutMs: 4000, heartbeatMs: 300 });
    try {
      await bus.admin.createTopic('evicted', { partitions: 1 });
      const pad = Buffer.alloc(200, 120);
      for (let b = 0; b < 30; b++) await bus.produce('evicted', Array.from({ length: 1000 }, () => ({ value: pad })));
      const [p] = (await bus.admin.describeTopic('evicted')).partitions;
      assert.equal(p!.latest, 30_000, 'every record was acknowledged and counted in the high watermark');
      assert.ok(p!.earliest > 0, 'the mock dropped the oldest batches past its 5 MiB limit');
      const c = await bus.consumer('g', ['evicted'], { from: 'earliest' });
      let first = -1;
      let n = 0;
      for (;;) {
        const got = await c.poll(10_000, 1000);
        if (got.length === 0) break;
        for (const r of got[0]!.records) (first < 0 ? (first = r.offset) : 0, n++);
      }
      assert.deepEqual({ first, n }, { first: p!.earliest, n: 30_000 - p!.earliest });
      await c.close();
    } finally {
      await bus.close();
    }
  });

  it('a produce whose partition leader is down fails retriably; after it is back nothing acknowledged is missing', async () => {
    const topics = mockTopics(mock, 3);
    const bus = await openKafkaBus(`${mock.url}?acks=all`, { topics: () => topics, produceTimeoutMs: 2000 });
    try {
      await bus.admin.createTopic('leaderless', { partitions: 1 });
      await mock.command('leader leaderless 0 2');
      const before = await bus.produce('leaderless', [{ value: Buffer.from('a') }]);
      await mock.command('down 2');
      await assert.rejects(bus.produce('leaderless', [{ value: Buffer.from('b') }]), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNAVAILABLE && e.retriable);
      await mock.command('up 2');
      let after: ProducedOffset[] | undefined;
      for (let i = 0; i < 20 && !after; i++) after = await bus.produce('leaderless', [{ value: Buffer.from('c') }]).catch(() => undefined);
      assert.ok(after, 'produce works again once the leader is back');
      assert.deepEqual(before, [{ partition: 0, offset: 0 }]);
      const d = (await bus.admin.describeTopic('leaderless')).partitions[0]!;
      assert.equal(d.latest, after[0]!.offset + 1);
    } finally {
      await bus.close();
    }
  });
});
