/**
 * Storm UI's REST paths over the local runtime (fastify), and Prometheus text:
 *
 *   GET  /api/v1/topology/summary                       topologies (id, name, status, uptime, …)
 *   GET  /api/v1/topology/:id                           topology stats, spouts, bolts, configuration
 *   GET  /api/v1/topology/:id/component/:component      executor, task and stream stats
 *   POST /api/v1/topology/:id/activate | /deactivate
 *   POST /api/v1/topology/:id/kill/:waittime
 *   POST /api/v1/topology/:id/rebalance/:waittime       answered 501: one worker has nothing to rebalance
 *   GET  /metrics                                       Prometheus text, per component and task
 *
 * `:id` is a topology id or name. Errors answer Storm's shape: {error, errorMessage} with a status.
 */
import type { FastifyInstance } from 'fastify';
import { MonsoonError } from '../core/errors.js';
import type { LocalCluster, LocalTopology } from './runtime/local.js';

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
  app.post<{ Params: { id: string } }>('/api/v1/topology/:id/rebalance/:wait', async (req, reply) => {
    find(req.params.id);
    return reply.status(501).send({ error: 'Not Implemented', errorMessage: 'the local runtime runs one worker; rebalance applies to the distributed runtime, which is not available yet' });
  });
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
