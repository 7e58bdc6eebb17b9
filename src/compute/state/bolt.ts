/**
 * The stateful bolt contract in Storm's shape: initState(state) is called once the topology's state
 * is restored (before any input reaches execute), then execute(tuple) as for any bolt. The state is
 * saved by checkpoints; the runtime acks the bolt's input tuples only when the checkpoint covering
 * them commits, so after a crash the state is the last committed checkpoint and every input after it
 * is replayed.
 */
import type { OutputCollector, OutputFieldsDeclarer, TopologyConfig, TopologyContext } from '../api.js';
import type { Tuple } from '../tuple.js';
import type { KeyValueState } from './state.js';

export interface StatefulBolt<V = unknown> {
  readonly stateful: true;
  prepare?(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): void | Promise<void>;
  initState(state: KeyValueState<V>): void;
  execute(input: Tuple): void;
  /** Hooks before the runtime prepares, commits or rolls back the state (Storm's prePrepare/preCommit/preRollback). */
  prePrepare?(txid: number): void;
  preCommit?(txid: number): void;
  preRollback?(): void;
  cleanup?(): void | Promise<void>;
  declareOutputFields?(declarer: OutputFieldsDeclarer): void;
  getComponentConfiguration?(): TopologyConfig | null | undefined;
}

export function isStatefulBolt(b: unknown): b is StatefulBolt {
  return (b as { stateful?: unknown } | null)?.stateful === true;
}

export abstract class BaseStatefulBolt<V = unknown> implements StatefulBolt<V> {
  readonly stateful = true;
  abstract initState(state: KeyValueState<V>): void;
  abstract execute(input: Tuple): void;
  declareOutputFields(_declarer: OutputFieldsDeclarer): void {}
  getComponentConfiguration(): TopologyConfig | null {
    return null;
  }
}
