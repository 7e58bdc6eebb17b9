/**
 * Storm UI's REST paths over the local runtime (fastify), and Prometheus text:
 *
 *   GET  /api/v1/topology/summary                       topologies (id, name, status, uptime, …)
 *   GET  /api/v1/topology/:id                           topology stats, spouts, bolts, configuration
 *   GET  /api/v1/topology/:id/component/:component      executor, task and stream stats
 *   POST /api/v1/topology/:id/activate | /deactivate
 *   POST /api/v1/topology/:id/kill/:waittime
 *   POST /api/v1/topology/:id/rebalance/:waittime       body {"rebalanceOptions": {"numWorkers": N, "executors": {"comp": P}}}
 *                                                       (optional); answers once the topology runs again
 *   GET  /metrics                                       Prometheus text, per component and task
 *
 * With `--workers N` the parent serves the summary, the topology page (counts and configuration),
 * rebalance and kill (startWorkersApi).
 *
 * `:id` is a topology id or name. Errors answer Storm's shape: {error, errorMessage} with a status.
 */
import type { FastifyInstance } from 'fastify';
import { MonsoonError } from '../core/errors.js';
import type { TopologyIR } from './ir.js';
import { assignTasks } from './runtime/context.js';
import type { LocalCluster, LocalTopology, RebalanceOptions } from './runtime/local.js';
import type { RunningWorkers } from './runtime/workers.js';

export interface ComputeApiOptions {
  host?: string;
  port: number;
}

export async function startComputeApi(cluster: LocalCluster, opts: ComputeApiOptions): Promise<{ app: FastifyInstance; port: number; close(): Promise<void> }> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  registerComputeRoutes(app, cluster);
  app.get('/metrics', async (_req, reply) => {
    void reply.type('text/plain; version=0.0.4');
    return prometheusText(cluster);
  });
  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port });
  const port = (app.server.address() as { port: number }).port;
  return { app, port, close: () => app.close() };
}

/** The /api/v1/topology/... routes on an existing app (`monsoon server` serves them beside its own). */
export function registerComputeRoutes(app: FastifyInstance, cluster: LocalCluster): void {
  const find = (id: string): LocalTopology => {
    const t = cluster.getTopology(id);
    if (!t) throw Object.assign(new Error(`topology ${id} not found`), { statusCode: 404 });
    return t;
  };
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode ?? (err instanceof MonsoonError ? 400 : 500);
    void reply.status(status).send({ error: status === 404 ? 'Not Found' : 'Request failed', errorMessage: err.message });
  });
  app.get('/api/v1/topology/summary', async () => cluster.summary());
  app.get<{ Params: { id: string } }>('/api/v1/topology/:id', async (req) => find(req.params.id).page());
  app.get<{ Params: { id: string; component: string } }>('/api/v1/topology/:id/component/:component', async (req) => {
    const t = find(req.params.id);
    try {
      return t.component(req.params.component);
    } catch (e) {
      throw Object.assign(e as Error, { statusCode: 404 });
    }
  });
  const op = (name: string, t: LocalTopology) => ({ topologyOperation: name, topologyId: t.id, status: 'success' });
  app.post<{ Params: { id: string } }>('/api/v1/topology/:id/activate', async (req) => {
    const t = find(req.params.id);
    t.activate();
    return op('activate', t);
  });
  app.post<{ Params: { id: string } }>('/api/v1/topology/:id/deactivate', async (req) => {
    const t = find(req.params.id);
    t.deactivate();
    return op('deactivate', t);
  });
  app.post<{ Params: { id: string; wait: string } }>('/api/v1/topology/:id/kill/:wait', async (req) => {
    const t = find(req.params.id);
    const wait = Number(req.params.wait);
    if (!Number.isFinite(wait) || wait < 0) throw Object.assign(new Error(`wait time must be a number of seconds ≥ 0, got ${req.params.wait}`), { statusCode: 400 });
    await cluster.killTopology(t.name, wait);
    return op('kill', t);
  });
  app.post<{ Params: { id: string; wait: string }; Body: unknown }>('/api/v1/topology/:id/rebalance/:wait', async (req) => {
    const t = find(req.params.id);
    await t.rebalance(rebalanceOptions(req.params.wait, req.body));
    return op('rebalance', t);
  });
}

/**
 * The REST paths of `--workers N` (the parent process): the summary, a topology page with the worker
 * and executor counts per component and the configuration, rebalance (drain, re-fork) and kill.
 * Per-task statistics live in the workers and are not served here.
 */
