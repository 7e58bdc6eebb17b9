/**
 * The bolt a runtime runs for a component's code: a basic bolt behind its auto-acking adapter, a
 * windowed bolt behind its window executor, a stateful bolt behind its checkpointing executor; in a
 * topology with checkpointing, every other bolt forwards checkpoint tuples. Every runtime builds tasks
 * through this one function.
 */
import { isBasicBolt, type BasicBolt, type Bolt } from '../api.js';
import { isStatefulBolt } from '../state/bolt.js';
import { CheckpointForwarder, StatefulBoltExecutor } from '../state/executor.js';
import type { AnyBolt } from '../topology.js';
import { isWindowedBolt } from '../windows/bolt.js';
import { WindowedBoltExecutor } from '../windows/executor.js';
import { BasicBoltAdapter } from './collectors.js';
import type { ExecutorHost } from './executor.js';

export function adaptBolt(b: AnyBolt, host: Pick<ExecutorHost, 'clock' | 'acker' | 'settings'>, checkpointing: boolean): Bolt {
  if (isStatefulBolt(b)) return new StatefulBoltExecutor(b, host.acker);
  let bolt: Bolt;
  if (isWindowedBolt(b)) bolt = new WindowedBoltExecutor(b, host.clock, host.settings.timeoutMs);
  else if (isBasicBolt(b as Bolt | BasicBolt)) bolt = new BasicBoltAdapter(b as BasicBolt);
  else bolt = b as Bolt;
  return checkpointing ? new CheckpointForwarder(bolt) : bolt;
}
