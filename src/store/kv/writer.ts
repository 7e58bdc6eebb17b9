import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RootDatabaseOptionsWithPath } from 'lmdb';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { detachOnceNow } from '../../core/transfer.js';
import type { CellBatch } from './keys.js';
import { invalid } from './names.js';

/**
 * Runs a store's writes in a thread of their own (write-thread.ts). lmdb's own asynchronous writes
 * queue each put from the calling thread — a resolution and a closure per put, 30–40 ms of the event
 * loop for a batch of 50,000 cells — and the B-tree updates then run in lmdb's write thread; here the
 * calling thread only posts the encoded batch (its buffers are transferred, not copied) and the
 * writer thread does the puts, the commit and the sync in one synchronous transaction.
 *
 * The thread starts on the first write. It keeps the process alive only while a write is in flight
 * (as a socket with a request out would). If it dies, the writes it held fail retriably and the next
 * write starts a new one; if it dies before it could open the store, the writes fail for good.
 */
export interface WriterInit {
  options: RootDatabaseOptionsWithPath;
}

/** Main → writer thread. `ends` as CellBatch's, for exactly the batch's cells. */
export type ToWriter = { type: 'write'; id: number; table: string; buf: ArrayBuffer; bytes: number; ends: Int32Array } | { type: 'close' };

/** Writer thread → main. `refused`: LMDB cannot hold a cell of the batch (a replay fails alike). */
export type FromWriter =
  | { type: 'ready' }
  | { type: 'written'; id: number; ms: number }
  | { type: 'failed'; id: number; message: string; refused: boolean }
  | { type: 'closed' };

/** The thread's module: beside this one, or (in the agent's bundle, whose chunks sit elsewhere) in dist/src/store/kv. */
function entry(): string {
  const candidates = ['./write-thread.js', '../store/kv/write-thread.js', '../../store/kv/write-thread.js'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `the key-value store's writer thread module is missing (looked for ${candidates.join(', ')}); reinstall or rebuild Monsoon`);
  return found;
}

/** Refuses a batch whose buffers went to the writer thread already (a second write of it). */
export function checkBatch(table: string, batch: CellBatch, cells: number): void {
  if (batch.buf.byteLength === 0 || batch.ends.length < 2 * cells) throw invalid(`table ${table}: this cell batch was written already (its buffers went to the writer thread)`);
}

interface Pending {
  table: string;
  cells: number;
  resolve(): void;
  reject(e: Error): void;
}

/** One started thread and the writes it holds. */
interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
  /** It opened the store (its first message came). */
  ready: boolean;
}

/** `p`, or nothing once `ms` passed (the store's bounded waits at close). */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
  clearTimeout(timer);
}

/** What a store's writer did so far (this process): committed transactions, their cells and time. */
export interface KvWriteStats {
  commits: number;
  cells: number;
  /** Time the writer thread spent in committed transactions: the puts, the commit and its sync. */
  commitSeconds: number;
  /** Writes handed to the writer that it did not commit (a cell LMDB refused, a failed commit, a lost thread, a closed or unopenable store). */
  failures: number;
}

export class KvWriter {
  readonly stats: KvWriteStats = { commits: 0, cells: 0, commitSeconds: 0, failures: 0 };
  private thread: Thread | undefined;
  private nextId = 1;
  private closed = false;
  /** Why a thread could not open the store: later writes fail with it instead of starting another. */
  private startFailure: string | undefined;

  constructor(
    private readonly options: RootDatabaseOptionsWithPath,
    private readonly dir: string,
    /** Called before a write resolves: a read on this thread must see it (see KvStore). */
    private readonly written: () => void,
    /** The thread's module (tests put a stand-in here). */
    private readonly module: () => string = entry,
  ) {
    detachOnceNow(); // writes transfer their buffers (see core/transfer.ts)
  }

