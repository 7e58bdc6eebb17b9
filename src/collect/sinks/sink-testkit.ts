import { spawn } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { makeEvent, type Event } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { MetricsRegistry, SinkCounterNames } from '../../core/metrics.js';
import type { Channel, ChannelTx, SinkContext } from '../contracts.js';
import { noInFlight } from '../testkit.js';

/** Test helpers for sinks: fill a channel, and wrap one so its next commits fail. */
export async function putAll(ch: Channel, events: Event[]): Promise<void> {
  const tx = ch.transaction();
  tx.put(events);
  await tx.commit();
}

/** A channel whose next `failCommits` take commits throw (the take is rolled back, as a real failure would). */
export function failingCommits(ch: Channel, failCommits: { n: number }): Channel {
  return new Proxy(ch, {
    get(target, prop, receiver) {
      if (prop !== 'transaction') return Reflect.get(target, prop, receiver) as unknown;
      return (): ChannelTx => {
        const tx = target.transaction();
        return {
          put: (es) => tx.put(es),
          take: (n) => tx.take(n),
          rollback: () => tx.rollback(),
          commit: async (markers) => {
            if (failCommits.n > 0) {
              failCommits.n--;
              throw new Error('injected commit failure');
            }
            await tx.commit(markers);
          },
        };
      };
    },
  });
}

interface JsonChannelState {
  queue: Array<{ h: Record<string, string>; b: string }>;
  markers: Record<string, string>;
}

/**
 * A durable channel stand-in for crash tests: queue and markers live in one JSON file replaced
 * atomically on every commit. With `crash`, the process kills itself with SIGKILL inside commit number
 * `at`, either before the state is persisted (the sink wrote its batch, the take never committed) or
 * right after it.
 */
export class JsonFileChannel implements Channel {
  readonly name = 'c1';
  readonly durable = true;
  readonly capacity = 1_000_000;
  readonly transactionCapacity = 1000;
  private state: JsonChannelState;
  private commits = 0;

  constructor(
    private readonly file: string,
    private readonly crash?: { at: number; before: boolean },
  ) {
    this.state = JSON.parse(readFileSync(file, 'utf8')) as JsonChannelState;
  }

  static create(file: string, events: Event[]): void {
    const state: JsonChannelState = { queue: events.map((e) => ({ h: e.headers, b: e.body.toString() })), markers: {} };
    writeFileSync(file, JSON.stringify(state));
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  size(): number {
    return this.state.queue.length;
  }
  async waitForData(): Promise<void> {}
  async waitForSpace(): Promise<void> {}
  marker(key: string): string | undefined {
    return this.state.markers[key];
  }
  transaction(): ChannelTx {
    let taken = 0;
    return {
      put: () => {
        throw new Error('JsonFileChannel only serves takes');
      },
      take: async (max) => {
        const es = this.state.queue.slice(taken, taken + max).map((x) => makeEvent(x.b, { ...x.h }));
        taken += es.length;
        return es;
      },
      rollback: async () => {},
      commit: async (markers) => {
        this.commits++;
        const kill = this.crash?.at === this.commits;
        if (kill && this.crash?.before) process.kill(process.pid, 'SIGKILL');
        const next: JsonChannelState = { queue: this.state.queue.slice(taken), markers: { ...this.state.markers, ...markers } };
        writeFileSync(`${this.file}.tmp`, JSON.stringify(next));
        renameSync(`${this.file}.tmp`, this.file);
        this.state = next;
        if (kill) process.kill(process.pid, 'SIGKILL');
      },
    };
  }
}

/** Runs `script` with `env`; resolves null on a clean exit, or the signal that killed it. */
export function runChild(script: string, env: Record<string, string>): Promise<string | null> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: 'inherit' });
    p.on('error', rej);
    p.on('exit', (code, signal) => (code === 0 ? res(null) : signal ? res(signal) : rej(new Error(`child exited with ${code}`))));
  });
}

/** A sink context whose data directory is `dataDir` (no temporary directory is made). */
export function sinkContextIn(dataDir: string, name: string, channel: Channel): SinkContext {
  const metrics = new MetricsRegistry('a1');
  return { agent: 'a1', agentId: 'test-host/a1', name, log: silentLogger, metrics, dataDir, channel, counters: metrics.component('SINK', name, SinkCounterNames), inflight: noInFlight };
}
