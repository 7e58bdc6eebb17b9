import { after, before } from 'node:test';
import { startKafkaMock, mockTopics, type KafkaMock } from '../../../test/support/kafka.js';
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
