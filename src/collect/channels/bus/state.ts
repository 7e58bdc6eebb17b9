import { readFile } from 'node:fs/promises';
import type { Bus } from '../../../bus/bus.js';
import { ErrorCodes, MonsoonError } from '../../../core/errors.js';
import { writeFileAtomic } from '../../../core/fs.js';
import type { Logger } from '../../../core/log.js';

/**
 * The bus channel's own state (see ../bus.ts): its markers, where its recovery scan starts and where
 * its takes stand. Markers committed with puts travel inside the topic (header MARKER_HEADER on the
 * last record of the transaction) and are found again by scanning the partitions from `scan`; this
 * file only bounds that scan, and holds the markers of commits that wrote no record (take commits,
 * marker-only commits).
 *
 *   state file = JSON { v: 1, owner, seq, scan: [offset per partition], takes: [offset | null per partition],
 *                       markers: { key: [seq, value] } }
 *
 * `owner` names this channel in the marker headers it writes; it is chosen at the first start and
 * kept here, so that a new host name (a container recreated on the same volume) does not disown them.
 */
export const MARKER_HEADER = 'monsoon.channel.markers';

export interface Marker {
  /** The commit that set it: markers of a later commit win. */
  s: number;
  v: string;
}

export interface ChannelState {
  owner: string;
  seq: number;
  /** Per partition: every marker of this channel below this offset is in `markers`. */
  scan: number[];
  /** Per partition: the next offset this channel's takes read (null: none committed yet). */
  takes: Array<number | null>;
  markers: Map<string, Marker>;
}

export const emptyState = (owner: string): ChannelState => ({ owner, seq: 0, scan: [], takes: [], markers: new Map() });

/** The marker header's value: the channel that wrote it, the commit's seq and its markers. */
export function markerHeader(owner: string, seq: number, markers: Readonly<Record<string, string>>): string {
  return JSON.stringify({ o: owner, s: seq, m: markers });
}

/** Applies a marker header if `owner` wrote it; returns the seq it carried (0 when not ours or unreadable). */
export function applyMarkerHeader(value: string, owner: string, into: Map<string, Marker>): number {
  let doc: { o?: unknown; s?: unknown; m?: unknown };
  try {
    doc = JSON.parse(value) as typeof doc;
  } catch {
    return 0;
  }
  if (doc.o !== owner || typeof doc.s !== 'number' || typeof doc.m !== 'object' || doc.m === null) return 0;
  const s = doc.s;
  for (const [k, v] of Object.entries(doc.m as Record<string, unknown>)) {
    const had = into.get(k);
    if (typeof v === 'string' && (!had || had.s < s)) into.set(k, { s, v });
  }
  return s;
}

/** Reads the state file; undefined when there is none, a CHANNEL_CORRUPT error naming the file when unreadable. */
export async function readState(path: string): Promise<ChannelState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const bad = (why: string) => new MonsoonError(ErrorCodes.CHANNEL_CORRUPT, `${path}: ${why}`);
  let doc: { v?: unknown; owner?: unknown; seq?: unknown; scan?: unknown; takes?: unknown; markers?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  const offsets = (a: unknown, nullable: boolean) => Array.isArray(a) && a.every((n) => (nullable && n === null) || (Number.isSafeInteger(n) && (n as number) >= 0));
  if (doc.v !== 1) throw bad('not a version 1 bus channel state');
  if (typeof doc.owner !== 'string' || !Number.isSafeInteger(doc.seq) || !offsets(doc.scan, false) || !offsets(doc.takes, true) || typeof doc.markers !== 'object' || doc.markers === null) {
    throw bad('malformed bus channel state');
  }
  const markers = new Map<string, Marker>();
  for (const [k, m] of Object.entries(doc.markers as Record<string, unknown>)) {
    if (!Array.isArray(m) || typeof m[0] !== 'number' || typeof m[1] !== 'string') throw bad(`marker ${JSON.stringify(k)} is malformed`);
    markers.set(k, { s: m[0], v: m[1] });
  }
  return { owner: doc.owner, seq: doc.seq as number, scan: doc.scan as number[], takes: doc.takes as Array<number | null>, markers };
}

export async function writeState(path: string, st: ChannelState): Promise<void> {
  const markers: Record<string, [number, string]> = {};
  for (const [k, m] of st.markers) markers[k] = [m.s, m.v];
  await writeFileAtomic(path, JSON.stringify({ v: 1, owner: st.owner, seq: st.seq, scan: st.scan, takes: st.takes, markers }));
}

/** Gives up a recovery scan that reads nothing new for this long. */
const SCAN_STALL_MS = 30_000;

/**
 * Reads partitions `from[p]` up to `to[p]` of `topic` and applies the marker headers `owner` wrote;
 * returns the highest seq seen. Used at start, so that markers committed after the last state file
 * are not lost.
 */
export async function scanMarkers(
  bus: Bus,
  topic: string,
  group: string,
  owner: string,
  from: readonly number[],
  to: readonly number[],
  into: Map<string, Marker>,
  log: Logger,
): Promise<number> {
  const left = new Set<number>();
  for (let p = 0; p < to.length; p++) if ((from[p] ?? 0) < to[p]!) left.add(p);
  if (left.size === 0) return 0;
  const consumer = await bus.consumer(group, [topic], { from: 'earliest' });
  let seq = 0;
  let records = 0;
  try {
    const positioned = new Set<number>();
    let progress = Date.now();
    while (left.size > 0) {
      for (const tp of consumer.assignment()) {
        if (positioned.has(tp.partition)) continue;
        await consumer.seek(tp, from[tp.partition] ?? 0);
        positioned.add(tp.partition);
      }
      const batches = await consumer.poll(10_000, 200);
      for (const b of batches) {
        if (!positioned.has(b.partition) || !left.has(b.partition)) continue;
        const end = to[b.partition]!;
        for (const r of b.records) {
          if (r.offset >= end) break;
          records++;
          const h = r.headers[MARKER_HEADER];
          if (h !== undefined) seq = Math.max(seq, applyMarkerHeader(h, owner, into));
        }
        if (b.records.length > 0) progress = Date.now();
        if (b.records[b.records.length - 1]!.offset + 1 >= end) left.delete(b.partition);
      }
      if (Date.now() - progress > SCAN_STALL_MS) {
        throw new MonsoonError(ErrorCodes.IO, `cannot read back topic ${topic} (partitions ${[...left].join(', ')}) to recover the channel's markers: nothing read for ${SCAN_STALL_MS / 1000} s`, { retriable: true });
      }
    }
  } finally {
    await consumer.close().catch(() => {});
  }
  log.info({ topic, records }, `read back ${records} record(s) of ${topic} to recover the channel's markers`);
  return seq;
}
