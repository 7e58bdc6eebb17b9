import type { Admin } from 'kafkajs';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { NormalizedTopicConfig } from '../names.js';
import { kafkaError, kafkaErrorTypes } from './errors.js';

/**
 * The cluster's topic catalog as the Kafka bus needs it: the admin-plane calls (CreateTopics,
 * DeleteTopics, DescribeConfigs, Metadata, ListOffsets by time). The bus takes it as a dependency:
 * `kafkaTopics` below speaks the Kafka protocol; a test harness whose mock cluster lacks these APIs
 * supplies its own (test/support/kafka.ts).
 */
export interface KafkaTopics {
  /** Creates a topic; BUS_TOPIC_EXISTS when the name is taken. */
  create(name: string, cfg: NormalizedTopicConfig): Promise<void>;
  /** Deletes a topic; BUS_UNKNOWN_TOPIC when there is none. */
  delete(name: string): Promise<void>;
  list(): Promise<string[]>;
  /** The partition count, or null when the topic does not exist. */
  partitions(name: string): Promise<number | null>;
  /** retention.ms and retention.bytes (-1: unlimited). */
  retention(name: string): Promise<{ retentionMs: number; retentionBytes: number }>;
  /** The first offset whose record timestamp is at or after `timestamp`, or null when none is. */
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number | null>;
}

const TOPIC_RESOURCE = 2; // DescribeConfigs resource type TOPIC

/**
 * CreateTopics, DeleteTopics and DescribeConfigs go to the controller; a cluster that names no broker
 * as its controller (librdkafka's mock cluster says 0) or lacks the API cannot serve them.
 */
function controllerError(e: unknown, what: string): MonsoonError {
  if (kafkaErrorTypes(e).has('KafkaJSBrokerNotFound')) {
    return new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `${what}: the Kafka cluster's metadata names no broker as its controller, so it cannot serve this admin request (${(e as Error).message})`, { cause: e });
  }
  return kafkaError(e, what);
}

/** The catalog through the Kafka protocol, on a connected kafkajs admin client. */
export function kafkaTopics(admin: Admin, where: string): KafkaTopics {
  const partitions = async (name: string): Promise<number | null> => {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [name] });
      return md.topics[0]?.partitions.length ?? null;
    } catch (e) {
      if (kafkaErrorTypes(e).has('UNKNOWN_TOPIC_OR_PARTITION')) return null;
      throw kafkaError(e, `${where}: metadata of topic ${name}`);
    }
  };
  return {
    async create(name, cfg) {
      const configEntries = [
        { name: 'retention.ms', value: String(cfg.retentionMs) },
        { name: 'retention.bytes', value: String(cfg.retentionBytes) },
      ];
      let created: boolean;
      try {
        created = await admin.createTopics({ topics: [{ topic: name, numPartitions: cfg.partitions, configEntries }], waitForLeaders: true });
      } catch (e) {
        if (kafkaErrorTypes(e).has('TOPIC_ALREADY_EXISTS')) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
        throw controllerError(e, `${where}: CreateTopics ${name}`);
      }
      if (!created) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
    },
    async delete(name) {
      if ((await partitions(name)) === null) throw new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `topic ${name} does not exist`);
      try {
        await admin.deleteTopics({ topics: [name] });
      } catch (e) {
        throw controllerError(e, `${where}: DeleteTopics ${name}`);
      }
    },
    async list() {
      try {
        return (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
      } catch (e) {
        throw kafkaError(e, `${where}: Metadata`);
      }
    },
    partitions,
    async retention(name) {
      let entries: Array<{ configName: string; configValue: string }>;
      try {
        const r = await admin.describeConfigs({ resources: [{ type: TOPIC_RESOURCE, name, configNames: ['retention.ms', 'retention.bytes'] }], includeSynonyms: false });
        entries = r.resources[0]?.configEntries ?? [];
      } catch (e) {
        throw controllerError(e, `${where}: DescribeConfigs ${name}`);
      }
      const value = (k: string) => {
        const v = Number(entries.find((c) => c.configName === k)?.configValue ?? -1);
        return Number.isFinite(v) && v > 0 ? v : -1;
      };
      return { retentionMs: value('retention.ms'), retentionBytes: value('retention.bytes') };
    },
    async offsetForTimestamp(topic, partition, timestamp) {
      try {
        // kafkajs turns the broker's "none at or after" (-1) into the high watermark.
        const [high, byTime] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchTopicOffsetsByTimestamp(topic, timestamp)]);
        const at = Number(byTime.find((p) => p.partition === partition)?.offset ?? -1);
        const end = Number(high.find((p) => p.partition === partition)?.high ?? -1);
        return at < 0 || at >= end ? null : at;
      } catch (e) {
        throw kafkaError(e, `${where}: ListOffsets by time ${topic}-${partition}`);
      }
    },
  };
}

export function unknownTopic(name: string): MonsoonError {
  return new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `topic ${name} does not exist`);
}
