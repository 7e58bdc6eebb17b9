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
 *
 * Hot and cold: a set may keep origins idle for a while apart (`cool`), so that a per-batch marker
 * can carry only the recently active ones (`serializeHot`) while the idle ones are written now and
 * then (`serializeCold`): with a file source, every file is an origin, and a whole day of them in
 * every batch's marker would cost more than the batch. `with` copies only the hot part; the cold
 * part is shared until the next `cool`. Membership, `serialize` and `union` see both.
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

export interface IdAdmission extends Omit<Admission, 'fresh'> {
  /** Per identity, 1 when it is to be committed; undefined when all of them are. */
  fresh: Uint8Array | undefined;
}

/** One origin's sequence numbers in the batch being admitted (see admitIds). */
interface BatchSeqs {
  /** In arrival order; one below `last` may repeat an earlier one (found once they are sorted). */
  seqs: number[];
  /** The highest so far. */
  last: number;
  /** seqs is rising. */
  sorted: boolean;
  /** What the set already holds for the origin. */
  known: { hot: readonly number[] | undefined; cold: readonly number[] | undefined };
}

const NO_ORIGINS: ReadonlyMap<string, OriginEntry> = new Map();

export class IdentitySet {
  private constructor(
    /** Hot: origins active lately (all of them unless `cool` moved some to `cold`). */
    private readonly origins: ReadonlyMap<string, OriginEntry>,
    readonly limits: IdentitySetLimits,
    private readonly cold: ReadonlyMap<string, OriginEntry> = NO_ORIGINS,
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
      for (const part of [set.cold, set.origins]) {
        for (const [origin, entry] of part) {
          const had = origins.get(origin);
          origins.set(origin, had ? { ranges: merge(had.ranges, entry.ranges), seen: Math.max(had.seen, entry.seen) } : entry);
        }
      }
    }
    return new IdentitySet(origins, limits);
  }

  /** Origins held, hot and cold (one active again since it cooled counts twice). */
  get originCount(): number {
    return this.origins.size + this.cold.size;
  }

  /** Origins in the cold part. */
  get coldCount(): number {
    return this.cold.size;
  }

  /** The intervals held for `origin`, as [lo, hi] pairs (inclusive). */
  intervals(origin: string): Array<[number, number]> {
    const r = merge(this.cold.get(origin)?.ranges ?? [], this.origins.get(origin)?.ranges ?? []);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < r.length; i += 2) out.push([r[i]!, r[i + 1]!]);
    return out;
  }

  has(origin: string, seq: number): boolean {
    return inRanges(this.origins.get(origin)?.ranges, seq) || (this.cold.size > 0 && inRanges(this.cold.get(origin)?.ranges, seq));
  }

  /**
   * Splits a batch into fresh events and duplicates; does not change this set. `ids` may hold the
   * events' identities already parsed (identityOf of each event, same order).
   */
  admit(events: readonly Event[], now: number, ids?: ReadonlyArray<EventIdentity | undefined>): Admission {
    const a = this.admitIds(ids ?? events.map(identityOf), now);
    const fresh = a.fresh === undefined ? events.slice() : events.filter((_, i) => a.fresh![i] === 1);
    return { fresh, duplicates: a.duplicates, next: a.next, pruned: a.pruned, added: a.added };
  }

  /**
   * admit() on the identities alone: `fresh` marks the ones to commit (1: an unseen identity's first
   * occurrence, or no identity), undefined when all are. Identities of one origin usually come in
   * rising runs (a file's lines, a sender's batches), which are noted without hashing. An origin
   * whose numbers go back (a batch polled from several partitions) has them sorted once, which its
   * intervals need anyway; only when that shows one twice is the batch walked again, with a set per
   * such origin, to mark the later occurrences (an archive batch of 100,000 polled from 4 partitions
   * no longer builds a set of them all). An identity whose seq is not a safe integer counts as none
   * (identityOf never makes one).
   */
  admitIds(ids: ReadonlyArray<EventIdentity | undefined>, now: number): IdAdmission {
    const batch = new Map<string, BatchSeqs>();
    // origins in the order of their first fresh identity: `with` keeps that order (least recently seen first)
    const order: string[] = [];
    const scan = scanIds(ids, batch, order, (origin) => this.rangesOf(origin));
    let fresh = scan.fresh;
    let duplicates = scan.duplicates;
    const added = new Map<string, number[]>();
    let repeated: Set<string> | undefined;
    for (const origin of order) {
      const b = batch.get(origin)!;
      let ordered: ArrayLike<number> = b.seqs;
      if (!b.sorted) {
        ordered = Float64Array.from(b.seqs).sort();
        if (hasRepeat(ordered)) (repeated ??= new Set()).add(origin);
      }
      added.set(origin, toRanges(ordered));
    }
    if (repeated) {
      fresh ??= new Uint8Array(ids.length).fill(1);
      duplicates += markRepeats(ids, repeated, fresh);
    }
    const { next, pruned } = this.with(added, now);
    return { fresh, duplicates, next, pruned, added };
  }

  /** The intervals held for `origin`, hot and cold (undefined where none). */
  private rangesOf(origin: string): { hot: readonly number[] | undefined; cold: readonly number[] | undefined } {
    return { hot: this.origins.get(origin)?.ranges, cold: this.cold.size > 0 ? this.cold.get(origin)?.ranges : undefined };
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
      // an origin active again after it cooled starts from its cold intervals
      let ranges = merge(origins.get(origin)?.ranges ?? this.cold.get(origin)?.ranges ?? [], add);
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
    // The cold part is shared as it is (copying it per batch is what it is there to avoid): maxOrigins
    // is enforced on it by the next cool, which needsCooling asks for once the set is over it.
    return { next: new IdentitySet(origins, this.limits, this.cold), pruned };
  }

  /** True when hot origins have been idle for `idleMs`, cold ones are past the retention, or the set holds more than maxOrigins. */
  needsCooling(now: number, idleMs: number): boolean {
    if (this.origins.size + this.cold.size > this.limits.maxOrigins) return true;
    for (const e of this.origins.values()) if (now - e.seen > idleMs) return true;
    // the cold part is in least recently seen order: its first entry is the oldest
    for (const e of this.cold.values()) return now - e.seen > this.limits.retentionMs;
    return false;
  }

  /**
   * This set with the hot origins idle for `idleMs` moved to the cold part, and the cold part pruned
   * to the retention and to what `maxOrigins` leaves beside the hot origins.
   */
  cool(now: number, idleMs: number): { next: IdentitySet; pruned: number } {
    const { retentionMs, maxOrigins } = this.limits;
    const hot = new Map<string, OriginEntry>();
    const moving: Array<[string, OriginEntry]> = [];
    for (const [origin, entry] of this.origins) {
      if (now - entry.seen > idleMs) moving.push([origin, entry]);
      else hot.set(origin, entry);
    }
    const cold = new Map<string, OriginEntry>();
    let pruned = 0;
    // An origin active again keeps its cold entry too: its hot entry (which started from it, see
    // with) may not be durable yet where the cold part is written apart; cooling again replaces it.
    for (const [origin, entry] of this.cold) {
      if (now - entry.seen > retentionMs && !hot.has(origin)) pruned++;
      else cold.set(origin, entry);
    }
    // a hot entry holds all of its origin's intervals (with starts a reactivated origin from its
    // cold entry), so it replaces a cold one as it is — the same object, which adoptCold relies on
    for (const [origin, entry] of moving) {
      cold.delete(origin);
      cold.set(origin, entry);
    }
    const coldOnly = [...cold.keys()].filter((o) => !hot.has(o));
    const excess = hot.size + coldOnly.length - maxOrigins;
    for (let i = 0; i < excess; i++) {
      cold.delete(coldOnly[i]!); // least recently seen first
      pruned++;
    }
    return { next: new IdentitySet(hot, this.limits, cold), pruned };
  }

  /**
   * This set (committed since `cooled` was computed from it or an earlier state) taking the cold part
   * of `cooled`: origins that cooled leave the hot part unless they were active again meanwhile.
   */
  adoptCold(cooled: IdentitySet): IdentitySet {
    const hot = new Map<string, OriginEntry>();
    for (const [origin, entry] of this.origins) if (cooled.cold.get(origin) !== entry) hot.set(origin, entry);
    return new IdentitySet(hot, this.limits, cooled.cold);
  }

  /** Every origin, hot and cold: the whole set. */
  serialize(): string {
    return this.cold.size === 0 ? serializeOrigins([this.origins]) : IdentitySet.union([this], this.limits).serializeHot();
  }

  /** The hot origins only (a per-batch marker, beside a marker of the cold ones). */
  serializeHot(): string {
    return serializeOrigins([this.origins]);
  }

  /** The cold origins only. */
  serializeCold(): string {
    return serializeOrigins([this.cold]);
  }
}

