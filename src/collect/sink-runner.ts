import { errorMessage, isRetriable, MonsoonError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Channel, SinkProcessor } from './contracts.js';

/**
 * Drives one sink processor (Flume's SinkRunner): calls process() in a loop. After BACKOFF (nothing to
 * deliver) it waits for data on the channels, at most min(n * backoffSleepIncrement, maxBackoffSleep)
 * ms after n BACKOFFs in a row, so new events are taken as soon as they are committed. After a thrown
 * failure it logs once per streak of the same error and sleeps min(n * backoffSleepIncrement,
 * maxBackoffSleep) ms. stop() lets the current process() finish, then stops the processor.
 */
export interface SinkRunnerOptions {
  processor: SinkProcessor;
  /** The channels the group's sinks take from; new data on any of them ends a BACKOFF wait. */
  channels: readonly Channel[];
  log: Logger;
  /** The group or sink name, for logs. */
  name?: string;
  backoffSleepIncrement?: number;
  maxBackoffSleep?: number;
}

function streakKey(e: unknown): string {
  return e instanceof MonsoonError ? e.code : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

export class SinkRunner {
  private readonly increment: number;
  private readonly maxSleep: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Calls of process() so far, and how they ended (for status pages and tests). */
  readonly stats = { ready: 0, backoff: 0, errors: 0 };

  constructor(private readonly opts: SinkRunnerOptions) {
    this.increment = opts.backoffSleepIncrement ?? 1000;
    this.maxSleep = opts.maxBackoffSleep ?? 5000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.opts.processor.start();
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    await this.opts.processor.stop();
  }

  private async run(): Promise<void> {
    const { processor, log } = this.opts;
    const name = this.opts.name ?? 'sink';
    let backoffs = 0;
    let errors = 0;
    let streak: string | undefined;
    while (this.running) {
      let status;
      try {
        status = await processor.process();
      } catch (e) {
        this.stats.errors++;
        errors++;
        const key = streakKey(e);
        if (key !== streak) {
          streak = key;
          const msg = `Sink runner ${name} could not deliver a batch (${errorMessage(e)}); retrying with back-off.`;
          if (isRetriable(e)) log.warn({ runner: name, err: e }, msg);
          else log.error({ runner: name, err: e }, msg);
        }
        await this.pause([], Math.min(errors * this.increment, this.maxSleep));
        continue;
      }
      if (errors > 0) {
        log.info({ runner: name, failedAttempts: errors }, `Sink runner ${name} delivers again after ${errors} failed attempt(s).`);
        errors = 0;
        streak = undefined;
      }
      if (status === 'READY') {
        this.stats.ready++;
        backoffs = 0;
        continue;
      }
      this.stats.backoff++;
      backoffs++;
      const began = Date.now();
      await this.pause(this.opts.channels, Math.min(backoffs * this.increment, this.maxSleep));
      // A processor that reports BACKOFF while its channel holds data would otherwise spin.
      if (backoffs > 1 && Date.now() - began < 1) await this.pause([], Math.min(backoffs * 10, this.maxSleep));
    }
  }

  /** Waits `ms`, or less when data arrives on one of `channels` or stop() is called. */
  private pause(channels: readonly Channel[], ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (this.wake === finish) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
      for (const c of channels) c.waitForData(ms).then(finish, finish);
    });
  }
}
