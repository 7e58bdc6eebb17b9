/**
 * A stand-in for the key-value store's writer thread (src/store/kv/write-thread.ts) in the writer's
 * tests: the first thread started for a store (no `<dir>/crashed` file yet) creates that file, says
 * it is ready and throws on its first message, as a thread that died mid-write would (its 'error'
 * comes first, its 'exit' a little later); later ones run the real thread. With `<dir>/broken`
 * present, a thread fails as one that cannot open the store would, before it is ready.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const dir = dirname((workerData as { options: { path: string } }).options.path);
const marker = join(dir, 'crashed');
if (existsSync(join(dir, 'broken'))) throw new Error('simulated: the environment cannot be opened');
if (!existsSync(marker)) {
  writeFileSync(marker, '');
  parentPort!.postMessage({ type: 'ready' });
  parentPort!.once('message', () => {
    throw new Error('simulated crash');
  });
} else await import('../../src/store/kv/write-thread.js');
