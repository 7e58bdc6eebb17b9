import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { BusRecord } from './bus.js';

/**
 * Kafka's default partitioner for keyed records: MurmurHash2 (32-bit, seed 0x9747b28c, the variant
 * in Kafka's `Utils.murmur2`) over the key bytes, made non-negative by masking the sign bit
 * (`Utils.toPositive`), modulo the partition count. A key therefore lands on the partition a Kafka
 * client would choose, so data moved between the embedded log and Kafka keeps its per-key order.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 as a signed 32-bit integer (the value Java's `Utils.murmur2` returns). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) h = Math.imul(h ^ data[whole]!, M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not Math.abs, which differs for negatives). */
export const toPositive = (n: number): number => n & 0x7fffffff;

/** The partition Kafka's default partitioner gives a key. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return toPositive(murmur2(key)) % partitions;
}

/**
 * Chooses partitions for a batch: a record naming its partition goes there (checked to exist before
 * anything is written); keyed records by murmur2; records without a key all go to one
 * partition per call, rotating between calls (sticky per batch, as Kafka's sticky partitioner does
 * per producer batch), so a batch costs one append per partition instead of one per record.
 */
export class Partitioner {
  private next = new Map<string, number>();

  assign(topic: string, partitions: number, records: readonly BusRecord[]): Int32Array {
    const out = new Int32Array(records.length);
    let sticky = -1;
    for (let i = 0; i < records.length; i++) {
      const { key, partition } = records[i]!;
      if (partition !== undefined) {
        if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
          throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `produce to ${topic}: record ${i} names partition ${String(partition)}, but the topic has partitions 0..${partitions - 1}; nothing of the batch was written`);
        }
        out[i] = partition;
      } else if (key) {
        out[i] = partitionForKey(key, partitions);
      } else {
        if (sticky < 0) {
          const n = this.next.get(topic) ?? 0;
          sticky = n % partitions;
          this.next.set(topic, n + 1);
        }
        out[i] = sticky;
      }
    }
    return out;
  }
}
