/**
 * The key-value store's writer thread (see KvWriter in writer.ts): it opens the store's LMDB
 * environment itself (lmdb shares one environment between the threads of a process) and runs each
 * batch it is sent as one synchronous transaction — the B-tree updates, the commit and its sync —
 * so the main thread only encodes the cells and posts them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { open, type Database, type DatabaseOptions } from 'lmdb';
import { putOrder } from './keys.js';
import type { FromWriter, ToWriter, WriterInit } from './writer.js';

const init = workerData as WriterInit;
const root = open(init.options);
const tables = new Map<string, Database<Buffer, Buffer>>();

function table(name: string): Database<Buffer, Buffer> {
  let db = tables.get(name);
  if (!db) {
    db = root.openDB({ name, keyEncoding: 'binary', encoding: 'binary', create: true } as DatabaseOptions & { name: string }) as Database<Buffer, Buffer>;
    tables.set(name, db);
  }
  return db;
}

function write(m: Extract<ToWriter, { type: 'write' }>): FromWriter {
  const buf = Buffer.from(m.buf, 0, m.bytes);
  const ends = m.ends;
  try {
    const db = table(m.table);
    const order = putOrder(buf, ends);
    const t0 = performance.now();
    root.transactionSync(() => {
      for (let j = 0; j < order.length; j++) {
        const i = order[j]!;
        const k = ends[2 * i]!;
        db.putSync(buf.subarray(i === 0 ? 0 : ends[2 * i - 1]!, k), buf.subarray(k, ends[2 * i + 1]!));
      }
    });
    return { type: 'written', id: m.id, ms: performance.now() - t0 };
  } catch (e) {
    const message = String((e as { message?: unknown } | null)?.message ?? e);
    // a key or value LMDB cannot hold fails the same way on every replay; anything else (an I/O
    // error, a full disk, an environment that refuses transactions after one) may pass later
    return { type: 'failed', id: m.id, message, refused: /MDB_BAD_VALSIZE/.test(message) };
  }
}

parentPort!.postMessage({ type: 'ready' } satisfies FromWriter);
parentPort!.on('message', (m: ToWriter) => {
  if (m.type === 'write') parentPort!.postMessage(write(m));
  else if (m.type === 'close') {
    void root.close().finally(() => parentPort!.postMessage({ type: 'closed' } satisfies FromWriter));
  }
});