  /**
   * Writes the first `cells` cells of `batch` to `table` in one transaction. The batch's buffers are
   * handed to the thread: `batch` is empty afterwards, and a second write of it is refused. Rejects
   * with MON_ERR_STORE_REJECTED for a cell LMDB cannot hold, else MON_ERR_STORE_UNAVAILABLE
   * (retriable unless the thread could not open the store): a failed transaction, a lost thread,
   * a closed writer.
   */
  write(table: string, batch: CellBatch, cells: number): Promise<void> {
    if (this.closed) return this.failed(new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${table}: the key-value store ${this.dir} is closed`, { retriable: true }));
    if (this.startFailure !== undefined) return this.failed(new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${table}: the writer thread of ${this.dir} could not open it: ${this.startFailure}`));
    try {
      checkBatch(table, batch, cells);
    } catch (e) {
      return this.failed(e as Error);
    }
    let buf = batch.buf;
    const ends = batch.ends.length === 2 * cells ? batch.ends : batch.ends.subarray(0, 2 * cells);
    const bytes = ends[ends.length - 1]!;
    // CellBatch allocates both outside Node's shared pool; anything else is copied, not taken
    if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength || !(buf.buffer instanceof ArrayBuffer)) {
      const own = Buffer.allocUnsafeSlow(bytes);
      buf.copy(own, 0, 0, bytes);
      buf = own;
    }
    const t = this.started();
    const id = this.nextId++;
    const ab = buf.buffer as ArrayBuffer;
    const transfer = ends.buffer === ab ? [ab] : [ab, ends.buffer as ArrayBuffer];
    try {
      t.worker.postMessage({ type: 'write', id, table, buf: ab, bytes, ends } satisfies ToWriter, transfer);
    } catch (e) {
      return this.failed(invalid(`table ${table}: the batch could not be handed to the writer thread: ${(e as Error).message}`));
    }
    return new Promise<void>((resolve, reject) => {
      if (t.pending.size === 0) t.worker.ref(); // a write in flight keeps the process alive
      const failed = (e: Error) => {
        this.stats.failures++;
        reject(e);
      };
      t.pending.set(id, { table, cells, resolve, reject: failed });
    });
  }

  /**
   * Refuses later writes, closes the thread's environment (after the writes already sent) and ends
   * the thread, waiting at most `ms` for each step; a thread stuck in a system call is left behind,
   * unreferenced.
   */
  async close(ms: number): Promise<void> {
    this.closed = true;
    const t = this.thread;
    if (!t) return;
    this.thread = undefined;
    await within(
      new Promise<void>((resolve) => {
        t.worker.on('message', (m: FromWriter) => m.type === 'closed' && resolve());
        t.worker.once('exit', () => resolve());
        t.worker.postMessage({ type: 'close' } satisfies ToWriter);
      }),
      ms,
    );
    t.worker.unref();
    await within(t.worker.terminate(), ms);
  }

  private failed(e: unknown): Promise<never> {
    this.stats.failures++;
    return Promise.reject(e as Error);
  }

  private started(): Thread {
    if (this.thread) return this.thread;
    const t: Thread = { worker: new Worker(this.module(), { workerData: { options: this.options } satisfies WriterInit }), pending: new Map(), ready: false };
    const settle = (id: number): Pending | undefined => {
      const p = t.pending.get(id);
      if (!p) return undefined;
      t.pending.delete(id);
      if (t.pending.size === 0) t.worker.unref();
      return p;
    };
    t.worker.on('message', (m: FromWriter) => {
      if (m.type === 'ready') t.ready = true;
      if (m.type !== 'written' && m.type !== 'failed') return;
      const p = settle(m.id);
      if (!p) return;
      if (m.type === 'written') {
        this.stats.commits++;
        this.stats.cells += p.cells;
        this.stats.commitSeconds += m.ms / 1000;
        try {
          this.written();
        } finally {
          p.resolve();
        }
      } else if (m.refused) p.reject(new MonsoonError(ErrorCodes.STORE_REJECTED, `table ${p.table}: the write to ${this.dir} failed: ${m.message}`));
      else p.reject(new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${p.table}: the commit to ${this.dir} failed: ${m.message}`, { retriable: true }));
    });
    // only this thread's writes are lost: a write after its error may already be with the next one
    const lost = (why: string) => {
      if (this.thread === t) this.thread = undefined;
      if (!t.ready && this.startFailure === undefined && !this.closed) this.startFailure = why;
      for (const id of [...t.pending.keys()]) {
        const p = settle(id)!;
        const e = t.ready
          ? new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${p.table}: the writer thread of ${this.dir} ${why}; the write was not confirmed`, { retriable: true })
          : new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${p.table}: the writer thread of ${this.dir} could not open it: ${why}`);
        p.reject(e);
      }
    };
    t.worker.on('error', (e) => lost(`failed: ${e.message}`));
    t.worker.on('exit', (code) => lost(`exited (code ${code})`));
    t.worker.unref(); // after the listeners, which ref it
    this.thread = t;
    return t;
  }
}