export interface CoolingOptions {
  /** Origins that sent nothing new for this long leave the per-write markers (default 10 s). */
  coolAfterMs: number;
  /** At most one move to the cold part per this long (default 5 s). */
  coolEveryMs: number;
}

export const DEFAULT_COOLING: CoolingOptions = { coolAfterMs: 10_000, coolEveryMs: 5_000 };

/**
 * For a single writer that stores its set with every write (a store's state): what to write now —
 * the hot part always, the cold part only when origins moved to it. Write the cold part first
 * (or atomically with the hot one), then adopt `set`; restore with `IdentitySet.union` of both.
 */
export class Cooler {
  private last = -Infinity;
  constructor(private readonly o: CoolingOptions = DEFAULT_COOLING) {}

  split(set: IdentitySet, now: number): { set: IdentitySet; hot: string; cold?: string } {
    if (now - this.last < this.o.coolEveryMs || !set.needsCooling(now, this.o.coolAfterMs)) return { set, hot: set.serializeHot() };
    this.last = now;
    const cooled = set.cool(now, this.o.coolAfterMs).next;
    return { set: cooled, hot: cooled.serializeHot(), cold: cooled.serializeCold() };
  }
}

function serializeOrigins(parts: ReadonlyArray<ReadonlyMap<string, OriginEntry>>): string {
  const out: string[] = [];
  for (const part of parts) {
    for (const [origin, entry] of part) {
      entry.json ??= `{"t":${entry.seen},"r":[${entry.ranges.join(',')}]}`;
      out.push(`${JSON.stringify(origin)}:${entry.json}`);
    }
  }
  return `{"v":1,"o":{${out.join(',')}}}`;
}

