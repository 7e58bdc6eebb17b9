/**
 * The in-memory state backend, for tests: the same layering and commit rules as LMDB, kept in Maps
 * that live as long as the process, one store per name (so a topology restarted in the same process
 * finds its last committed state, as it would on disk).
 */
import { DELETED, type Change, type StateBackend } from './state.js';

interface Ns {
  data: Map<string, unknown>;
  txid: number;
  prepared: { txid: number; changes: [string, Change][] } | null;
}

export class MemoryStateBackend implements StateBackend {
  private readonly spaces = new Map<string, Ns>();
  private readonly meta = new Map<string, unknown>();
  private ns(name: string): Ns {
    let n = this.spaces.get(name);
    if (!n) this.spaces.set(name, (n = { data: new Map(), txid: -1, prepared: null }));
    return n;
  }
  committedTxid(ns: string): number {
    return this.ns(ns).txid;
  }
  get(ns: string, key: string): unknown {
    return structuredClone(this.ns(ns).data.get(key));
  }
  range(ns: string, prefix: string): [string, unknown][] {
    return [...this.ns(ns).data].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, structuredClone(v)]);
  }
  savePrepared(ns: string, txid: number, changes: [string, Change][]): void {
    this.ns(ns).prepared = { txid, changes: changes.map(([k, v]) => [k, v === DELETED ? v : structuredClone(v)]) };
  }
  loadPrepared(ns: string): { txid: number; changes: [string, Change][] } | null {
    return this.ns(ns).prepared;
  }
  clearPrepared(ns: string): void {
    this.ns(ns).prepared = null;
  }
  commit(ns: string, txid: number, changes: [string, Change][]): void {
    const n = this.ns(ns);
    for (const [k, v] of changes) {
      if (v === DELETED) n.data.delete(k);
      else n.data.set(k, structuredClone(v));
    }
    n.txid = txid;
    n.prepared = null;
  }
  getMeta(key: string): unknown {
    return this.meta.get(key);
  }
  putMeta(key: string, value: unknown): void {
    this.meta.set(key, structuredClone(value));
  }
  async close(): Promise<void> {}
}

const stores = new Map<string, MemoryStateBackend>();

/** The process-wide in-memory store of this name (a topology's state dir). */
export function memoryBackend(name: string): MemoryStateBackend {
  let b = stores.get(name);
  if (!b) stores.set(name, (b = new MemoryStateBackend()));
  return b;
}

/** Forgets an in-memory store (tests). */
export function dropMemoryBackend(name: string): void {
  stores.delete(name);
}
