import type { Event } from '../../../core/event.js';
import type { Pointer } from './records.js';

/**
 * Events this process put into a file channel and nobody took yet, by log position, up to a byte
 * bound: a take of them needs no read back from the log. They are the very objects that were put
 * and written; the log stays the only durable copy, and recovery always reads it. Keyed per data
 * file by offset (small integers), which keeps lookups cheap.
 */
export class RecentEvents {
  private readonly byFile = new Map<number, Map<number, Event>>();
  private bytes = 0;
  private count = 0;

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.count;
  }

  /** Keeps a committed put's events, if they all fit. */
  remember(ptrs: readonly Pointer[], puts: readonly Event[]): void {
    let bytes = 0;
    for (const e of puts) bytes += keptBytes(e);
    if (this.bytes + bytes > this.limit || ptrs.length === 0) return;
    this.bytes += bytes;
    this.count += ptrs.length;
    let f = ptrs[0]!.f;
    let m = this.fileMap(f);
    for (let i = 0; i < ptrs.length; i++) {
      const p = ptrs[i]!;
      if (p.f !== f) m = this.fileMap((f = p.f));
      m.set(p.o, puts[i]!);
    }
  }

  get(p: Pointer): Event | undefined {
    return this.byFile.get(p.f)?.get(p.o);
  }

  /** Drops the events of committed takes. */
  forget(takes: readonly Pointer[]): void {
    if (this.count === 0) return;
    for (const p of takes) {
      const m = this.byFile.get(p.f);
      const e = m?.get(p.o);
      if (e === undefined) continue;
      m!.delete(p.o);
      if (m!.size === 0) this.byFile.delete(p.f);
      this.bytes -= keptBytes(e);
      this.count--;
    }
  }

  clear(): void {
    this.byFile.clear();
    this.bytes = 0;
    this.count = 0;
  }

  private fileMap(f: number): Map<number, Event> {
    let m = this.byFile.get(f);
    if (!m) this.byFile.set(f, (m = new Map()));
    return m;
  }
}

/** What a kept event is charged against the bound: its body plus a flat allowance for headers. */
const keptBytes = (e: Event): number => e.body.length + 256;
