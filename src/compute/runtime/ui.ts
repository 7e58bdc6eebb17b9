/**
 * Storm UI-shaped JSON for a running topology: the objects behind /api/v1/topology/summary,
 * /api/v1/topology/:id and /api/v1/topology/:id/component/:component, with Storm's field names
 * (latencies as strings of milliseconds with 3 decimals, capacity as a string fraction). The window
 * is all-time (":all-time"), except capacity, which covers the last 10 minutes.
 */
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Executor, Task } from './executor.js';
import type { LocalTopology } from './local.js';
import { LatencyHistogram } from './stats.js';

export interface TopologySummaryEntry {
  id: string;
  name: string;
  status: string;
  uptime: string;
  uptimeSeconds: number;
  tasksTotal: number;
  workersTotal: number;
  executorsTotal: number;
}

interface Totals {
  emitted: number;
  transferred: number;
  acked: number;
  failed: number;
  executed: number;
  busyMs: number;
  procSum: number;
  procCount: number;
  completeSum: number;
  completeCount: number;
  capacity: number;
  errors: number;
  lastError: { time: number; error: string } | null;
  hist: LatencyHistogram;
}

function totals(tasks: Task[], now: number): Totals {
  const t: Totals = { emitted: 0, transferred: 0, acked: 0, failed: 0, executed: 0, busyMs: 0, procSum: 0, procCount: 0, completeSum: 0, completeCount: 0, capacity: 0, errors: 0, lastError: null, hist: new LatencyHistogram() };
  for (const task of tasks) {
    const s = task.stats;
    t.emitted += s.totalEmitted();
    t.transferred += s.transferred;
    t.acked += s.acked;
    t.failed += s.failed;
    t.executed += s.executed;
    t.busyMs += s.busyMs;
    t.procSum += s.procLatencySum;
    t.procCount += s.procLatencyCount;
    t.completeSum += s.completeLatencySum;
    t.completeCount += s.completeCount;
    t.capacity = Math.max(t.capacity, s.capacity(now));
    t.errors += s.errors;
    if (s.lastError && (!t.lastError || s.lastError.time > t.lastError.time)) t.lastError = s.lastError;
    t.hist.merge(s.completeHist);
  }
  return t;
}

const ms = (v: number): string => v.toFixed(3);
const avg = (sum: number, n: number): string => ms(n > 0 ? sum / n : 0);

function prettyUptime(secs: number): string {
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  return `${d}d ${h}h ${m}m ${s}s`;
}

export function topologySummaryEntry(t: LocalTopology): TopologySummaryEntry {
  const up = t.uptimeSecs();
  return {
    id: t.id,
    name: t.name,
    status: t.status,
    uptime: prettyUptime(up),
    uptimeSeconds: up,
    tasksTotal: t.tasks.length,
    workersTotal: 1,
    executorsTotal: t.spoutExecutors.length + t.boltExecutors.length,
  };
}

function executorsOf(t: LocalTopology, component: string): Executor[] {
  return [...t.spoutExecutors, ...t.boltExecutors].filter((e) => e.component === component).sort((a, b) => a.tasks[0]!.id - b.tasks[0]!.id);
}

function lastError(x: Totals): { lastError: string; errorTime: number | null; errorLapsedSecs: number | null } {
  return x.lastError
    ? { lastError: x.lastError.error.split('\n')[0]!, errorTime: Math.floor(x.lastError.time / 1000), errorLapsedSecs: Math.floor((Date.now() - x.lastError.time) / 1000) }
    : { lastError: '', errorTime: null, errorLapsedSecs: null };
}

