import { identityOf, type Event, type EventIdentity } from '../core/event.js';

/**
 * The identities (origin, seq) a receiving source has already committed, kept per origin as sorted,
 * merged, inclusive intervals of sequence numbers — a sender's contiguous batches collapse into one
 * interval. The set is immutable: `admit` returns the next set, which the caller adopts only after
 * the batch it describes has been committed (the serialized next set rides on that commit as a marker).
 *
 * Bounds: origins idle longer than the retention are pruned, at most `maxOrigins` origins are kept
 * (the longest idle go first) and at most `maxIntervals` intervals per origin (the lowest go first:
 * replays are of recent batches). Forgetting can only let an old duplicate through, never drop data.
 */
export interface IdentitySetLimits {
  retentionMs: number;
  maxOrigins: number;
  maxIntervals: number;
}

interface OriginEntry {
  /** Flat [lo0, hi0, lo1, hi1, …], sorted, non-overlapping, non-adjacent. */
  readonly ranges: readonly number[];
  /** When this origin last sent something new (ms since the epoch). */
  readonly seen: number;
  json?: string;
}

export interface Admission {
  /** Events to commit: unseen identities (first occurrence) and events without identity, in order. */
  fresh: Event[];
  /** Events dropped because their identity was already committed or repeated in the batch. */
  duplicates: number;
  /** The set after committing `fresh`. */
  next: IdentitySet;
  /** The identities of `fresh`, per origin, as flat sorted intervals (for `IdentitySet.with`). */
  added: ReadonlyMap<string, readonly number[]>;
  /** Origins (or intervals) forgotten to respect the bounds. */
  pruned: number;
}

export class IdentitySet {
  private constructor(
    private readonly origins: ReadonlyMap<string, OriginEntry>,
    readonly limits: IdentitySetLimits,
  ) {}

  static empty(limits: IdentitySetLimits): IdentitySet {
    return new IdentitySet(new Map(), limits);
  }

  /** Restores a set written by `serialize`; throws with a clear message when the text is not one. */
  static parse(text: string, limits: IdentitySetLimits): IdentitySet {
    const doc = JSON.parse(text) as { v?: unknown; o?: unknown };
    if (doc.v !== 1 || typeof doc.o !== 'object' || doc.o === null) throw new Error('not a version 1 identity set');
    const origins = new Map<string, OriginEntry>();
    for (const [origin, raw] of Object.entries(doc.o as Record<string, { t?: unknown; r?: unknown }>)) {
      const r = raw.r;
      if (typeof raw.t !== 'number' || !Array.isArray(r) || r.length % 2 !== 0 || !r.every((n) => Number.isSafeInteger(n))) {
        throw new Error(`identity set entry for origin ${JSON.stringify(origin)} is malformed`);
      }
      origins.set(origin, { ranges: r as number[], seen: raw.t });
    }
    return new IdentitySet(origins, limits);
  }

  /** The union of several sets (each origin: merged intervals, latest activity); limits apply on the next `with`. */
  static union(sets: readonly IdentitySet[], limits: IdentitySetLimits): IdentitySet {
    const origins = new Map<string, OriginEntry>();
    for (const set of sets) {
      for (const [origin, entry] of set.origins) {
        const had = origins.get(origin);
        origins.set(origin, had ? { ranges: merge(had.ranges, entry.ranges), seen: Math.max(had.seen, entry.seen) } : entry);
      }
    }
    return new IdentitySet(origins, limits);
  }

  get originCount(): number {
    return this.origins.size;
  }

  /** The intervals held for `origin`, as [lo, hi] pairs (inclusive). */
  intervals(origin: string): Array<[number, number]> {
    const r = this.origins.get(origin)?.ranges ?? [];
    const out: Array<[number, number]> = [];
    for (let i = 0; i < r.length; i += 2) out.push([r[i]!, r[i + 1]!]);
    return out;
  }

  has(origin: string, seq: number): boolean {
    const r = this.origins.get(origin)?.ranges;
    if (!r) return false;
    let lo = 0;
    let hi = r.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (seq < r[2 * mid]!) hi = mid - 1;
      else if (seq > r[2 * mid + 1]!) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /**
   * Splits a batch into fresh events and duplicates; does not change this set. `ids` may hold the
   * events' identities already parsed (identityOf of each event, same order).
   */
  admit(events: readonly Event[], now: number, ids?: ReadonlyArray<EventIdentity | undefined>): Admission {
    const fresh: Event[] = [];
    const added = new Map<string, Set<number>>();
    let duplicates = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const id = ids ? ids[i] : identityOf(e);
      if (!id) {
        fresh.push(e);
        continue;
      }
      let batch = added.get(id.origin);
      if (this.has(id.origin, id.seq) || batch?.has(id.seq)) {
        duplicates++;
        continue;
      }
      if (!batch) added.set(id.origin, (batch = new Set()));
      batch.add(id.seq);
      fresh.push(e);
    }
    const ranges = new Map<string, number[]>();
    for (const [origin, seqs] of added) ranges.set(origin, toRanges(seqs));
    const { next, pruned } = this.with(ranges, now);
    return { fresh, duplicates, next, pruned, added: ranges };
  }

  /** This set plus `added` (flat sorted intervals per origin), pruned to the limits. */
  with(added: ReadonlyMap<string, readonly number[]>, now: number): { next: IdentitySet; pruned: number } {
    const { retentionMs, maxOrigins, maxIntervals } = this.limits;
    const origins = new Map<string, OriginEntry>();
    let pruned = 0;
    for (const [origin, entry] of this.origins) {
      if (!added.has(origin) && now - entry.seen > retentionMs) pruned++;
      else origins.set(origin, entry);
    }
    for (const [origin, add] of added) {
      let ranges = merge(origins.get(origin)?.ranges ?? [], add);
      if (ranges.length > 2 * maxIntervals) {
        pruned += ranges.length / 2 - maxIntervals;
        ranges = ranges.slice(ranges.length - 2 * maxIntervals);
      }
      origins.delete(origin); // re-insert so that Map order is least recently seen first
      origins.set(origin, { ranges, seen: now });
    }
    if (origins.size > maxOrigins) {
      for (const origin of [...origins.keys()].slice(0, origins.size - maxOrigins)) {
        origins.delete(origin);
        pruned++;
      }
    }
    return { next: new IdentitySet(origins, this.limits), pruned };
  }

  serialize(): string {
    const parts: string[] = [];
    for (const [origin, entry] of this.origins) {
      entry.json ??= `{"t":${entry.seen},"r":[${entry.ranges.join(',')}]}`;
      parts.push(`${JSON.stringify(origin)}:${entry.json}`);
    }
    return `{"v":1,"o":{${parts.join(',')}}}`;
  }
}

function toRanges(seqs: Set<number>): number[] {
  const sorted = [...seqs].sort((a, b) => a - b);
  const out: number[] = [];
  for (const s of sorted) {
    if (out.length > 0 && out[out.length - 1]! + 1 === s) out[out.length - 1] = s;
    else out.push(s, s);
  }
  return out;
}

/** Merges two flat interval lists into one, coalescing overlapping and adjacent intervals. */
export function merge(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let lo: number;
    let hi: number;
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) {
      lo = a[i]!;
      hi = a[i + 1]!;
      i += 2;
    } else {
      lo = b[j]!;
      hi = b[j + 1]!;
      j += 2;
    }
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}
