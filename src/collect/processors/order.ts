import type { Clock } from './group.js';

/**
 * The order in which a load-balancing group tries its sinks (Flume's round_robin and random
 * selectors), with the optional exponential back-off: a sink that fails is left out until
 * now + min(maxTimeOut, 1000 * 2^sequentialFailures) ms. Failures count up while they follow each
 * other and reset on a successful delivery.
 */
export type SelectorKind = 'round_robin' | 'random';

const BASE_BACKOFF_MS = 1000;
/** 2^16 s is far above any sensible maxTimeOut; the cap only keeps the arithmetic finite. */
const MAX_EXPONENT = 16;

interface State {
  fails: number;
  restoreAt: number;
}

export class SinkOrder {
  private readonly state: State[];
  private nextHead = 0;

  constructor(
    readonly size: number,
    private readonly kind: SelectorKind,
    private readonly backoff: boolean,
    private readonly maxTimeOut: number,
    private readonly now: Clock,
    private readonly random: () => number = Math.random,
  ) {
    this.state = Array.from({ length: size }, () => ({ fails: 0, restoreAt: 0 }));
  }

  /** Indices of the sinks to try for the next batch, best first; backed-off sinks are left out. */
  order(): number[] {
    const now = this.now();
    const active: number[] = [];
    for (let i = 0; i < this.size; i++) if (!this.backoff || this.state[i]!.restoreAt <= now) active.push(i);
    const n = active.length;
    if (n === 0) return active;
    if (this.kind === 'random') {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [active[i], active[j]] = [active[j]!, active[i]!];
      }
      return active;
    }
    if (this.nextHead >= n) this.nextHead = 0;
    const begin = this.nextHead;
    this.nextHead = (begin + 1) % n;
    return active.slice(begin).concat(active.slice(0, begin));
  }

  /** Records a failed delivery; returns the back-off in ms (0 without back-off). */
  failed(i: number): number {
    if (!this.backoff) return 0;
    const s = this.state[i]!;
    s.fails = Math.min(s.fails + 1, MAX_EXPONENT);
    const ms = Math.min(this.maxTimeOut, BASE_BACKOFF_MS * 2 ** s.fails);
    s.restoreAt = this.now() + ms;
    return ms;
  }

  succeeded(i: number): void {
    const s = this.state[i]!;
    s.fails = 0;
    s.restoreAt = 0;
  }

  /** When a backed-off sink is tried again (0 when it is not backed off). */
  restoreAt(i: number): number {
    return this.backoff ? this.state[i]!.restoreAt : 0;
  }

  failures(i: number): number {
    return this.state[i]!.fails;
  }
}
