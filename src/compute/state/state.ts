/**
 * Checkpointed key-value state (Storm's KeyValueState) over a StateBackend. Changes live in three
 * layers: `pending` (since the last prepare), `prepared` (written durably by prepareCommit(txid),
 * waiting for commit) and the backend's committed data, which commit(txid) replaces atomically
 * together with the committed txid. Reads see the newest layer; rollback drops both upper layers, so
 * the state is again what the last committed checkpoint holds.
 *
 * Keys are strings; keys starting with NUL are reserved for the runtime (replay markers). Values are
 * anything the backend can encode (LMDB: MessagePack — plain objects, arrays, numbers, strings,
 * Buffers, Maps).
 */
import { ErrorCodes, MonsoonError } from '../../core/errors.js';

/** A deleted key inside a layer. */
export const DELETED: unique symbol = Symbol('deleted');
export type Change = unknown | typeof DELETED;

export interface StateBackend {
  /** The last committed txid of a namespace, or -1. */
  committedTxid(ns: string): number;
  get(ns: string, key: string): unknown;
  /** Committed [key, value] pairs of a namespace whose key starts with `prefix`, in key order. */
  range(ns: string, prefix: string): [string, unknown][];
  /** Durably records a namespace's prepared changes for `txid` (replacing earlier ones). */
  savePrepared(ns: string, txid: number, changes: [string, Change][]): void;
  loadPrepared(ns: string): { txid: number; changes: [string, Change][] } | null;
  clearPrepared(ns: string): void;
  /** Applies changes, records `txid` as committed and drops the prepared record, atomically. */
  commit(ns: string, txid: number, changes: [string, Change][]): void;
  getMeta(key: string): unknown;
  putMeta(key: string, value: unknown): void;
  close(): Promise<void>;
}

export interface KeyValueState<V = unknown> {
  get(key: string): V | undefined;
  get(key: string, defaultValue: V): V;
  put(key: string, value: V): void;
  delete(key: string): V | undefined;
  /** Entries in key order, optionally only keys starting with `prefix`. */
  iterate(prefix?: string): IterableIterator<[string, V]>;
}

export const RESERVED_PREFIX = '\u0000';

export class CheckpointedKeyValueState<V = unknown> implements KeyValueState<V> {
  private pending = new Map<string, Change>();
  private prepared = new Map<string, Change>();
  private preparedTxid = -1;

  constructor(readonly backend: StateBackend, readonly namespace: string) {
    const p = backend.loadPrepared(namespace);
    if (p) {
      this.preparedTxid = p.txid;
      this.prepared = new Map(p.changes);
    }
  }

  get(key: string): V | undefined;
  get(key: string, defaultValue: V): V;
  get(key: string, defaultValue?: V): V | undefined {
    checkKey(key);
    return this.read(key) ?? defaultValue;
  }
  put(key: string, value: V): void {
    checkKey(key);
    if (value === undefined) throw new MonsoonError(ErrorCodes.STATE_STORE, `state ${this.namespace}: put(${JSON.stringify(key)}) with undefined; use delete`);
    this.pending.set(key, value);
  }
  delete(key: string): V | undefined {
    checkKey(key);
    const old = this.read(key);
    this.pending.set(key, DELETED);
    return old;
  }
  *iterate(prefix = ''): IterableIterator<[string, V]> {
    checkKey(prefix === '' ? 'x' : prefix);
    for (const [k, v] of this.entries(prefix)) if (!k.startsWith(RESERVED_PREFIX)) yield [k, v as V];
  }

  /** Reads through the layers; also for the runtime's reserved keys. */
  read(key: string): V | undefined {
    let v = this.pending.get(key);
    if (v === undefined) v = this.prepared.get(key);
    if (v === undefined) v = this.backend.get(this.namespace, key);
    return v === DELETED || v === undefined ? undefined : (v as V);
  }
  write(key: string, value: unknown): void {
    this.pending.set(key, value === undefined ? DELETED : value);
  }
  /** Merged entries of every layer with keys starting with `prefix`, in key order. */
  entries(prefix: string): [string, unknown][] {
    const m = new Map<string, Change>(this.backend.range(this.namespace, prefix));
    for (const layer of [this.prepared, this.pending]) for (const [k, v] of layer) if (k.startsWith(prefix)) m.set(k, v);
    return [...m].filter(([, v]) => v !== DELETED).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  committedTxid(): number {
    return this.backend.committedTxid(this.namespace);
  }

  /** Moves pending changes into the durable prepared record for `txid`. */
  prepareCommit(txid: number): void {
    for (const [k, v] of this.pending) this.prepared.set(k, v);
    this.pending = new Map();
    this.preparedTxid = txid;
    this.backend.savePrepared(this.namespace, txid, [...this.prepared]);
  }

  /** Commits the prepared changes of `txid`; a txid already committed (a recovery's re-commit) is a no-op. */
  commit(txid: number): void {
    if (this.backend.committedTxid(this.namespace) >= txid) {
      this.prepared = new Map();
      this.preparedTxid = -1;
      return;
    }
    const changes = this.preparedTxid === txid ? [...this.prepared] : [];
    this.backend.commit(this.namespace, txid, changes);
    this.prepared = new Map();
    this.preparedTxid = -1;
  }

  /** Back to the last committed checkpoint. */
  rollback(): void {
    this.pending = new Map();
    if (this.preparedTxid >= 0 || this.prepared.size > 0) this.backend.clearPrepared(this.namespace);
    this.prepared = new Map();
    this.preparedTxid = -1;
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string') throw new MonsoonError(ErrorCodes.STATE_STORE, `state keys are strings, got ${typeof key}`);
  if (key.startsWith(RESERVED_PREFIX)) throw new MonsoonError(ErrorCodes.STATE_STORE, `state key ${JSON.stringify(key)}: keys starting with NUL are reserved for the runtime`);
}
