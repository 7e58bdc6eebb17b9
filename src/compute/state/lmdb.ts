/**
 * The LMDB state backend: one environment per topology under its state directory
 * (`topology.state.dir`), shared by every task of the topology in this process. Keys are arrays:
 * ['c', namespace, key] committed values, ['t', namespace] the committed txid, ['p', namespace] the
 * prepared record, ['m', key] runtime metadata (the checkpoint spout's progress). Every write is a
 * synchronous LMDB transaction flushed to disk before it returns, so a commit applies its changes and
 * its txid together or not at all, and a prepared record survives a crash. Reads are memory-mapped
 * and synchronous (no await on the tuple path).
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RootDatabase } from 'lmdb';
import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import { DELETED, type Change, type StateBackend } from './state.js';

type Stored = [string, 0 | 1, unknown];
const END = '\u{10FFFF}';

export class LmdbStateBackend implements StateBackend {
  constructor(private readonly db: RootDatabase, readonly dir: string) {}

  private wrap<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw new MonsoonError(ErrorCodes.STATE_STORE, `state store ${this.dir}: ${what} failed: ${errorMessage(e)}`, { retriable: true });
    }
  }
  committedTxid(ns: string): number {
    return (this.wrap('read', () => this.db.get(['t', ns])) as number | undefined) ?? -1;
  }
  get(ns: string, key: string): unknown {
    return this.wrap('read', () => this.db.get(['c', ns, key]));
  }
  range(ns: string, prefix: string): [string, unknown][] {
    return this.wrap('range read', () => {
      const out: [string, unknown][] = [];
      for (const { key, value } of this.db.getRange({ start: ['c', ns, prefix], end: ['c', ns, prefix + END] })) out.push([(key as string[])[2]!, value]);
      return out;
    });
  }
  savePrepared(ns: string, txid: number, changes: [string, Change][]): void {
    const rec = { txid, changes: changes.map(([k, v]): Stored => (v === DELETED ? [k, 0, null] : [k, 1, v])) };
    this.wrap('prepare', () => this.db.transactionSync(() => this.db.putSync(['p', ns], rec)));
  }
  loadPrepared(ns: string): { txid: number; changes: [string, Change][] } | null {
    const rec = this.wrap('read', () => this.db.get(['p', ns])) as { txid: number; changes: Stored[] } | undefined;
    if (!rec) return null;
    return { txid: rec.txid, changes: rec.changes.map(([k, live, v]): [string, Change] => [k, live ? v : DELETED]) };
  }
  clearPrepared(ns: string): void {
    this.wrap('rollback', () => this.db.transactionSync(() => this.db.removeSync(['p', ns])));
  }
  commit(ns: string, txid: number, changes: [string, Change][]): void {
    this.wrap('commit', () =>
      this.db.transactionSync(() => {
        for (const [k, v] of changes) {
          if (v === DELETED) this.db.removeSync(['c', ns, k]);
          else this.db.putSync(['c', ns, k], v);
        }
        this.db.putSync(['t', ns], txid);
        this.db.removeSync(['p', ns]);
      }),
    );
  }
  getMeta(key: string): unknown {
    return this.wrap('read', () => this.db.get(['m', key]));
  }
  putMeta(key: string, value: unknown): void {
    this.wrap('metadata write', () => this.db.transactionSync(() => this.db.putSync(['m', key], value)));
  }
  async close(): Promise<void> {
    await this.db.close();
  }
}

const envs = new Map<string, { backend: LmdbStateBackend; users: number }>();

/** The environment of a state directory, opened once per process and closed with its last user. */
export function acquireLmdb(dir: string): LmdbStateBackend {
  let e = envs.get(dir);
  if (!e) {
    let db: RootDatabase;
    try {
      mkdirSync(dir, { recursive: true });
      // loaded on first use: topologies without state never load the native module
      const { open } = createRequire(import.meta.url)('lmdb') as typeof import('lmdb');
      db = open({ path: dir, overlappingSync: false, noSync: false });
    } catch (err) {
      throw new MonsoonError(ErrorCodes.STATE_STORE, `state store ${dir}: cannot open the LMDB environment: ${errorMessage(err)}`, { retriable: true });
    }
    e = { backend: new LmdbStateBackend(db, dir), users: 0 };
    envs.set(dir, e);
  }
  e.users++;
  return e.backend;
}

export async function releaseLmdb(dir: string): Promise<void> {
  const e = envs.get(dir);
  if (!e || --e.users > 0) return;
  envs.delete(dir);
  await e.backend.close();
}
