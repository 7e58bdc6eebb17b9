/**
 * The checkpoint spout (Storm's CheckpointSpout): one task per stateful topology, component
 * `$checkpointspout`, emitting `(txid, action)` on the `$checkpoint` stream, which every bolt receives
 * from all of its inputs (ALL grouping) and forwards once it has it from every input task. Each
 * checkpoint is a tracked tuple tree, so an ack means every bolt handled the action:
 *
 *   INITSTATE(c) → every interval: PREPARE(c+1) → COMMIT(c+1) → … ; a failed PREPARE → ROLLBACK.
 *
 * Its own progress is stored in the state store before each step (PREPARING before a PREPARE,
 * COMMITTING once the PREPARE is acked — the commit decision — and COMMITTED after the COMMIT), and
 * after a restart it first finishes what was interrupted: COMMITTING(n) → COMMIT(n) again (bolts that
 * already committed n ignore it), PREPARING(n) → ROLLBACK(n); then INITSTATE.
 */
import type { OutputFieldsDeclarer, Spout, SpoutOutputCollector, TopologyConfig, TopologyContext } from '../api.js';
import { acquireBackend, releaseBackend, stateSettings, type StateSettings } from './config.js';
import type { StateBackend } from './state.js';

export const CHECKPOINT_COMPONENT = '$checkpointspout';
export const CHECKPOINT_STREAM = '$checkpoint';
export const CHECKPOINT_FIELDS = ['txid', 'action'];
export type CheckpointAction = 'INITSTATE' | 'PREPARE' | 'COMMIT' | 'ROLLBACK';

type Phase = 'COMMITTED' | 'PREPARING' | 'COMMITTING';
interface Progress {
  txid: number;
  phase: Phase;
}
const META_KEY = 'checkpoint-spout';

export class CheckpointMessage {
  constructor(readonly txid: number, readonly action: CheckpointAction) {}
  toString(): string {
    return `${this.action}(${this.txid})`;
  }
}

export class CheckpointSpout implements Spout {
  private collector!: SpoutOutputCollector;
  private backend!: StateBackend;
  private settings!: StateSettings;
  private progress: Progress = { txid: 0, phase: 'COMMITTED' };
  private next: CheckpointMessage | null = null;
  private inflight = false;
  private recovering = true;
  private lastAt = 0;
  /** Checkpoints committed by this task (tests, metrics). */
  committed = 0;

  declareOutputFields(d: OutputFieldsDeclarer): void {
    d.declareStream(CHECKPOINT_STREAM, CHECKPOINT_FIELDS);
  }

  open(conf: TopologyConfig, _ctx: TopologyContext, collector: SpoutOutputCollector): void {
    this.collector = collector;
    this.settings = stateSettings(conf);
    this.backend = acquireBackend(this.settings);
    const p = this.backend.getMeta(META_KEY) as Progress | undefined;
    if (p) this.progress = p;
    const { txid, phase } = this.progress;
    this.next = new CheckpointMessage(txid, phase === 'COMMITTING' ? 'COMMIT' : phase === 'PREPARING' ? 'ROLLBACK' : 'INITSTATE');
  }

  nextTuple(): void {
    if (this.inflight) return;
    if (this.next === null) {
      if (performance.now() - this.lastAt < this.settings.intervalMs) return;
      const txid = this.progress.txid + 1;
      this.save({ txid, phase: 'PREPARING' });
      this.next = new CheckpointMessage(txid, 'PREPARE');
    }
    const m = this.next;
    this.next = null;
    this.inflight = true;
    this.collector.emit(CHECKPOINT_STREAM, [m.txid, m.action], m);
  }

  ack(msgId: unknown): void {
    const m = msgId as CheckpointMessage;
    this.inflight = false;
    switch (m.action) {
      case 'INITSTATE':
        this.recovering = false;
        this.lastAt = performance.now();
        break;
      case 'PREPARE':
        this.save({ txid: m.txid, phase: 'COMMITTING' });
        this.next = new CheckpointMessage(m.txid, 'COMMIT');
        break;
      case 'COMMIT':
        this.save({ txid: m.txid, phase: 'COMMITTED' });
        this.committed++;
        this.lastAt = performance.now();
        if (this.recovering) this.next = new CheckpointMessage(m.txid, 'INITSTATE');
        break;
      case 'ROLLBACK':
        this.save({ txid: m.txid - 1, phase: 'COMMITTED' });
        this.lastAt = performance.now();
        if (this.recovering) this.next = new CheckpointMessage(m.txid - 1, 'INITSTATE');
        break;
    }
  }

  fail(msgId: unknown): void {
    const m = msgId as CheckpointMessage;
    this.inflight = false;
    // a failed PREPARE rolls the checkpoint back; every other action is sent again
    this.next = m.action === 'PREPARE' ? new CheckpointMessage(m.txid, 'ROLLBACK') : m;
  }

  private save(p: Progress): void {
    this.progress = p;
    this.backend.putMeta(META_KEY, p);
  }

  close(): Promise<void> {
    return releaseBackend(this.settings);
  }
}