/** Whether `seq` lies in one of the flat sorted intervals `r`. */
function inRanges(r: readonly number[] | undefined, seq: number): boolean {
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
 * admitIds' pass over the identities: duplicates of what the set holds, or of the highest number of
 * the origin so far, are marked; the others noted per origin in `batch` (origins in `order` as first
 * noted). A function of its own, apart from the once-a-batch code around it: V8 optimizes it once
 * and keeps it, where the loop inside admitIds was compiled on the stack during a call and thrown
 * away by the code after it (no type feedback yet), batch after batch.
 */
function scanIds(
  ids: ReadonlyArray<EventIdentity | undefined>,
  batch: Map<string, BatchSeqs>,
  order: string[],
  known: (origin: string) => BatchSeqs['known'],
): { fresh: Uint8Array | undefined; duplicates: number } {
  let fresh: Uint8Array | undefined;
  let duplicates = 0;
  let cur: BatchSeqs | undefined;
  let curOrigin: string | undefined;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!id || !Number.isSafeInteger(id.seq)) continue;
    const origin = id.origin;
    const seq = id.seq;
    if (origin !== curOrigin) {
      curOrigin = origin;
      cur = batch.get(origin);
      if (!cur) batch.set(origin, (cur = { seqs: [], last: -Infinity, sorted: true, known: known(origin) }));
    }
    const b = cur!;
    // the highest so far is in the batch; one below it is checked once the batch is sorted
    if (seq === b.last || inRanges(b.known.hot, seq) || inRanges(b.known.cold, seq)) {
      duplicates++;
      (fresh ??= new Uint8Array(ids.length).fill(1))[i] = 0;
      continue;
    }
    if (seq < b.last) b.sorted = false;
    else b.last = seq;
    if (b.seqs.length === 0) order.push(origin);
    b.seqs.push(seq);
  }
  return { fresh, duplicates };
}

/** Rising sequence numbers (a repeat adds nothing) as flat intervals. */
function toRanges(ordered: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < ordered.length; i++) {
    const s = ordered[i]!;
    const last = out.length - 1;
    if (last > 0 && s <= out[last]! + 1) {
      if (s > out[last]!) out[last] = s; // a repeat (see markRepeats) adds nothing
    } else out.push(s, s);
  }
  return out;
}

/** Whether sorted `a` holds a value twice. */
function hasRepeat(a: ArrayLike<number>): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] === a[i - 1]) return true;
  return false;
}

/**
 * Marks in `fresh` every later occurrence of an identity of the `repeated` origins still marked
 * fresh (their sorted numbers showed a repeat), in one pass over the batch; returns how many it
 * marked.
 */
function markRepeats(ids: ReadonlyArray<EventIdentity | undefined>, repeated: ReadonlySet<string>, fresh: Uint8Array): number {
  const seen = new Map<string, Set<number>>();
  let marked = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!id || fresh[i] === 0 || !repeated.has(id.origin) || !Number.isSafeInteger(id.seq)) continue;
    let s = seen.get(id.origin);
    if (!s) seen.set(id.origin, (s = new Set()));
    if (s.has(id.seq)) {
      fresh[i] = 0;
      marked++;
    } else s.add(id.seq);
  }
  return marked;
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
