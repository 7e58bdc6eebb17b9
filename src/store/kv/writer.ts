import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RootDatabaseOptionsWithPath } from 'lmdb';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';

/**
 * Runs a store's writes in a thread of their own (write-thread.ts). lmdb's own asynchronous writes
 * queue each put from the calling thread — a resolution and a closure per put, 30–40 ms of the event
 * loop for a batch of 50,000 cells — and the B-tree updates then run in lmdb's write thread; here the
 * calling thread only posts the encoded batch (its buffers are transferred, not copied) and the
 * writer thread does the puts, the commit and the sync in one synchronous transaction.
 *
 * The thread starts on the first write and is unreferenced (it never keeps the process alive). If it
 * dies, the writes it held fail retriably and the next write starts a new one.
 */
export interface WriterInit {
  options: RootDatabaseOptionsWithPath;
}

/** Main → writer thread. `ends` as CellBatch's, for exactly the batch's cells. */
export type ToWriter = { type: 'write'; id: number; table: string; buf: ArrayBuffer; bytes: number; ends: Int32Array } | { type: 'close' };

/** Writer thread → main. `refused`: LMDB cannot hold a cell of the batch (a replay fails alike). */
export type FromWriter =
  | { type: 'written'; id: number }
  | { type: 'failed'; id: number; message: string; refused: boolean }
  | { type: 'closed' };

/** The thread's module: beside this one, or (in the agent's bundle, whose chunks sit elsewhere) in dist/src/store/kv. */
function entry(): string {
  const candidates = ['./write-thread.js', '../store/kv/write-thread.js', '../../store/kv/write-thread.js'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `the key-value store's writer thread module is missing (looked for ${candidates.join(', ')}); reinstall or rebuild Monsoon`);
  return found;
}

interface Pending {
  table: string;
  resolve(): void;
  reject(e: Error): void;
}

export class KvWriter {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    private readonly options: RootDatabaseOptionsWithPath,
    private readonly dir: string,
    /** Called before a write resolves: a read on this thread must see it (see KvStore). */
    private readonly written: () => void,
    /** The thread's module (tests put a stand-in here). */
    private readonly module: () => string = entry,
  ) {}

  /**
   * Writes the cells of `buf` (bytes [0, bytes), cell i's key and value as CellBatch lays them out,
   * `ends` holding exactly the cells' ends) to `table` in one transaction. `buf` must own its
   * ArrayBuffer from offset 0 (CellBatch's does): it and `ends` are handed to the thread, and are
   * empty here afterwards. Rejects with the thread's error: MON_ERR_STORE_REJECTED for a cell LMDB
   * cannot hold, else MON_ERR_STORE_UNAVAILABLE (retriable): a failed transaction or a lost thread.
   */
  write(table: string, buf: Buffer, bytes: number, ends: Int32Array): Promise<void> {
    const w = this.thread();
    const id = this.nextId++;
    if (buf.byteOffset !== 0 || buf.buffer instanceof SharedArrayBuffer) {
      const own = Buffer.allocUnsafeSlow(bytes);
      buf.copy(own, 0, 0, bytes);
      buf = own;
    }
    return new Promise<void>((resolve, reject) => {
      if (this.pending.size === 0) w.ref(); // a write in flight keeps the process alive, as a socket would
      this.pending.set(id, { table, resolve, reject });
      const ab = buf.buffer as ArrayBuffer;
      const transfer = ends.buffer === ab ? [ab] : [ab, ends.buffer as ArrayBuffer];
      w.postMessage({ type: 'write', id, table, buf: ab, bytes, ends } satisfies ToWriter, transfer);
    });
  }

  /**
   * Closes the thread's environment (after the writes already sent), waiting at most `ms` for it,
   * and ends the thread.
   */
  async close(ms: number): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      w.on('message', (m: FromWriter) => m.type === 'closed' && resolve());
      w.once('exit', () => resolve());
      w.postMessage({ type: 'close' } satisfies ToWriter);
    });
    clearTimeout(timer);
    await w.terminate();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.module(), { workerData: { options: this.options } satisfies WriterInit });
    w.on('message', (m: FromWriter) => {
      if (m.type !== 'written' && m.type !== 'failed') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if (m.type === 'written') {
        this.written();
        p.resolve();
      }
      else if (m.refused) p.reject(new MonsoonError(ErrorCodes.STORE_REJECTED, `table ${p.table}: the write to ${this.dir} failed: ${m.message}`));
      else p.reject(new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${p.table}: the commit to ${this.dir} failed: ${m.message}`, { retriable: true }));
    });
    const lost = (why: string) => {
      if (this.worker === w) this.worker = undefined;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new MonsoonError(ErrorCodes.STORE_UNAVAILABLE, `table ${p.table}: the writer thread of ${this.dir} ${why}; the write was not confirmed`, { retriable: true }));
      }
    };
    w.on('error', (e) => lost(`failed: ${e.message}`));
    w.on('exit', (code) => lost(`exited (code ${code})`));
    w.unref(); // after the listeners, which ref it
    this.worker = w;
    return w;
  }
}