export function topologyPage(t: LocalTopology) {
  const now = t.clock.now();
  const spouts = t.ir.components.filter((c) => c.kind === 'spout').map((c) => {
    const tasks = t.tasks.filter((x) => x.component === c.id);
    const x = totals(tasks, now);
    return {
      spoutId: c.id,
      encodedSpoutId: encodeURIComponent(c.id),
      executors: executorsOf(t, c.id).length,
      tasks: tasks.length,
      emitted: x.emitted,
      transferred: x.transferred,
      completeLatency: avg(x.completeSum, x.completeCount),
      completeLatencyP99: ms(x.hist.quantile(0.99)),
      acked: x.acked,
      failed: x.failed,
      errors: x.errors,
      ...lastError(x),
    };
  });
  const bolts = t.ir.components.filter((c) => c.kind === 'bolt').map((c) => {
    const tasks = t.tasks.filter((x) => x.component === c.id);
    const x = totals(tasks, now);
    return {
      boltId: c.id,
      encodedBoltId: encodeURIComponent(c.id),
      executors: executorsOf(t, c.id).length,
      tasks: tasks.length,
      emitted: x.emitted,
      transferred: x.transferred,
      capacity: x.capacity.toFixed(3),
      executeLatency: avg(x.busyMs, x.executed),
      executed: x.executed,
      processLatency: avg(x.procSum, x.procCount),
      acked: x.acked,
      failed: x.failed,
      errors: x.errors,
      ...lastError(x),
    };
  });
  const spoutTasks = t.tasks.filter((x) => x.isSpout);
  const all = totals(t.tasks, now);
  const sp = totals(spoutTasks, now);
  return {
    ...topologySummaryEntry(t),
    topologyStats: [
      {
        window: ':all-time',
        windowPretty: 'All time',
        emitted: all.emitted,
        transferred: all.transferred,
        completeLatency: avg(sp.completeSum, sp.completeCount),
        acked: sp.acked,
        failed: sp.failed,
      },
    ],
    spouts,
    bolts,
    acker: t.acker ? { executed: t.acker.executed, pending: t.acker.pending(), acked: t.acker.acked, failed: t.acker.failed, timedOut: t.acker.timedOut } : null,
    configuration: t.conf,
  };
}
export type TopologyPage = ReturnType<typeof topologyPage>;

export function componentPage(t: LocalTopology, id: string) {
  const c = t.ir.components.find((x) => x.id === id);
  if (!c) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `topology ${t.name} has no component ${JSON.stringify(id)}`);
  const now = t.clock.now();
  const tasks = t.tasks.filter((x) => x.component === id);
  const x = totals(tasks, now);
  const executorStats = executorsOf(t, id).map((e) => {
    const ids = e.tasks.map((k) => k.id);
    const y = totals(e.tasks, now);
    const base = {
      id: `[${ids[0]}-${ids[ids.length - 1]}]`,
      encodedId: encodeURIComponent(`[${ids[0]}-${ids[ids.length - 1]}]`),
      uptime: prettyUptime(t.uptimeSecs()),
      uptimeSeconds: t.uptimeSecs(),
      host: 'localhost',
      port: 0,
      emitted: y.emitted,
      transferred: y.transferred,
      acked: y.acked,
      failed: y.failed,
    };
    return c.kind === 'spout'
      ? { ...base, completeLatency: avg(y.completeSum, y.completeCount) }
      : { ...base, executed: y.executed, executeLatency: avg(y.busyMs, y.executed), processLatency: avg(y.procSum, y.procCount), capacity: y.capacity.toFixed(3), queueBytes: e.queue?.bytes ?? 0 };
  });
  const taskStats = tasks.map((k) => {
    const s = k.stats;
    return {
      task: k.id,
      emitted: s.totalEmitted(),
      transferred: s.transferred,
      acked: s.acked,
      failed: s.failed,
      executed: s.executed,
      executeLatency: avg(s.busyMs, s.executed),
      processLatency: avg(s.procLatencySum, s.procLatencyCount),
      completeLatency: avg(s.completeLatencySum, s.completeCount),
      capacity: s.capacity(now).toFixed(3),
      errors: s.errors,
    };
  });
  const outputStats = c.streams.map((s, i) => ({
    stream: s.id,
    emitted: tasks.reduce((n, k) => n + (k.stats.emitted[i] ?? 0), 0),
  }));
  return {
    id,
    encodedId: encodeURIComponent(id),
    name: t.name,
    topologyId: t.id,
    componentType: c.kind,
    executors: executorStats.length,
    tasks: tasks.length,
    windowHint: ':all-time',
    componentErrors: x.lastError ? [{ time: Math.floor(x.lastError.time / 1000), errorHost: 'localhost', errorPort: 0, error: x.lastError.error }] : [],
    [c.kind === 'spout' ? 'spoutSummary' : 'boltStats']: [
      c.kind === 'spout'
        ? { window: ':all-time', windowPretty: 'All time', emitted: x.emitted, transferred: x.transferred, completeLatency: avg(x.completeSum, x.completeCount), completeLatencyP99: ms(x.hist.quantile(0.99)), acked: x.acked, failed: x.failed }
        : { window: ':all-time', windowPretty: 'All time', emitted: x.emitted, transferred: x.transferred, executed: x.executed, executeLatency: avg(x.busyMs, x.executed), processLatency: avg(x.procSum, x.procCount), capacity: x.capacity.toFixed(3), acked: x.acked, failed: x.failed },
    ],
    outputStats,
    executorStats,
    taskStats,
  };
}
export type ComponentPage = ReturnType<typeof componentPage>;
