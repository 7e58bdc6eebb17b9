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

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.count;
  }

  /** Keeps a committed put's events (on their new pointers), if they all fit. */
  remember(ptrs: readonly Pointer[], puts: readonly Event[]): void {
    let bytes = 0;
    for (const e of puts) bytes += keptBytes(e);
    if (this.bytes + bytes > this.limit || ptrs.length === 0) return;
    this.bytes += bytes;
    this.count += ptrs.length;
    for (let i = 0; i < ptrs.length; i++) ptrs[i]!.e = puts[i]!;
  }

  get(p: Pointer): Event | undefined {
    return this.count === 0 ? undefined : p.e;
  }

  /** Drops the events of committed takes. */
  forget(takes: readonly Pointer[]): void {
    if (this.count === 0) return;
    for (let i = 0; i < takes.length; i++) {
      const p = takes[i]!;
      const e = p.e;
      if (e === undefined) continue;
      p.e = undefined;
      this.bytes -= keptBytes(e);
      this.count--;
    }
  }

  /** Forgets the accounting when the channel stops; pointers still holding events go with the channel. */
  clear(): void {
    this.bytes = 0;
    this.count = 0;
  }
}

/** What a kept event is charged against the bound: its body plus a flat allowance for headers. */
const keptBytes = (e: Event): number => e.body.length + 256;
