import { KvStore } from '../../src/store/kv/store.js';
import { MonsoonError } from '../../src/core/errors.js';

/**
 * Child process for the key-value store's failed-commit test, run under a file-size limit
 * (`ulimit -f`): writes batches of 500 rows to table `t` of the store in argv[2] until a write fails,
 * then prints one JSON line: rows acknowledged, the failure's code, retriable flag and message, and the
 * rows a read finds afterwards. The store is opened without the writable map: only then does LMDB
 * report a write the filesystem refuses as a failed commit (with it, the write fault ends the process).
 */
process.on('SIGXFSZ', () => {}); // the write past the limit fails with EFBIG instead of ending the process
const store = KvStore.open(process.argv[2]!, { writemap: false, freeSpace: async () => Number.MAX_SAFE_INTEGER });
const t = store.table('t');
let acked = 0;
for (;;) {
  const batch = Array.from({ length: 500 }, (_, i) => ({ row: `row${String(acked + i).padStart(9, '0')}`, family: 'f', qualifier: 'payload', value: 'x'.repeat(300) }));
  try {
    await t.write(batch);
    acked += batch.length;
  } catch (e) {
    // a later turn: an unhandled rejection of the failed commit would have ended the process by now
    await new Promise((r) => setTimeout(r, 200));
    const err = e instanceof MonsoonError ? { code: e.code, retriable: e.retriable, message: e.message } : { message: String(e) };
    process.stdout.write(`${JSON.stringify({ acked, ...err, found: t.count() })}\n`);
    break;
  }
}
await store.close();