export async function startWorkersApi(w: RunningWorkers, name: string, ir: TopologyIR, opts: ComputeApiOptions): Promise<{ port: number; close(): Promise<void> }> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  const tasks = assignTasks(ir);
  const check = (id: string): void => {
    if (id !== name) throw Object.assign(new Error(`topology ${id} not found`), { statusCode: 404 });
  };
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode ?? (err instanceof MonsoonError ? 400 : 500);
    void reply.status(status).send({ error: status === 404 ? 'Not Found' : 'Request failed', errorMessage: err.message });
  });
  const totals = () => ({
    id: name,
    name,
    status: w.status,
    workersTotal: w.count,
    executorsTotal: Object.values(w.parallelism).reduce((n, p) => n + p, 0),
    tasksTotal: [...tasks.values()].reduce((n, l) => n + l.length, 0),
  });
  const rows = (kind: 'spout' | 'bolt') =>
    ir.components.filter((c) => c.kind === kind).map((c) => ({ [kind === 'spout' ? 'spoutId' : 'boltId']: c.id, executors: w.parallelism[c.id] ?? c.parallelism, tasks: tasks.get(c.id)!.length }));
  app.get('/api/v1/topology/summary', async () => ({ topologies: [{ ...totals(), uptime: '', uptimeSeconds: 0 }] }));
  app.get<{ Params: { id: string } }>('/api/v1/topology/:id', async (req) => {
    check(req.params.id);
    return { ...totals(), spouts: rows('spout'), bolts: rows('bolt'), configuration: ir.config };
  });
  app.post<{ Params: { id: string; wait: string }; Body: unknown }>('/api/v1/topology/:id/rebalance/:wait', async (req) => {
    check(req.params.id);
    await w.rebalance(rebalanceOptions(req.params.wait, req.body));
    return { topologyOperation: 'rebalance', topologyId: name, status: 'success' };
  });
  app.post<{ Params: { id: string } }>('/api/v1/topology/:id/kill/:wait', async (req) => {
    check(req.params.id);
    w.stop();
    return { topologyOperation: 'kill', topologyId: name, status: 'success' };
  });
  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port });
  return { port: (app.server.address() as { port: number }).port, close: () => app.close() };
}

/** The wait path parameter and Storm UI's rebalance body → RebalanceOptions; 400 naming the field at fault. */
export function rebalanceOptions(wait: string, body: unknown): RebalanceOptions {
  const bad = (msg: string): Error => Object.assign(new Error(msg), { statusCode: 400 });
  const waitSecs = Number(wait);
  if (wait === '' || !Number.isFinite(waitSecs) || waitSecs < 0) throw bad(`wait time must be a number of seconds ≥ 0, got ${wait}`);
  const out: RebalanceOptions = { waitSecs };
  if (body === undefined || body === null || body === '') return out;
  const ro = (body as { rebalanceOptions?: unknown }).rebalanceOptions;
  if (typeof body !== 'object' || ro === undefined) return out;
  if (ro === null || typeof ro !== 'object') throw bad('rebalanceOptions must be an object {numWorkers?, executors?}');
  const { numWorkers, executors } = ro as { numWorkers?: unknown; executors?: unknown };
  if (numWorkers !== undefined) {
    if (typeof numWorkers !== 'number' || !Number.isInteger(numWorkers) || numWorkers < 1) throw bad(`rebalanceOptions.numWorkers must be a positive integer, got ${JSON.stringify(numWorkers)}`);
    out.numWorkers = numWorkers;
  }
  if (executors !== undefined) {
    if (executors === null || typeof executors !== 'object' || Array.isArray(executors)) throw bad('rebalanceOptions.executors must be an object {component: executors}');
    const ex: Record<string, number> = {};
    for (const [k, v] of Object.entries(executors)) {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`rebalanceOptions.executors.${k} must be an integer, got ${JSON.stringify(v)}`);
      ex[k] = v;
    }
    out.executors = ex;
  }
  return out;
}

/** Prometheus exposition of every task's counters, labelled topology / component / task. */
export async function prometheusText(cluster: LocalCluster): Promise<string> {
  const { Gauge, Registry } = await import('prom-client');
  const reg = new Registry();
  const labels = ['topology', 'component', 'task'];
  const g = (name: string, help: string) => new Gauge({ name: `monsoon_topology_${name}`, help, labelNames: labels, registers: [reg] });
  const emitted = g('emitted', 'tuples emitted (Storm UI "Emitted")');
  const transferred = g('transferred', 'tuples delivered to tasks (Storm UI "Transferred")');
  const acked = g('acked', 'spouts: trees completed; bolts: tuples acked');
  const failed = g('failed', 'spouts: trees failed or timed out; bolts: tuples failed');
  const executed = g('executed', 'tuples executed by a bolt task');
  const execLat = g('execute_latency_ms', 'average execute time per tuple');
  const procLat = g('process_latency_ms', 'average time from taking a tuple to acking it (sampled)');
  const compLat = g('complete_latency_ms', 'average time from a spout emit to its tree completing');
  const capacity = g('capacity', 'fraction of the last 10 minutes the task spent executing');
  const errors = g('errors', 'errors reported (thrown by execute/nextTuple or reportError)');
  for (const t of cluster.list()) {
    const now = t.clock.now();
    for (const task of t.tasks) {
      const s = task.stats;
      const l = { topology: t.name, component: task.component, task: String(task.id) };
      emitted.set(l, s.totalEmitted());
      transferred.set(l, s.transferred);
      acked.set(l, s.acked);
      failed.set(l, s.failed);
      errors.set(l, s.errors);
      if (task.isSpout) compLat.set(l, s.completeCount ? s.completeLatencySum / s.completeCount : 0);
      else {
        executed.set(l, s.executed);
        execLat.set(l, s.executed ? s.busyMs / s.executed : 0);
        procLat.set(l, s.procLatencyCount ? s.procLatencySum / s.procLatencyCount : 0);
        capacity.set(l, s.capacity(now));
      }
    }
  }
  return reg.metrics();
}
