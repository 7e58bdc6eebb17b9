/**
 * A stand-in for the key-value store's writer thread (src/store/kv/write-thread.ts) in the writer's
 * tests: the first thread started for a store (no `<dir>/crashed` file yet) creates that file and
 * ends with exit code 3 on its first message, as a thread that died mid-write would; later ones run
 * the real thread.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const marker = join(dirname((workerData as { options: { path: string } }).options.path), 'crashed');
if (!existsSync(marker)) {
  writeFileSync(marker, '');
  parentPort!.once('message', () => process.exit(3));
} else await import('../../src/store/kv/write-thread.js');
