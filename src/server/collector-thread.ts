/**
 * The server's collector in a worker thread of its own, so that receiving, deduplicating and
 * journalling agents' batches runs on one core while the main thread's topologies, bus and API run
 * on another (one Node thread is one core). The thread runs an ordinary Agent (thrift source → file
 * channel → bus sink); the embedded log stays in the main thread, which the thread reaches over the
 * served monsoon:// address — `aliasBus` makes any sink or source naming the log's directory use it.
 *
 * Main ⇄ thread messages are few and small: start (the plan is built in the thread), a metrics
 * snapshot on request (the HTTP API's /health, status, collector metrics and Prometheus text), stop.
 * The thread dies with the process, so kill -9 takes both at once: everything the collector
 * acknowledged is in its file channel or the log, as before.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, errorMessage, MonsoonError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { EmbeddedBus } from '../bus/embedded/embedded.js';
import { serveThreadBus } from '../bus/thread/thread.js';
import type { ServerConfig } from './config.js';

/** What the API shows of the collector. */
export interface CollectorSnapshot {
  /** Flume's JSON of every component's counters. */
  flume: Record<string, Record<string, string>>;
  /** The same counters as Prometheus text. */
  prometheus: string;
  /** Components flagged stuck, and failures that keep a component from starting. */
  stuck: string[];
}

/** What the thread is given (workerData). */
export interface CollectorThreadInit {
  config: ServerConfig;
  /** Where the main thread serves the embedded log (monsoon://host:port), for consumers. */
  busUrl: string;
  logLevel: string;
}

/** What the thread receives: the init and its end of the channel to the log (src/bus/thread/). */
export interface CollectorWorkerData extends CollectorThreadInit {
  busPort: MessagePort;
}

/** Main → thread. */
export type ToCollector = { type: 'snapshot'; id: number } | { type: 'stop' };

/** Thread → main. */
export type FromCollector =
  | { type: 'started'; warnings: string[] }
  | { type: 'failed'; message: string; code?: string }
  | { type: 'snapshot'; id: number; snapshot: CollectorSnapshot }
  | { type: 'stopped' };

const ENTRY = fileURLToPath(new URL('./collector-worker.js', import.meta.url));
/** How long the API waits for the collector thread's counters. */
const SNAPSHOT_MS = 5000;

export class CollectorThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, (s: CollectorSnapshot) => void>();
  private stopped: Promise<void> | undefined;
  private exited = false;
  private readonly exit: Promise<number>;

  private constructor(
    worker: Worker,
    onExit: (code: number) => void,
  ) {
    this.worker = worker;
    this.exit = new Promise((resolve) =>
      worker.once('exit', (code) => {
        this.exited = true;
        for (const w of this.waiting.values()) w({ flume: {}, prometheus: '', stuck: ['collector: its thread exited'] });
        this.waiting.clear();
        resolve(code);
      }),
    );
    worker.on('message', (m: FromCollector) => {
      if (m.type === 'snapshot') {
        this.waiting.get(m.id)?.(m.snapshot);
        this.waiting.delete(m.id);
      } else if (m.type === 'stopped') {
        // Everything is closed: end the thread even if a stray timer would keep it alive.
        void worker.terminate();
      }
    });
    void this.exit.then((code) => {
      if (!this.stopped) onExit(code);
    });
  }

  /**
   * Starts the collector thread and resolves once its sources listen; rejects (naming the
   * configuration problem) when it cannot start. `onExit` is told when the thread ends without stop().
   */
  static async start(init: CollectorThreadInit, bus: EmbeddedBus, log: Logger, onExit: (code: number) => void): Promise<CollectorThread> {
    const { port1, port2 } = new MessageChannel();
    serveThreadBus(bus, port1);
    const worker = new Worker(ENTRY, { workerData: { ...init, busPort: port2 } satisfies CollectorWorkerData, transferList: [port2] });
    worker.once('exit', () => port1.close());
    worker.on('error', (e) => log.error({ err: errorMessage(e) }, `The collector thread failed: ${errorMessage(e)}`));
    const first = await new Promise<FromCollector | { type: 'exit'; code: number }>((resolve) => {
      worker.once('message', resolve);
      worker.once('exit', (code) => resolve({ type: 'exit', code }));
    });
    if (first.type === 'failed' || first.type === 'exit') {
      await worker.terminate();
      const message = first.type === 'failed' ? first.message : `the collector thread exited with code ${first.code} while starting`;
      const code = first.type === 'failed' && first.code ? first.code : ErrorCodes.CONFIG_INVALID;
      throw new MonsoonError(code as ErrorCode, message);
    }
    if (first.type === 'started') for (const w of first.warnings) log.warn(`collector: ${w}`);
    return new CollectorThread(worker, onExit);
  }

  /**
   * The collector's counters and stuck components, as the thread sees them now; a thread that does
   * not answer within SNAPSHOT_MS is reported stuck (so /health answers 503 instead of waiting).
   */
  snapshot(): Promise<CollectorSnapshot> {
    if (this.exited) return Promise.resolve({ flume: {}, prometheus: '', stuck: ['collector: its thread exited'] });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ flume: {}, prometheus: '', stuck: [`collector: its thread did not answer within ${SNAPSHOT_MS} ms`] });
      }, SNAPSHOT_MS);
      timer.unref();
      this.waiting.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.worker.postMessage({ type: 'snapshot', id } satisfies ToCollector);
    });
  }

  /** Stops the collector (sources first, sinks finish their batch) and ends the thread. */
  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      if (this.exited) return;
      this.worker.postMessage({ type: 'stop' } satisfies ToCollector);
      await this.exit;
    })());
  }
}
