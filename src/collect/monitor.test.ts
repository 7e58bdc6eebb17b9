import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MetricsRegistry, SourceCounterNames } from '../core/metrics.js';
import { startMonitor } from './monitor.js';

it('serves Flume JSON at /metrics, Prometheus text at /prometheus and health at /health', async () => {
  const metrics = new MetricsRegistry('a1');
  const src = metrics.component('SOURCE', 'r1', SourceCounterNames);
  src.inc('EventAcceptedCount', 42);
  metrics.component('CHANNEL', 'c1').gauge('ChannelSize', () => 7);
  let stuck: string[] = [];
  const { server, port } = await startMonitor({ host: '127.0.0.1', port: 0, metrics, stuck: () => stuck });
  try {
    const json = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).json()) as Record<string, Record<string, string>>;
    assert.equal(json['SOURCE.r1']!.EventAcceptedCount, '42');
    assert.equal(json['SOURCE.r1']!.Type, 'SOURCE');
    assert.equal(json['CHANNEL.c1']!.ChannelSize, '7');
    const prom = await (await fetch(`http://127.0.0.1:${port}/prometheus`)).text();
    assert.match(prom, /monsoon_source_event_accepted_count\{agent="a1",component="r1"\} 42/);
    assert.match(prom, /monsoon_channel_channel_size\{agent="a1",component="c1"\} 7/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    stuck = ['channel c1'];
    const h = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(h.status, 503);
    assert.deepEqual(await h.json(), { status: 'stuck', stuck: ['channel c1'] });
  } finally {
    await server.close();
  }
});
