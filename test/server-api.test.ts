import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseServerConfig } from '../src/server/config.js';
import { startServer, type MonsoonServer } from '../src/server/server.js';
import { drain } from '../src/bus/conformance.js';
import { freePort, MONSOON_BIN } from './support/procs.js';
import { FileChannel } from '../src/collect/channels/file.js';
import { fileConfig } from '../src/collect/channels/file/test-support.js';
import { channelContext } from '../src/collect/testkit.js';
import { makeEvent } from '../src/core/event.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-server-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('server configuration', () => {
  it('starts from defaults alone', () => {
    const c = parseServerConfig(undefined, 'defaults', '/srv');
    assert.equal(c.dataDir, '/srv/monsoon-data');
    assert.deepEqual(c.http, { host: '127.0.0.1', port: 9393 });
    assert.equal(c.bus.port, 9392);
    assert.equal(c.bus.dir, '/srv/monsoon-data/bus');
    assert.equal(c.collector.port, 4141);
    assert.equal(c.collector.partitions, 4);
    assert.equal(c.stores.kv, '/srv/monsoon-data/kv');
  });

  it('names the key of every error', () => {
    const bad = { collector: { port: 'x', partitions: 0 }, bus: { prot: 1 }, topologies: [{ name: 'a b' }] };
    assert.throws(
      () => parseServerConfig(bad, 'm.yaml', '/'),
      (e: Error) => /m\.yaml: 5 configuration error/.test(e.message) && e.message.includes('collector.port:') && e.message.includes('collector.partitions:') && e.message.includes('bus.prot: unknown key') && e.message.includes('topologies[0].path:') && e.message.includes('topologies[0].name:'),
    );
  });

  it('resolves relative paths against the config file', () => {
    const c = parseServerConfig({ dataDir: 'data', stores: { archive: '/arch' }, topologies: [{ path: 't.js#build' }] }, 'm.yaml', '/etc/monsoon');
    assert.equal(c.dataDir, '/etc/monsoon/data');
    assert.equal(c.stores.archive, '/arch');
    assert.equal(c.topologies[0]!.path, '/etc/monsoon/t.js#build');
  });

  it('monsoon server exits 1 naming the key of a bad file', () => {
    const f = join(root, 'bad.yaml');
    writeFileSync(f, 'http:\n  port: 70000\n');
    const r = spawnSync(process.execPath, [MONSOON_BIN, 'server', '-c', f], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /http\.port:/);
  });
});

