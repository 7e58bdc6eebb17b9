import { KvStore } from '../../src/store/kv/store.js';
import { MonsoonError } from '../../src/core/errors.js';

/**
 * Child process for the key-value store's failed-commit test, run under a file-size limit of a few
 * MiB (`ulimit -f`). The stores are opened without the writable map: only then does LMDB report a
 * write the filesystem refuses as a failed commit (with it, the write fault ends the process). Prints
 * one JSON line:
 *  - fill (store argv[2]): rows acknowledged by batches of 500 until one fails, that failure, and the
 *    rows a read finds afterwards;
 *  - overlap (store argv[3]): a one-row write and, 50 ms later, a write too large for the limit: how
 *    each settled;
 *  - close (store argv[4]): a close called while a write that will fail is in flight: whether it
 *    settled.
 * An unhandled rejection ends the process with a non-zero status.
 */
process.on('SIGXFSZ', () => {}); // the write past the limit fails with EFBIG instead of ending the process
const open = (dir: string) => KvStore.open(dir, { writemap: false, freeSpace: async () => Number.MAX_SAFE_INTEGER });
const failure = (e: unknown) => (e instanceof MonsoonError ? { code: e.code, retriable: e.retriable, message: e.message } : { message: String(e) });
const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ row: `row${String(from + i).padStart(9, '0')}`, family: 'f', qualifier: 'payload', value: 'x'.repeat(300) }));
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'pending'> => Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
const settled = (p: Promise<unknown>) => p.then(() => 'acked', (e: unknown) => failure(e));

const fillStore = open(process.argv[2]!);
const t = fillStore.table('t');
let acked = 0;
let fill: object = {};
for (;;) {
  try {
    await t.write(rows(500, acked));
    acked += 500;
  } catch (e) {
    await new Promise((r) => setTimeout(r, 200)); // an unhandled rejection would have ended the process by now
    fill = { acked, ...failure(e), found: t.count() };
    break;
  }
}
await fillStore.close();

const overlapStore = open(process.argv[3]!);
const a = overlapStore.table('a');
const b = overlapStore.table('b');
await a.write(rows(1));
const small = settled(a.write(rows(1, 1)));
// lmdb puts batches queued together into one transaction (which then fails as a whole): the second
// write goes once the first one's transaction has begun
await new Promise((r) => setTimeout(r, 50));
const big = settled(b.write(rows(20_000)));
const overlap = { small: await within(small, 10_000), big: await within(big, 10_000), smallRowFound: a.count() === 2 };
await overlapStore.close();

const closeStore = open(process.argv[4]!);
const c = closeStore.table('c');
await c.write(rows(1));
const inFlight = settled(c.write(rows(20_000)));
const closed = await within(closeStore.close().then(() => 'closed'), 10_000);
process.stdout.write(`${JSON.stringify({ fill, overlap, close: { write: await within(inFlight, 1000), closed } })}\n`);
