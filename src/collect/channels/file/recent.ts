import type { Event } from '../../../core/event.js';
import type { Pointer } from './records.js';

/**
 * Events this process put into a file channel and nobody took yet, up to a byte bound: a take of
 * them needs no read back from the log. They are the very objects that were put and written; the
 * log stays the only durable copy, and recovery always reads it. Each kept event hangs on its own
 * queue pointer (`Pointer.e`): the pointer a take gets back is the one the put created, so keeping,
 * finding and dropping an event costs a field store or load, and no table per event.
 */
export class RecentEvents {
  private bytes = 0;
  private count = 0;
  /**
   * The memory kept bodies hold on to: each backing ArrayBuffer, with how many kept bodies view it.
   * A body is often a view into a larger buffer (a line of a 1 MiB file read, an event of a socket
   * read), which it keeps alive whole; a backing buffer is charged whole, once, while any kept body
   * views it. A channel that gets a few lines of each read (a filtering interceptor, a multiplexing
   * selector) then keeps few events instead of pinning many times the bound.
   */
  private readonly backing = new Map<ArrayBufferLike, number>();

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.count;
  }

  /** Bytes charged against the bound (backing buffers of kept bodies, and headers' allowance). */
  get charged(): number {
    return this.bytes;
  }

  /** Keeps a committed put's events (on their new pointers), if they all fit. */
  remember(ptrs: readonly Pointer[], puts: readonly Event[]): void {
    if (ptrs.length === 0) return;
    let bytes = puts.length * HEADER_ALLOWANCE;
    let last: ArrayBufferLike | undefined;
    let added: Set<ArrayBufferLike> | undefined;
    for (let i = 0; i < puts.length; i++) {
      const ab = puts[i]!.body.buffer;
      if (ab === last) continue;
      last = ab;
      if (this.backing.has(ab) || added?.has(ab)) continue;
      (added ??= new Set()).add(ab);
      bytes += ab.byteLength;
    }
    if (this.bytes + bytes > this.limit) return;
    this.bytes += bytes;
    this.count += ptrs.length;
    for (let i = 0; i < ptrs.length; i++) ptrs[i]!.e = puts[i]!;
    this.hold(puts, 1);
  }

  get(p: Pointer): Event | undefined {
    return this.count === 0 ? undefined : p.e;
  }

  /** Drops the events of committed takes. */
  forget(takes: readonly Pointer[]): void {
    if (this.count === 0) return;
    const dropped: Event[] = [];
    for (let i = 0; i < takes.length; i++) {
      const p = takes[i]!;
      const e = p.e;
      if (e === undefined) continue;
      p.e = undefined;
      dropped.push(e);
    }
    this.count -= dropped.length;
    this.bytes -= dropped.length * HEADER_ALLOWANCE;
    this.hold(dropped, -1);
  }

  /** Counts the bodies of `events` on their backing buffers (+1) or off them (-1), run by run. */
  private hold(events: readonly Event[], sign: 1 | -1): void {
    let i = 0;
    while (i < events.length) {
      const ab = events[i]!.body.buffer;
      let j = i + 1;
      while (j < events.length && events[j]!.body.buffer === ab) j++;
      const n = (this.backing.get(ab) ?? 0) + sign * (j - i);
      if (n > 0) this.backing.set(ab, n);
      else {
        this.backing.delete(ab);
        this.bytes -= ab.byteLength;
      }
      i = j;
    }
  }

  /** Forgets the accounting when the channel stops; pointers still holding events go with the channel. */
  clear(): void {
    this.bytes = 0;
    this.count = 0;
    this.backing.clear();
  }
}

/** What a kept event is charged for its headers and objects, beside its body's backing buffer. */
const HEADER_ALLOWANCE = 256;
