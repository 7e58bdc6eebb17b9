/**
 * Bolts in a topology with checkpointing. Checkpoint tuples arrive on `$checkpoint` from every input
 * task; once a (txid, action) has come from all of them the bolt acts on it, emits it once anchored
 * to all of them (so the checkpoint's tree covers the whole topology) and acks them.
 *
 * - CheckpointForwarder wraps a bolt without state: it only forwards.
 * - StatefulBoltExecutor runs a StatefulBolt (Storm's StatefulBoltExecutor): inputs wait until
 *   INITSTATE; the bolt's acks are held — PREPARE writes the state's changes durably and moves the
 *   acked inputs to the prepared set, COMMIT commits the state then acks them, ROLLBACK restores the
 *   last committed state and fails them (their spouts replay them).
 *
 * Exactly once across crashes: a spout message id carrying a sequence (the bus spout's
 * topic/partition/offset) lets the executor record, inside the state and so inside the same commit,
 * a marker per input it applied: (sequence key, sequence, n-th tuple of that message at this task).
 * A replayed input whose marker is already in the state is acked without reaching the bolt. Markers
 * below the spout's committed position (`seqFloor()`) can never be replayed and are pruned at each
 * commit. Inputs from other spouts are applied at least once.
 */
import type { Acker } from '../acker.js';
import type { Bolt, OutputCollector, TopologyConfig, TopologyContext } from '../api.js';
import type { Tuple } from '../tuple.js';
import type { StatefulBolt } from './bolt.js';
import { CHECKPOINT_STREAM, type CheckpointAction } from './checkpoint.js';
import { acquireBackend, releaseBackend, stateSettings, type StateSettings } from './config.js';
import { CheckpointedKeyValueState, RESERVED_PREFIX } from './state.js';

/** A spout message id that names a position in a sequence (the bus spout's BusMessageId). */
export interface SequencedMessageId {
  readonly seqKey: string;
  readonly seq: number;
  /** Positions below this are committed at the source and never replayed. */
  seqFloor(): number;
}

function sequenced(m: unknown): m is SequencedMessageId {
  return typeof (m as SequencedMessageId | null)?.seqKey === 'string' && typeof (m as SequencedMessageId).seqFloor === 'function';
}

/**
 * Waits for one (txid, action) from every input task. A second one from the same task is a retry
 * (its first tree failed) and replaces the first; a completed barrier drops every other partial one,
 * since the checkpoint spout has one checkpoint in flight at a time.
 */
class Barrier {
  private waiting = new Map<string, Map<number, Tuple>>();
  constructor(private readonly expected: number) {}
  /** The checkpoint tuples of (txid, action) once all input tasks sent theirs, else null. */
  add(t: Tuple): Tuple[] | null {
    const key = `${String(t.getValue(0))}/${String(t.getValue(1))}`;
    let got = this.waiting.get(key);
    if (!got) this.waiting.set(key, (got = new Map()));
    got.set(t.getSourceTask(), t);
    if (got.size < this.expected) return null;
    this.waiting = new Map();
    return [...got.values()];
  }
}

function checkpointInputs(context: TopologyContext): number {
  let n = 0;
  for (const src of context.getThisSources()) {
    const i = src.lastIndexOf(':');
    if (src.slice(i + 1) === CHECKPOINT_STREAM) n += context.getComponentTasks(src.slice(0, i)).length;
  }
  return Math.max(1, n);
}

abstract class CheckpointParticipant implements Bolt {
  protected collector!: OutputCollector;
  private barrier!: Barrier;
  protected startCheckpoints(context: TopologyContext, collector: OutputCollector): void {
    this.collector = collector;
    this.barrier = new Barrier(checkpointInputs(context));
  }
  abstract prepare(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): void | Promise<void>;
  abstract onData(t: Tuple): void;
  abstract onCheckpoint(txid: number, action: CheckpointAction): void;
  execute(t: Tuple): void {
    if (t.getSourceStreamId() !== CHECKPOINT_STREAM) return this.onData(t);
    const all = this.barrier.add(t);
    if (all === null) return;
    const txid = Number(t.getValue(0));
    const action = t.getValue(1) as CheckpointAction;
    try {
      this.onCheckpoint(txid, action);
    } catch (e) {
      for (const x of all) this.collector.fail(x);
      throw e;
    }
    this.collector.emit(CHECKPOINT_STREAM, all, [txid, action]);
    for (const x of all) this.collector.ack(x);
  }
}

export class CheckpointForwarder extends CheckpointParticipant {
  constructor(readonly inner: Bolt) {
    super();
  }
  prepare(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): void | Promise<void> {
    this.startCheckpoints(context, collector);
    return this.inner.prepare?.(conf, context, collector);
  }
  onData(t: Tuple): void {
    this.inner.execute(t);
  }
  onCheckpoint(): void {}
  cleanup(): void | Promise<void> {
    return this.inner.cleanup?.();
  }
}

