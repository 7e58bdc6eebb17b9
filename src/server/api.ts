/**
 * The server's HTTP API (fastify):
 *
 *   GET /health                                   200 {status:'ok'} or 503 naming stuck components
 *   GET /api/v1/status                            uptime, data dir, bus address, collector counters,
 *                                                 topics, consumer lag, topology summary, KV store writes
 *   GET /api/v1/collector/metrics                 the collector's counters (Flume's JSON)
 *   GET /api/v1/bus/topics                        topics with partitions (earliest/latest offsets)
 *   GET /api/v1/bus/lag[?group=g]                 per-partition lag of g (default: every topology's group)
 *   GET /api/v1/topology/...                      Storm UI's paths (src/compute/rest.ts)
 *   GET /api/v1/store/:table/row/:rowkey[?family=&column=]      one row of the key-value store
 *   GET /api/v1/store/:table/scan?prefix=|start=&stop=&limit=   rows in key order (limit ≤ 10,000, default 100)
 *   GET /api/v1/store/:table/count[?prefix=]                    cells in the table (or under a row-key prefix)
 *   GET /metrics                                  Prometheus text: collector, topologies, bus offsets and lag,
 *                                                 key-value store writes
 */
import type { FastifyInstance } from 'fastify';
import { prometheusText, registerComputeRoutes } from '../compute/rest.js';
import { rowToJson } from '../store/kv/lookup.js';
import type { MonsoonServer } from './server.js';

type Ctx = Omit<MonsoonServer, 'httpPort' | 'close'>;

const badRequest = (message: string) => Object.assign(new Error(message), { statusCode: 400 });
const notFound = (message: string) => Object.assign(new Error(message), { statusCode: 404 });

async function topics(s: Ctx) {
  const out = [];
  for (const name of (await s.bus.admin.listTopics()).sort()) {
    const d = await s.bus.admin.describeTopic(name);
    out.push({ name, partitions: d.partitions, records: d.partitions.reduce((n, p) => n + p.latest - p.earliest, 0) });
  }
  return out;
}

async function lag(s: Ctx, groups: string[]) {
  const out = [];
  for (const group of groups) {
    const parts = await s.bus.lag(group);
    out.push({ group, lag: parts.reduce((n, p) => n + p.lag, 0), partitions: parts });
  }
  return out;
}

async function stuck(s: Ctx): Promise<string[]> {
  return s.collector ? (await s.collector.snapshot()).stuck : [];
}

