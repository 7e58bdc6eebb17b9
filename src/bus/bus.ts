/**
 * The Bus contract: topics × partitions of ordered, durable records, consumed by groups that commit
 * their progress. The embedded log, Kafka, NATS JetStream and Redis Streams implement it and pass one
 * conformance suite (conformance.ts). Semantics follow Kafka's wherever Kafka defines them:
 *
 * - An offset is a record's position in its partition, from 0, never reused. A committed offset is
 *   the NEXT offset the group will read (Kafka's convention), so "committed 5" means 0..4 are done.
 * - `produce` resolves only when every record is durable (the embedded log: fsynced); a record a
 *   consumer can see has been acknowledged. A rejected produce may have stored none, some or all of
 *   its records (at-least-once when the caller retries).
 * - A record naming its partition goes there. Keyed records go to `toPositive(murmur2(key)) % partitions` — where a Kafka client puts them.
 *   Records without a key are spread over the partitions (per batch or per record).
 * - Consumers of one group split the partitions of their topics between them and rebalance when one
 *   joins or leaves. A partition without a committed offset starts at `from` (Kafka's
 *   auto.offset.reset). A consumer that goes away without committing lets the next owner of its
 *   partitions read again from the committed offset (redelivery, never loss).
 */

export interface BusRecord {
  key?: Buffer | null;
  value: Buffer;
  headers?: Record<string, string>;
  /** Milliseconds since the epoch; the producer's clock when absent (Kafka's CreateTime). */
  timestamp?: number;
  /**
   * The partition to write to, overriding the key's (a Kafka ProducerRecord's partition); one
   * outside the topic's partitions fails the whole produce (MON_ERR_BUS_INVALID_ARGUMENT).
   */
  partition?: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Where one produced record landed, in the order of the records given to `produce`. */
export interface ProducedOffset {
  partition: number;
  offset: number;
}

/**
 * A record as a consumer receives it. `key` and `value` may share memory with what other readers of
 * the same records receive (the embedded log hands out views of the batches it holds): treat them as
 * read-only, and copy before changing bytes in place.
 */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: number;
}

/** Records of one partition, in offset order. */
export interface PartitionBatch extends TopicPartition {
  records: ConsumedRecord[];
}

/** A committed position: the next offset the group reads from `topic`/`partition`. */
export interface OffsetCommit extends TopicPartition {
  offset: number;
}

export type SeekTarget = number | 'earliest' | 'latest' | { timestamp: number };

export interface ConsumerOptions {
  /** Where a partition without a committed offset starts (default 'latest', as Kafka). */
  from?: 'earliest' | 'latest';
}

export interface Consumer {
  /**
   * Up to `maxRecords` records from the assigned partitions, grouped per partition; waits up to
   * `timeoutMs` for the first record and returns [] when none came. Advances this consumer's
   * position past what it returns (not the group's committed offset).
   */
  poll(maxRecords: number, timeoutMs: number): Promise<PartitionBatch[]>;
  /** Commits the given offsets, or, without arguments, the current position of every assigned partition. */
  commit(offsets?: OffsetCommit[]): Promise<void>;
  /** Moves the position of an assigned partition; a timestamp seeks to the first record at or after it. */
  seek(tp: TopicPartition, target: SeekTarget): Promise<void>;
  /** The partitions this consumer currently owns. */
  assignment(): TopicPartition[];
  /** Leaves the group without committing; its partitions go to the remaining members. */
  close(): Promise<void>;
}

export interface TopicConfig {
  partitions: number;
  /** Whole segments older than this are deleted (-1 or absent: keep forever). */
  retentionMs?: number;
  /** Whole old segments are deleted while a partition is larger than this (-1 or absent: no limit). */
  retentionBytes?: number;
}

export interface PartitionInfo {
  partition: number;
  /** The first offset still stored (the log start). */
  earliest: number;
  /** The next offset to be written (the log end, Kafka's high watermark). */
  latest: number;
}

export interface TopicDescription {
  name: string;
  partitions: PartitionInfo[];
  retentionMs: number;
  retentionBytes: number;
}

export interface PartitionLag extends TopicPartition {
  /** The group's committed offset, or null when it never committed one for this partition. */
  committed: number | null;
  latest: number;
  /** latest − committed; without a commit, every stored record counts. */
  lag: number;
}

export interface BusAdmin {
  createTopic(name: string, config: TopicConfig): Promise<void>;
  describeTopic(name: string): Promise<TopicDescription>;
  listTopics(): Promise<string[]>;
  deleteTopic(name: string): Promise<void>;
}

export interface Bus {
  readonly admin: BusAdmin;
  /** Appends the records; resolves with where each landed once all of them are durable. */
  produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]>;
  consumer(group: string, topics: string[], opts?: ConsumerOptions): Promise<Consumer>;
  /** Per-partition lag of a group over the topics it committed offsets for or is subscribed to. */
  lag(group: string): Promise<PartitionLag[]>;
  /** Closes every consumer and the storage; pending produces finish first. */
  close(): Promise<void>;
}
