import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { checkRecordShape, recordError } from '../names.js';
import type { BusRecord, ProducedOffset } from '../bus.js';
import type { Partitioner } from '../partitioner.js';
import { encodeBatch, readHeader, recordSize } from './batch.js';

/**
 * The first half of a produce to the embedded log: records checked, given partitions and encoded as
 * the batches each partition appends. The log's own produce does it in its thread; a worker thread
 * feeding a log held by another thread (src/bus/thread/) does it in its own, so that the log's
 * thread only appends finished batches.
 */
export interface EncodedPart {
  partition: number;
  /** Encoded batches (batch.ts), base offsets still unstamped. */
  batches: Buffer[];
  /** Records in each batch. */
  counts: number[];
  /** The produce's record indexes in this partition, in order. */
  idxs: number[];
}

/** Records are grouped into batches of about this size so a reader never decodes much it skips. */
const TARGET_BATCH_BYTES = 256 * 1024;

/** The encoded size of record `i`, or a MonsoonError naming what is wrong with it. */
export function checkRecord(topic: string, r: BusRecord, i: number, maxRecordBytes: number): number {
  checkRecordShape(topic, r, i);
  const size = recordSize(r, topic, i);
  if (size > maxRecordBytes) throw recordError(topic, i, `is ${size} bytes encoded; this bus accepts at most ${maxRecordBytes}`, ErrorCodes.BUS_RECORD_TOO_LARGE);
  return size;
}

/** Checks, partitions and encodes a produce's records; throws (writing nothing) when one is bad. */
export function encodeProduce(topic: string, partitions: number, records: readonly BusRecord[], partitioner: Partitioner, maxRecordBytes: number, now: number): EncodedPart[] {
  const sizes = records.map((r, i) => checkRecord(topic, r, i, maxRecordBytes));
  const assigned = partitioner.assign(topic, partitions, records);
  const byPartition = new Map<number, number[]>();
  for (let i = 0; i < records.length; i++) {
    const p = assigned[i]!;
    const list = byPartition.get(p);
    if (list) list.push(i);
    else byPartition.set(p, [i]);
  }
  const out: EncodedPart[] = [];
  for (const [partition, idxs] of byPartition) {
    const batches: Buffer[] = [];
    const counts: number[] = [];
    let start = 0;
    let bytes = 0;
    for (let k = 0; k <= idxs.length; k++) {
      if (k === idxs.length || (k > start && bytes + sizes[idxs[k]!]! > TARGET_BATCH_BYTES)) {
        const chunk = idxs.slice(start, k);
        batches.push(encodeBatch(chunk.map((i) => records[i]!), chunk.map((i) => sizes[i]!), now, k < idxs.length));
        counts.push(chunk.length);
        start = k;
        bytes = 0;
      }
      if (k < idxs.length) bytes += sizes[idxs[k]!]!;
    }
    out.push({ partition, batches, counts, idxs });
  }
  return out;
}

/** Where each record landed, given the first offset each part was appended at. */
export function producedOffsets(parts: readonly EncodedPart[], bases: readonly number[], records: number): ProducedOffset[] {
  const result: ProducedOffset[] = new Array(records);
  parts.forEach((part, j) => {
    for (let k = 0; k < part.idxs.length; k++) result[part.idxs[k]!] = { partition: part.partition, offset: bases[j]! + k };
  });
  return result;
}

/**
 * Checks batches handed over for appending (by a thread that encoded them): a whole batch each, of
 * the stated record count. Their checksums are the encoder's business; this guards the log against
 * a confused caller, not against damage.
 */
export function checkEncoded(topic: string, partition: number, batches: readonly Buffer[], counts: readonly number[]): void {
  const bad = (what: string) => new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `append to ${topic}-${partition}: ${what}; nothing was written`);
  if (batches.length !== counts.length || batches.length === 0) throw bad('batches and counts do not match');
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    if (b.length < 32 || b[16] !== 1) throw bad(`batch ${i} is not an encoded batch`);
    const h = readHeader(b, 0);
    if (h.size !== b.length || h.count !== counts[i] || h.count < 1) throw bad(`batch ${i} holds ${h.count} records in ${h.size} bytes, not ${counts[i]} in ${b.length}`);
  }
}
