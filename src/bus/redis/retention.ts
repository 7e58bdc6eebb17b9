import { decodeEntry, idOf, keys, type RawEntry } from './layout.js';

/**
 * Retention for the Redis bus, run by a timer (and on demand).
 *
 * - retentionMs: entries are removed from the start of a partition up to the first record whose
 *   timestamp is within retentionMs of now (XTRIM MINID, exact). As in Kafka, a record with a
 *   timestamp far in the future keeps the records after it.
 * - retentionBytes: Redis does not report a stream's size exactly; MEMORY USAGE (sampled) divided by
 *   XLEN estimates bytes per entry, and XTRIM MAXLEN ~ keeps about retentionBytes of them. `~` lets
 *   Redis remove only whole internal nodes, so a partition can stay somewhat above the limit.
 */
export interface RetentionHost {
  prefix: string;
  cmd<T>(args: ReadonlyArray<string | Buffer>, buffers?: boolean): Promise<T>;
  bounds(topic: string, partition: number): Promise<{ earliest: number; latest: number }>;
}

export async function enforceRetention(h: RetentionHost, now: number): Promise<number> {
  let removed = 0;
  for (const topic of (await h.cmd<string[]>(['SMEMBERS', keys.topics(h.prefix)])) ?? []) {
    const flat = (await h.cmd<string[]>(['HGETALL', keys.meta(h.prefix, topic)])) ?? [];
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
    const partitions = Number(m.get('partitions') ?? 0);
    const retentionMs = Number(m.get('retentionMs') ?? -1);
    const retentionBytes = Number(m.get('retentionBytes') ?? -1);
    if (retentionMs < 0 && retentionBytes < 0) continue;
    for (let p = 0; p < partitions; p++) {
      const stream = keys.stream(h.prefix, topic, p);
      if (retentionMs > 0) {
        const keepFrom = await firstOffsetAtOrAfter(h, topic, p, now - retentionMs);
        removed += await h.cmd<number>(['XTRIM', stream, 'MINID', idOf(keepFrom)]);
      }
      if (retentionBytes > 0) {
        const len = await h.cmd<number>(['XLEN', stream]);
        const bytes = len > 0 ? ((await h.cmd<number | null>(['MEMORY', 'USAGE', stream, 'SAMPLES', '5'])) ?? 0) : 0;
        if (bytes > retentionBytes) removed += await h.cmd<number>(['XTRIM', stream, 'MAXLEN', '~', String(Math.floor((len * retentionBytes) / bytes))]);
      }
    }
  }
  return removed;
}

/** Scans from the start of the partition: the first record not older than `ts`, or the log end. */
export async function firstOffsetAtOrAfter(h: RetentionHost, topic: string, p: number, ts: number): Promise<number> {
  const stream = keys.stream(h.prefix, topic, p);
  let from = '-';
  for (;;) {
    const page = await h.cmd<RawEntry[]>(['XRANGE', stream, from, '+', 'COUNT', '500'], true);
    for (const e of page) {
      const r = decodeEntry(topic, p, e);
      if (r.timestamp >= ts) return r.offset;
    }
    if (page.length < 500) return (await h.bounds(topic, p)).latest;
    from = `(${page[page.length - 1]![0].toString()}`;
  }
}