describe('server HTTP API', () => {
  let s: MonsoonServer;
  let base: string;
  before(async () => {
    const config = parseServerConfig({ dataDir: 'data', http: { port: 0 }, bus: { port: 0 }, collector: { port: 0, topic: 'calls', partitions: 3 } }, 'test', mkdtempSync(join(root, 'api-')));
    s = await startServer(config);
    base = `http://127.0.0.1:${s.httpPort}`;
    await s.kv.store.table('t').write([
      { row: 'abc1', family: 'content', qualifier: 'q1', value: 'v1' },
      { row: 'abc1', family: 'content', qualifier: 'q2', value: 'v2' },
      { row: 'abc2', family: 'content', qualifier: 'q1', value: 'v3' },
      { row: 'xyz', family: 'content', qualifier: 'q1', value: 'v4' },
    ]);
  });
  after(() => s.close());

  const get = async (path: string) => {
    const r = await fetch(base + path);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  it('answers /health', async () => {
    const r = await get('/health');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ok');
  });

  it('reports topics, the collector and topologies in /api/v1/status', async () => {
    const r = await get('/api/v1/status');
    assert.equal(r.status, 200);
    const topics = r.body.topics as { name: string; partitions: unknown[] }[];
    assert.equal(topics.find((t) => t.name === 'calls')?.partitions.length, 3);
    assert.equal((r.body.collector as { enabled: boolean }).enabled, true);
    assert.deepEqual(r.body.topologies, []);
    assert.equal((await get('/api/v1/topology/summary')).status, 200);
    assert.equal((await get('/api/v1/bus/topics')).status, 200);
    assert.ok('SOURCE.rpc' in (await get('/api/v1/collector/metrics')).body);
    const writes = (r.body.stores as { kvWrites: { commits: number; cells: number; commitSeconds: number; failures: number } }).kvWrites;
    assert.deepEqual({ ...writes, commitSeconds: writes.commitSeconds > 0 }, { commits: 1, cells: 4, commitSeconds: true, failures: 0 }, 'the write of the four cells above');
  });

  it('serves the embedded log over monsoon:// and names it in monsoon-bus.addr', async () => {
    const { readAddrFile } = await import('../src/bus/remote/addr.js');
    assert.deepEqual(await readAddrFile(s.busUrl), { host: '127.0.0.1', port: s.busServer.port });
  });

  it('looks up one row, 404 for a missing row or table', async () => {
    const r = await get('/api/v1/store/t/row/abc1');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { row: 'abc1', columns: { 'content:q1': 'v1', 'content:q2': 'v2' } });
    assert.deepEqual((await get('/api/v1/store/t/row/abc1?column=content:q2')).body.columns, { 'content:q2': 'v2' });
    assert.equal((await get('/api/v1/store/t/row/nope')).status, 404);
    const missing = await get('/api/v1/store/nosuch/row/abc1');
    assert.equal(missing.status, 404);
    assert.match(String(missing.body.errorMessage), /no table "nosuch"/);
  });

  it('scans by prefix with a limit and counts cells', async () => {
    const r = await get('/api/v1/store/t/scan?prefix=abc&limit=1');
    assert.deepEqual((r.body.rows as { row: string }[]).map((x) => x.row), ['abc1']);
    assert.deepEqual(((await get('/api/v1/store/t/scan?prefix=abc')).body.rows as { row: string }[]).map((x) => x.row), ['abc1', 'abc2']);
    assert.equal((await get('/api/v1/store/t/scan?limit=-1')).status, 400);
    assert.equal((await get('/api/v1/store/t/scan?prefix=a&start=b')).status, 400);
    assert.equal((await get('/api/v1/store/t/count')).body.cells, 4);
    assert.equal((await get('/api/v1/store/t/count?prefix=abc')).body.cells, 3);
  });

  it('exposes Prometheus text with bus offsets and collector counters', async () => {
    const r = await fetch(base + '/metrics');
    const text = await r.text();
    assert.equal(r.status, 200);
    assert.match(text, /monsoon_bus_partition_latest_offset\{topic="calls",partition="2"\} 0/);
    assert.match(text, /monsoon_kv_commits_total\{store="[^"]+"\} 1\n/);
    assert.match(text, /monsoon_kv_cells_written_total\{store="[^"]+"\} 4\n/);
    assert.match(text, /monsoon_kv_write_failures_total\{store="[^"]+"\} 0\n/);
    assert.match(text, /rpc/);
  });
});

describe('server collector thread', () => {
  it('runs a Flume collector file in its thread; a sink naming the log directory writes to the server log', async () => {
    const base = mkdtempSync(join(root, 'file-'));
    const port = await freePort();
    const file = join(base, 'collector.properties');
    writeFileSync(
      file,
      [
        'c.sources = h',
        'c.channels = m',
        'c.sinks = b',
        'c.sources.h.type = http',
        'c.sources.h.bind = 127.0.0.1',
        `c.sources.h.port = ${port}`,
        'c.sources.h.channels = m',
        'c.channels.m.type = memory',
        'c.sinks.b.type = embedded',
        'c.sinks.b.channel = m',
        `c.sinks.b.path = ${join(base, 'data', 'bus')}`,
        'c.sinks.b.topic = posted',
        '',
      ].join('\n'),
    );
    const config = parseServerConfig({ dataDir: 'data', http: { port: 0 }, bus: { port: 0, topics: [{ name: 'posted', partitions: 1 }] }, collector: { file, name: 'c' } }, 'test', base);
    const s = await startServer(config);
    try {
      const events = Array.from({ length: 20 }, (_, i) => ({ headers: { n: String(i) }, body: `event ${i}` }));
      const r = await fetch(`http://127.0.0.1:${port}`, { method: 'POST', body: JSON.stringify(events) });
      assert.equal(r.status, 200);
      const c = await s.bus.consumer('check', ['posted'], { from: 'earliest' });
      const got = await drain(c, 20, 100);
      assert.deepEqual(got.map((x) => x.value.toString()).sort(), events.map((e) => e.body).sort());
      await c.close();
      const metrics = (await (await fetch(`http://127.0.0.1:${s.httpPort}/api/v1/collector/metrics`)).json()) as Record<string, Record<string, string>>;
      assert.equal(metrics['SINK.b']?.EventDrainSuccessCount, '20');
    } finally {
      await s.close();
    }
  });

  it('refuses to start naming the key when the collector file is invalid, and leaves the data directory usable', async () => {
    const base = mkdtempSync(join(root, 'badfile-'));
    const file = join(base, 'collector.properties');
    writeFileSync(file, 'c.sources = h\nc.channels = m\nc.sinks = k\nc.sources.h.type = netcat\nc.sources.h.channels = m\nc.channels.m.type = memory\nc.sinks.k.type = logger\nc.sinks.k.channel = m\n');
    const bad = parseServerConfig({ dataDir: 'data', http: { port: 0 }, bus: { port: 0 }, collector: { file, name: 'c' } }, 'test', base);
    await assert.rejects(startServer(bad), (e: Error) => e.message.includes(file) && e.message.includes('c.sources.h.port'));
    const good = parseServerConfig({ dataDir: 'data', http: { port: 0 }, bus: { port: 0 }, collector: { port: 0 } }, 'test', base);
    const s = await startServer(good);
    await s.close();
  });
});

describe('server upgrade', () => {
  it("delivers what an earlier layout's collector file channel held into the topic, then sets it aside", async () => {
    const base = mkdtempSync(join(root, 'upgrade-'));
    const config = parseServerConfig({ dataDir: 'data', http: { port: 0 }, bus: { port: 0 }, collector: { port: 0, topic: 'calls', partitions: 2 } }, 'test', base);
    const legacy = join(config.collector.dataDir, 'channel');
    const fc = new FileChannel('fc', fileConfig({ checkpointDir: join(legacy, 'checkpoint'), dataDirs: join(legacy, 'data') }), channelContext('fc'));
    await fc.start();
    const tx = fc.transaction();
    tx.put(Array.from({ length: 250 }, (_, i) => makeEvent(`held ${i}`)));
    await tx.commit();
    await fc.halt(); // as after a crash of the earlier server
    const s = await startServer(config);
    try {
      const c = await s.bus.consumer('check', ['calls'], { from: 'earliest' });
      const got = (await drain(c, 250, 5000)).map((r) => r.value.toString()).sort();
      await c.close();
      assert.deepEqual(got, Array.from({ length: 250 }, (_, i) => `held ${i}`).sort());
    } finally {
      await s.close();
    }
    assert.equal(existsSync(legacy), false, 'the drained channel directory is set aside');
    assert.ok(readdirSync(config.collector.dataDir).some((n) => n.startsWith('channel.drained-')));
  });
});
