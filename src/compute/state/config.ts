/**
 * The state keys of a topology (Storm's names where Storm has them) and the backend they select:
 * `topology.state.provider` is `lmdb` (default; durable) or `memory` (tests: kept per process);
 * `topology.state.dir` defaults to `<cwd>/monsoon-state/<topology name>`;
 * `topology.state.checkpoint.interval.ms` (1000) is how often the checkpoint spout starts a checkpoint.
 */
import { join, resolve } from 'node:path';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { TopologyConfig } from '../api.js';
import { acquireLmdb, releaseLmdb } from './lmdb.js';
import { memoryBackend } from './memory.js';
import type { StateBackend } from './state.js';

export const StateKeys = {
  PROVIDER: 'topology.state.provider',
  DIR: 'topology.state.dir',
  CHECKPOINT_INTERVAL_MS: 'topology.state.checkpoint.interval.ms',
} as const;

export interface StateSettings {
  provider: 'lmdb' | 'memory';
  dir: string;
  intervalMs: number;
}

export function stateSettings(conf: TopologyConfig): StateSettings {
  const p = conf[StateKeys.PROVIDER] ?? 'lmdb';
  if (p !== 'lmdb' && p !== 'memory') throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${StateKeys.PROVIDER}: must be "lmdb" or "memory", got ${JSON.stringify(p)}`);
  const dir = conf[StateKeys.DIR];
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${StateKeys.DIR}: must be a directory path, got ${JSON.stringify(dir)}`);
  const iv = conf[StateKeys.CHECKPOINT_INTERVAL_MS] ?? 1000;
  const n = typeof iv === 'string' ? Number(iv) : iv;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${StateKeys.CHECKPOINT_INTERVAL_MS}: must be a positive number of milliseconds, got ${JSON.stringify(iv)}`);
  const name = String(conf['topology.name'] ?? 'topology');
  return { provider: p, dir: resolve(typeof dir === 'string' ? dir : join(process.cwd(), 'monsoon-state', name)), intervalMs: n };
}

export function acquireBackend(s: StateSettings): StateBackend {
  return s.provider === 'memory' ? memoryBackend(s.dir) : acquireLmdb(s.dir);
}

export async function releaseBackend(s: StateSettings): Promise<void> {
  if (s.provider === 'lmdb') await releaseLmdb(s.dir);
}
