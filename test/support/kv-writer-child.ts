import { KvStore } from '../../src/store/kv/store.js';

/**
 * Child process for the key-value store's kill -9 test: writes batches of 200 rows to table `t` of the
 * store in argv[2] forever, printing the number of rows acknowledged after each write resolves.
 */
const store = KvStore.open(process.argv[2]!);
const t = store.table('t');
for (let n = 0; ; ) {
  const batch = Array.from({ length: 200 }, (_, i) => ({ row: `row${String(n + i).padStart(9, '0')}`, family: 'f', qualifier: 'payload', value: `value ${n + i}` }));
  await t.write(batch);
  n += batch.length;
  process.stdout.write(`${n}\n`);
}
