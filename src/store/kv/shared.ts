import { resolve } from 'node:path';
import { KvStore } from './store.js';

/**
 * One open key-value store per directory in a process, shared by everything that names it (the
 * KV-store bolts of every topology, the server's lookup routes): one LMDB environment per path and
 * process, as LMDB wants. The last release closes it.
 */
interface Entry {
  store: KvStore;
  refs: number;
}

const open = new Map<string, Entry>();

export interface KvStoreHandle {
  store: KvStore;
  release(): Promise<void>;
}

export function acquireKvStore(dir: string): KvStoreHandle {
  const key = resolve(dir);
  let e = open.get(key);
  if (!e) {
    e = { store: KvStore.open(key), refs: 0 };
    open.set(key, e);
  }
  e.refs++;
  const entry = e;
  let released = false;
  return {
    store: entry.store,
    release: async () => {
      if (released) return;
      released = true;
      if (--entry.refs > 0) return;
      if (open.get(key) === entry) open.delete(key);
      await entry.store.close();
    },
  };
}
