import { errorMessage } from '../core/errors.js';
import { identityOf, type Event, type EventIdentity } from '../core/event.js';
import { DEFAULT_COOLING, IdentitySet, type CoolingOptions, type IdentitySetLimits } from './dedup.js';

/**
 * Exact-once commits for a receiving source with several batches in flight at once (e.g. one per
 * thrift connection), so that their channel commits — and the disk syncs behind them — overlap.
 *
 * The committed identity set lives in memory as one IdentitySet. On disk it is the union of the
 * channel markers of `slots` slots: `<key>` (slot 0: the key a source with one slot always used) and
 * `<key>#1` … `<key>#<slots-1>`. A batch holds one slot while it commits, and commits that slot's
 * marker as "every identity committed when the batch was admitted, plus the batch's own". Hence:
 *   - a slot marker only ever names identities that are committed (its own batch's become committed
 *     with the same transaction);
 *   - every committed identity stays in the marker of the slot that committed it, since the next
 *     batch on that slot is admitted after it and so starts from a set that holds it.
 * So the union of the slot markers is the committed set after any crash, exactly as far as the
 * channel is durable.
 *
 * The marker of a slot carries only the set's hot origins; origins idle for `coolAfterMs` move, at
 * most every `coolEveryMs`, to a cold part committed under `<key>#cold` with the batch that moves
 * them (one such batch in flight at a time). The cold marker is rewritten only then, so a batch's
 * marker stays as small as the origins active lately, however many files a day brings. A moved
 * origin is in the cold marker before any slot marker leaves it out, so the union of the slot
 * markers and the cold marker is still the committed set.
 *
 * Two batches that may share identities (per origin their seq ranges overlap — typically the replay
 * of a batch whose first attempt is still being committed) never commit at once: the later waits
 * for the earlier to finish and is then checked against the set that includes it.
 */
export const MAX_SLOTS = 64;

export interface CommitResult {
  /** Events committed (fresh identities and events without identity). */
  accepted: number;
  /** Events dropped as already committed (or repeated within the batch). */
  duplicates: number;
  /** Origins or intervals forgotten to keep the set bounded. */
  pruned: number;
}

/** Commits `fresh` with `markers` in one channel transaction; throws when it did not commit. */
export type PutFn = (fresh: Event[], markers: Record<string, string>) => Promise<void>;

interface InFlight {
  /** Per origin, the lowest and highest seq of the batch. */
  claims: Map<string, [number, number]>;
  done: Promise<void>;
}

export class DedupCommitter {
  private committed: IdentitySet;
  private readonly free: number[] = [];
  private readonly slotWaiters: Array<(slot: number) => void> = [];
  private readonly inflight = new Set<InFlight>();
  private readonly running = new Set<Promise<unknown>>();
  readonly slots: number;
  /** A batch moving origins to the cold marker is in flight; when the last move was. */
  private cooling = false;
  private lastCool = -Infinity;

  constructor(
    private readonly key: string,
    slots: number,
    private readonly limits: IdentitySetLimits,
    private readonly cool: CoolingOptions = DEFAULT_COOLING,
  ) {
    this.slots = Math.max(1, Math.min(MAX_SLOTS, Math.floor(slots)));
    for (let i = this.slots - 1; i >= 0; i--) this.free.push(i);
    this.committed = IdentitySet.empty(limits);
  }

  /** The marker key of slot `i`. */
  slotKey(i: number): string {
    return i === 0 ? this.key : `${this.key}#${i}`;
  }

  /** The marker key of the cold origins. */
  get coldKey(): string {
    return `${this.key}#cold`;
  }

  /** The committed set (for status and tests). */
  get identities(): IdentitySet {
    return this.committed;
  }

  /**
   * Restores the committed set from the slot markers (of up to MAX_SLOTS slots, whatever the slot
   * count was before); returns the markers that could not be read, which are left out.
   */
  restore(marker: (key: string) => string | undefined): Array<{ key: string; error: string }> {
    const sets: IdentitySet[] = [];
    const bad: Array<{ key: string; error: string }> = [];
    for (const key of [this.coldKey, ...Array.from({ length: MAX_SLOTS }, (_, i) => this.slotKey(i))]) {
      const text = marker(key);
      if (text === undefined) continue;
      try {
        sets.push(IdentitySet.parse(text, this.limits));
      } catch (err) {
        bad.push({ key, error: errorMessage(err) });
      }
    }
    this.committed = IdentitySet.union(sets, this.limits);
    return bad;
  }

  /** Drops the already committed part of `events` and commits the rest through `put`. */
  commit(events: Event[], put: PutFn, now: () => number = Date.now): Promise<CommitResult> {
    const run = this.run(events, put, now);
    this.running.add(run);
    const forget = () => this.running.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Resolves once no commit is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async run(events: Event[], put: PutFn, now: () => number): Promise<CommitResult> {
    const ids = events.map(identityOf);
    const claims = claimsOf(ids);
    const slot = await this.acquire();
    try {
      for (let blocker = this.overlapping(claims); blocker; blocker = this.overlapping(claims)) await blocker.done;
      // From here to the in-flight registration nothing awaits, so no other batch can slip in.
      const t = now();
      const { fresh, duplicates, next, added } = this.committed.admit(events, t, ids);
      if (fresh.length === 0) return { accepted: 0, duplicates, pruned: 0 };
      // Now and then this batch also moves idle origins out of the per-batch markers.
      const cooled = !this.cooling && t - this.lastCool >= this.cool.coolEveryMs && next.needsCooling(t, this.cool.coolAfterMs) ? next.cool(t, this.cool.coolAfterMs) : undefined;
      if (cooled) this.cooling = true;
      let finish!: () => void;
      const entry: InFlight = { claims, done: new Promise<void>((r) => (finish = r)) };
      this.inflight.add(entry);
      try {
        const markers = cooled
          ? { [this.slotKey(slot)]: cooled.next.serializeHot(), [this.coldKey]: cooled.next.serializeCold() }
          : { [this.slotKey(slot)]: next.serializeHot() };
        await put(fresh, markers);
        const adopted = this.committed.with(added, now());
        this.committed = cooled ? adopted.next.adoptCold(cooled.next) : adopted.next;
        if (cooled) this.lastCool = t;
        return { accepted: fresh.length, duplicates, pruned: adopted.pruned + (cooled?.pruned ?? 0) };
      } finally {
        if (cooled) this.cooling = false;
        this.inflight.delete(entry);
        finish();
      }
    } finally {
      this.release(slot);
    }
  }

  private overlapping(claims: Map<string, [number, number]>): InFlight | undefined {
    if (claims.size === 0) return undefined;
    for (const other of this.inflight) {
      for (const [origin, [lo, hi]] of claims) {
        const c = other.claims.get(origin);
        if (c && lo <= c[1] && c[0] <= hi) return other;
      }
    }
    return undefined;
  }

  private acquire(): Promise<number> {
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private release(slot: number): void {
    const next = this.slotWaiters.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}

function claimsOf(ids: ReadonlyArray<EventIdentity | undefined>): Map<string, [number, number]> {
  const claims = new Map<string, [number, number]>();
  let last: [number, number] | undefined;
  let lastOrigin: string | undefined;
  for (const id of ids) {
    if (!id) continue;
    let c = id.origin === lastOrigin ? last : claims.get(id.origin);
    if (!c) claims.set(id.origin, (c = [id.seq, id.seq]));
    else if (id.seq < c[0]) c[0] = id.seq;
    else if (id.seq > c[1]) c[1] = id.seq;
    last = c;
    lastOrigin = id.origin;
  }
  return claims;
}