export interface StatefulCounters {
  /** Inputs recognised as replays of inputs already in the state and acked without execute. */
  duplicates: number;
  commits: number;
  rollbacks: number;
}

export class StatefulBoltExecutor extends CheckpointParticipant {
  private state!: CheckpointedKeyValueState;
  private settings!: StateSettings;
  private initialized = false;
  private waiting: Tuple[] = [];
  private acked: Tuple[] = [];
  private prepared: Tuple[] = [];
  /** Tuples of each live tree seen by this task, numbering a message's tuples for its markers. */
  private occurrences = new Map<number, number>();
  private readonly sources = new Map<string, SequencedMessageId>();
  readonly counters: StatefulCounters = { duplicates: 0, commits: 0, rollbacks: 0 };

  constructor(readonly inner: StatefulBolt, private readonly acker: Acker | null) {
    super();
  }

  prepare(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): void | Promise<void> {
    this.startCheckpoints(context, collector);
    this.settings = stateSettings(conf);
    const backend = acquireBackend(this.settings);
    this.state = new CheckpointedKeyValueState(backend, `${context.getThisComponentId()}/${context.getThisTaskIndex()}`);
    const held: OutputCollector = {
      emit: collector.emit.bind(collector) as OutputCollector['emit'],
      emitDirect: collector.emitDirect.bind(collector) as OutputCollector['emitDirect'],
      ack: (t) => void this.acked.push(t),
      fail: (t) => collector.fail(t),
      resetTimeout: (t) => collector.resetTimeout(t),
      reportError: (e) => collector.reportError(e),
    };
    return this.inner.prepare?.(conf, context, held);
  }

  onData(t: Tuple): void {
    if (!this.initialized) {
      this.waiting.push(t);
      return;
    }
    const marker = this.markerOf(t);
    if (marker !== null && this.state.read(marker) !== undefined) {
      this.counters.duplicates++;
      this.acked.push(t);
      return;
    }
    this.inner.execute(t);
    if (marker !== null) this.state.write(marker, 1);
  }

  private markerOf(t: Tuple): string | null {
    if (this.acker === null || t.root === 0 || t.more !== null) return null;
    const m = this.acker.messageOf(t.root);
    if (!sequenced(m)) return null;
    const n = this.occurrences.get(t.root) ?? 0;
    this.occurrences.set(t.root, n + 1);
    this.sources.set(m.seqKey, m);
    return `${RESERVED_PREFIX}r${RESERVED_PREFIX}${m.seqKey}${RESERVED_PREFIX}${String(m.seq).padStart(16, '0')}${RESERVED_PREFIX}${n}`;
  }

  onCheckpoint(txid: number, action: CheckpointAction): void {
    const c = this.collector;
    switch (action) {
      case 'INITSTATE':
        if (!this.initialized) {
          this.inner.initState(this.state);
          this.initialized = true;
          const w = this.waiting;
          this.waiting = [];
          for (const t of w) {
            try {
              this.onData(t);
            } catch (e) {
              c.reportError(e);
              c.fail(t);
            }
          }
        } else this.rollback();
        break;
      case 'PREPARE':
        this.inner.prePrepare?.(txid);
        this.state.prepareCommit(txid);
        for (const t of this.acked) this.prepared.push(t);
        this.acked = [];
        break;
      case 'COMMIT': {
        this.inner.preCommit?.(txid);
        this.state.commit(txid);
        this.counters.commits++;
        const done = this.prepared;
        this.prepared = [];
        for (const t of done) c.ack(t);
        this.prune();
        break;
      }
      case 'ROLLBACK':
        this.rollback();
        break;
    }
  }

  private rollback(): void {
    this.inner.preRollback?.();
    this.state.rollback();
    this.counters.rollbacks++;
    const c = this.collector;
    for (const t of this.prepared) c.fail(t);
    for (const t of this.acked) c.fail(t);
    this.prepared = [];
    this.acked = [];
    this.occurrences.clear();
  }

  /** Drops markers the sources can no longer replay and counters of finished trees. */
  private prune(): void {
    for (const [key, m] of this.sources) {
      const floor = m.seqFloor();
      const prefix = `${RESERVED_PREFIX}r${RESERVED_PREFIX}${key}${RESERVED_PREFIX}`;
      for (const [k] of this.state.entries(prefix)) {
        const seq = Number(k.slice(prefix.length, prefix.length + 16));
        if (seq < floor) this.state.write(k, undefined);
      }
    }
    const acker = this.acker;
    if (acker !== null) for (const root of this.occurrences.keys()) if (acker.messageOf(root) === undefined) this.occurrences.delete(root);
  }

  cleanup(): void | Promise<void> {
    const r = this.inner.cleanup?.();
    return Promise.resolve(r).then(() => releaseBackend(this.settings));
  }
}
