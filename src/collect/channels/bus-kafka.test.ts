import { after, before } from 'node:test';
import { aliasBus } from '../../bus/shared.js';
import { openKafkaBus } from '../../bus/kafka/kafka.js';
import { mockTopics, startKafkaMock, type KafkaMock } from '../../../test/support/kafka.js';
import { scratchDir } from '../testkit.js';
import { busChannelFactory } from './bus-testkit.js';
import { channelConformance } from './conformance.js';

/**
 * The channel conformance suite for the bus channel on Kafka (Flume's KafkaChannel): librdkafka's
 * mock cluster of 3 brokers, a throwaway of this test (in a file of its own, so a machine that cannot
 * build the mock fails this file only). The mock cannot create topics over the protocol, so the
 * channel reaches its bus through an alias: its location is a path that opens the Kafka bus with the
 * harness's topic catalog (test/support/kafka.ts); puts, takes, offsets and the consumer group go
 * over the Kafka protocol.
 */
let kafka: KafkaMock;
const location = scratchDir('buschan-kafka-');
before(async () => {
  kafka = await startKafkaMock(3);
  const topics = mockTopics(kafka, 3);
  // the mock holds every rebalance for a session timeout less 1 s: a short session keeps the suite
  // quick (2 s made the mock's group coordination hang)
  aliasBus(location, () => openKafkaBus(kafka.url, { topics: () => topics, sessionTimeoutMs: 4000, heartbeatMs: 300 }));
});
after(async () => {
  await kafka?.stop();
});

channelConformance('bus (Kafka, librdkafka mock cluster)', busChannelFactory(() => location), { durable: true });
