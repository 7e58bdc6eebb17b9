import type { FastifyInstance } from 'fastify';
import type { MetricsRegistry } from '../core/metrics.js';

/**
 * The agent's HTTP monitoring endpoint: Flume's JSON at /metrics (what `flume.monitoring.type=http`
 * serves), Prometheus text at /prometheus (or /metrics?format=prometheus), and /health.
 */
export interface MonitorOptions {
  host: string;
  port: number;
  metrics: MetricsRegistry;
  stuck: () => string[];
}

export async function startMonitor(opts: MonitorOptions): Promise<{ server: FastifyInstance; port: number }> {
  // loaded on first use: agents without a monitoring endpoint do not pay for fastify at startup
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  const prometheus = async (reply: { type(t: string): unknown }) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return opts.metrics.toPrometheus();
  };
  app.get('/metrics', async (req, reply) => {
    if ((req.query as Record<string, string>).format === 'prometheus') return prometheus(reply);
    return opts.metrics.toFlumeJson();
  });
  app.get('/prometheus', async (_req, reply) => prometheus(reply));
  app.get('/health', async (_req, reply) => {
    const stuck = opts.stuck();
    reply.code(stuck.length ? 503 : 200);
    return { status: stuck.length ? 'stuck' : 'ok', stuck };
  });
  const addr = await app.listen({ host: opts.host, port: opts.port });
  return { server: app, port: Number(new URL(addr).port) };
}