export async function startServerApi(s: Ctx, o: { host: string; port: number }): Promise<{ app: FastifyInstance; port: number }> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  registerComputeRoutes(app, s.cluster);

  app.get('/health', async (_req, reply) => {
    const problems = await stuck(s);
    void reply.code(problems.length ? 503 : 200);
    return { status: problems.length ? 'stuck' : 'ok', stuck: problems };
  });

  app.get('/api/v1/status', async () => {
    const c = await s.collector?.snapshot();
    return {
      uptimeSeconds: Math.round((Date.now() - s.startedAt) / 1000),
      dataDir: s.config.dataDir,
      bus: { dir: s.busUrl, url: s.busServer.url },
      collector: c ? { enabled: true, name: s.config.collector.name, thrift: `${s.config.collector.host}:${s.config.collector.port}`, metrics: c.flume, stuck: c.stuck } : { enabled: false },
      topics: await topics(s),
      lag: await lag(s, s.groups()),
      topologies: s.cluster.summary().topologies,
      stores: { kv: s.config.stores.kv, archive: s.config.stores.archive, kvTables: s.kv.store.tableNames(), kvWrites: s.kv.store.writeStats() },
    };
  });

  app.get('/api/v1/collector/metrics', async () => {
    if (!s.collector) throw notFound('the collector is disabled (collector.enabled: false)');
    return (await s.collector.snapshot()).flume;
  });

  app.get('/api/v1/bus/topics', async () => ({ topics: await topics(s) }));

  app.get<{ Querystring: { group?: string } }>('/api/v1/bus/lag', async (req) => ({ groups: await lag(s, req.query.group ? [req.query.group] : s.groups()) }));

  const table = (name: string) => {
    if (!s.kv.store.tableNames().includes(name)) throw notFound(`no table ${JSON.stringify(name)} in the key-value store ${s.config.stores.kv}`);
    return s.kv.store.table(name);
  };

  app.get<{ Params: { table: string; rowkey: string }; Querystring: { family?: string; column?: string | string[] } }>('/api/v1/store/:table/row/:rowkey', async (req) => {
    const t = table(req.params.table);
    const columns = req.query.column === undefined ? undefined : ([] as string[]).concat(req.query.column);
    const cells = t.get(req.params.rowkey, { family: req.query.family, columns });
    if (cells.length === 0) throw notFound(`table ${req.params.table}: row ${JSON.stringify(req.params.rowkey)} has no cells`);
    return rowToJson({ row: Buffer.from(req.params.rowkey), cells });
  });

  app.get<{ Params: { table: string }; Querystring: { prefix?: string; start?: string; stop?: string; family?: string; limit?: string } }>('/api/v1/store/:table/scan', async (req) => {
    const t = table(req.params.table);
    const q = req.query;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > 10_000) throw badRequest(`limit must be a whole number 0..10000, got ${JSON.stringify(q.limit)}`);
    if (q.prefix !== undefined && (q.start !== undefined || q.stop !== undefined)) throw badRequest('give either prefix or start/stop, not both');
    return { rows: t.scan({ prefix: q.prefix, start: q.start, stop: q.stop, family: q.family, limit }).map(rowToJson) };
  });

  app.get<{ Params: { table: string }; Querystring: { prefix?: string } }>('/api/v1/store/:table/count', async (req) => ({ table: req.params.table, cells: table(req.params.table).count(req.query.prefix) }));

  app.get('/metrics', async (_req, reply) => {
    void reply.type('text/plain; version=0.0.4; charset=utf-8');
    const parts = [await prometheusText(s.cluster)];
    if (s.collector) parts.push((await s.collector.snapshot()).prometheus);
    parts.push(await busMetrics(s));
    parts.push(await kvMetrics(s));
    return parts.join('\n');
  });

  await app.listen({ host: o.host, port: o.port });
  return { app, port: (app.server.address() as { port: number }).port };
}

/** The key-value store's writes (KvStore.writeStats), as counters labelled with the store's directory. */
async function kvMetrics(s: Ctx): Promise<string> {
  const { Counter, Registry } = await import('prom-client');
  const reg = new Registry();
  const w = s.kv.store.writeStats();
  const labels = { store: s.config.stores.kv };
  const counter = (name: string, help: string, v: number) => new Counter({ name, help, labelNames: ['store'], registers: [reg] }).inc(labels, v);
  counter('monsoon_kv_commits_total', 'transactions the key-value store committed (one per written batch)', w.commits);
  counter('monsoon_kv_cells_written_total', 'cells in those transactions', w.cells);
  counter('monsoon_kv_commit_seconds_total', "time the store's writer thread spent in them: puts, commit and sync", w.commitSeconds);
  counter('monsoon_kv_write_failures_total', 'writes the writer did not commit (a refused cell, a failed commit, a lost writer thread)', w.failures);
  return reg.metrics();
}

async function busMetrics(s: Ctx): Promise<string> {
  const { Gauge, Registry } = await import('prom-client');
  const reg = new Registry();
  const earliest = new Gauge({ name: 'monsoon_bus_partition_earliest_offset', help: 'first offset still stored', labelNames: ['topic', 'partition'], registers: [reg] });
  const latest = new Gauge({ name: 'monsoon_bus_partition_latest_offset', help: 'next offset to be written (log end)', labelNames: ['topic', 'partition'], registers: [reg] });
  const lagG = new Gauge({ name: 'monsoon_bus_consumer_lag', help: 'records of a partition the group has not committed', labelNames: ['group', 'topic', 'partition'], registers: [reg] });
  for (const t of await topics(s)) {
    for (const p of t.partitions) {
      earliest.set({ topic: t.name, partition: String(p.partition) }, p.earliest);
      latest.set({ topic: t.name, partition: String(p.partition) }, p.latest);
    }
  }
  for (const g of await lag(s, s.groups())) for (const p of g.partitions) lagG.set({ group: g.group, topic: p.topic, partition: String(p.partition) }, p.lag);
  return reg.metrics();
}
