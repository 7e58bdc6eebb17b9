import type { ComponentCounters } from '../core/metrics.js';
import type { Logger } from '../core/log.js';

/**
 * Flags the "alive but stuck" component: one whose input keeps waiting while its progress counter
 * stands still. A flagged component shows Stuck=1 in its metrics and is logged once; it is cleared
 * (and logged) when progress resumes.
 */
export interface Watched {
  what: string;
  counters: ComponentCounters;
  /** Work waiting for this component (events in a channel, unread bytes of a source). */
  pending(): number;
  /** A counter that moves whenever the component makes progress. */
  progress(): number;
}

interface State {
  lastProgress: number;
  since: number;
  stuck: boolean;
}

export class Watchdog {
  private readonly state = new Map<Watched, State>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly stuckAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Forgets everything watched (a reload registers the new pipeline afresh). */
  clear(): void {
    this.state.clear();
  }

  watch(w: Watched): void {
    this.state.set(w, { lastProgress: w.progress(), since: this.now(), stuck: false });
  }

  start(intervalMs = Math.max(250, Math.min(5000, this.stuckAfterMs / 4))): void {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round of checks; exposed for tests. */
  check(): void {
    const now = this.now();
    for (const [w, s] of this.state) {
      const p = w.progress();
      const pending = w.pending();
      if (p !== s.lastProgress || pending === 0) {
        if (s.stuck) this.log.info({ component: w.what }, `${w.what} is making progress again.`);
        s.lastProgress = p;
        s.since = now;
        s.stuck = false;
        w.counters.set('Stuck', 0);
        continue;
      }
      if (!s.stuck && now - s.since >= this.stuckAfterMs) {
        s.stuck = true;
        w.counters.set('Stuck', 1);
        this.log.warn({ component: w.what, pending }, `${w.what} made no progress for ${Math.round((now - s.since) / 1000)} s while ${pending} unit(s) of input wait; it looks stuck.`);
      }
    }
  }

  stuck(): string[] {
    return [...this.state].filter(([, s]) => s.stuck).map(([w]) => w.what);
  }
}
