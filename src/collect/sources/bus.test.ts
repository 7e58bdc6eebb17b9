import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Bus } from '../../bus/bus.js';
import { resolveComponent, validateComponent, type AnySpec } from '../../core/config/component.js';
import { ORIGIN_HEADER, SEQ_HEADER } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { encodeAvroEvent } from '../bus/avro-event.js';
import { acquireBus, type BusHandle } from '../../bus/shared.js';
import '../builtins.js';
import { RecordingProcessor, scratchDir, sourceContext, waitUntil } from '../testkit.js';
import { BusSource, type BusSourceOptions } from './bus.js';
import { openEmbeddedBus } from '../../bus/embedded/embedded.js';
import { serveBus } from '../../bus/remote/server.js';
import { makeEvent, SequenceStamper } from '../../core/event.js';
import { BusSink } from '../sinks/bus.js';
import { memoryChannel, sinkContext } from '../testkit.js';

const opts = (url: string, o: Partial<BusSourceOptions> = {}): BusSourceOptions => ({
  url,
  topics: ['in'],
  refreshMs: 10_000,
  group: 'g1',
  batchSize: 100,
  batchDurationMillis: 50,
  useFlumeEventFormat: false,
  setTopicHeader: true,
  topicHeader: 'topic',
  from: 'earliest',
  partitions: 1,
  ...o,
});

async function withLog(fn: (url: string, h: BusHandle) => Promise<void>): Promise<void> {
  const url = join(scratchDir('bus-'), 'log');
  const h = await acquireBus(url, silentLogger); // shared with the sources under test, as in one agent
  try {
    await fn(url, h);
  } finally {
    await h.release();
  }
}

const committed = async (bus: Bus, group: string) => (await bus.lag(group)).map((l) => l.committed);

describe('bus source', () => {
  it('puts records with Flume headers and identities, and commits the group offsets after the channel', async () => {
    await withLog(async (url, { bus }) => {
      await bus.admin.createTopic('in', { partitions: 2 });
      await bus.produce('in', [
        { value: Buffer.from('a'), key: Buffer.from('k1'), partition: 0, timestamp: 1_700_000_000_000 },
        { value: Buffer.from('b'), partition: 1, headers: { [ORIGIN_HEADER]: 'up/r1', [SEQ_HEADER]: '7', timestamp: '5' } },
        { value: Buffer.from('c'), partition: 0 },
      ]);
      const p = new RecordingProcessor();
      p.failNext = 50; // the channel is full for a while (≥ 10 ms per retry): nothing may be committed on the bus meanwhile
      const src = new BusSource(opts(url), sourceContext('r1', p));
      await src.start();
      try {
        await waitUntil(() => p.failNext <= 40, 10_000, 'the full channel to be retried');
        assert.deepEqual(await committed(bus, 'g1'), [null, null]);
        await waitUntil(() => p.events.length === 3, 10_000, '3 events');
        await waitUntil(async () => (await committed(bus, 'g1')).join() === '2,1', 10_000, 'offsets committed');
        const byBody = new Map(p.events.map((e) => [e.body.toString(), e.headers]));
        assert.deepEqual(byBody.get('a'), { topic: 'in', partition: '0', offset: '0', key: 'k1', timestamp: '1700000000000', [ORIGIN_HEADER]: `${url}#in/0`, [SEQ_HEADER]: '0' });
        assert.deepEqual(byBody.get('b'), { topic: 'in', partition: '1', offset: '0', timestamp: '5', [ORIGIN_HEADER]: 'up/r1', [SEQ_HEADER]: '7' });
        assert.equal(byBody.get('c')![SEQ_HEADER], '1');
        assert.match(p.markers.get('bus:r1')!, /"next":\[.*\["in",0,2\]/);
      } finally {
        await src.stop();
      }
    });
  });

  it('skips records a committed channel marker covers when the group offsets were not committed (crash between the two)', async () => {
    await withLog(async (url, { bus }) => {
      await bus.admin.createTopic('in', { partitions: 1 });
      await bus.produce('in', Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(String(i)) })));
      const p = new RecordingProcessor();
      p.markers.set('bus:r1', JSON.stringify({ url, group: 'g1', next: [['in', 0, 6]] }));
      const src = new BusSource(opts(url), sourceContext('r1', p));
      await src.start();
      try {
        await waitUntil(() => p.events.length === 4, 10_000, '4 events');
        await waitUntil(async () => (await committed(bus, 'g1')).join() === '10', 10_000, 'offset 10 committed');
        assert.deepEqual(p.bodies(), ['6', '7', '8', '9']);
      } finally {
        await src.stop();
      }
    });
  });

  it('subscribes by pattern to whole topic names, picks up new topics, and decodes Flume Avro events', async () => {
    await withLog(async (url, { bus }) => {
      for (const t of ['logs.a', 'logs.b', 'xlogs.c']) {
        await bus.admin.createTopic(t, { partitions: 1 });
        await bus.produce(t, [{ value: encodeAvroEvent({ headers: { from: t }, body: Buffer.from(`in ${t}`) }) }]);
      }
      const p = new RecordingProcessor();
      const src = new BusSource(opts(url, { topics: [], pattern: /^(?:logs\..*)$/, refreshMs: 100, useFlumeEventFormat: true, topicHeader: 't' }), sourceContext('r1', p));
      await src.start();
      try {
        await waitUntil(() => p.events.length === 2, 10_000, '2 events');
        await bus.admin.createTopic('logs.new', { partitions: 1 });
        await bus.produce('logs.new', [{ value: encodeAvroEvent({ headers: { from: 'logs.new' }, body: Buffer.from('in logs.new') }) }]);
        await waitUntil(() => p.events.length === 3, 10_000, 'the event of the new topic');
        assert.deepEqual(p.bodies().sort(), ['in logs.a', 'in logs.b', 'in logs.new']);
        for (const e of p.events) assert.equal(e.headers.t, e.headers.from);
      } finally {
        await src.stop();
      }
    });
  });
});

describe('bus sink and source over monsoon://', () => {
  it('an embedded log served by another process is written and read by URL, identities kept', async () => {
    const log = await openEmbeddedBus(join(scratchDir('served-'), 'log'));
    const server = await serveBus(log);
    try {
      const channel = memoryChannel();
      await channel.start();
      const events = Array.from({ length: 50 }, (_, i) => makeEvent(`served ${i}`));
      new SequenceStamper('h/a1/r9').stamp(events);
      const tx = channel.transaction();
      tx.put(events);
      await tx.commit();
      const sink = new BusSink('k1', { url: server.url, topic: 'served', batchSize: 100, allowTopicOverride: false, topicHeader: 'topic', useFlumeEventFormat: false, partitions: 2 }, sinkContext('k1', channel));
      await sink.start();
      assert.equal(await sink.process(), 'READY');
      await sink.stop();
      const p = new RecordingProcessor();
      const src = new BusSource(opts(server.url, { topics: ['served'] }), sourceContext('r1', p));
      await src.start();
      try {
        await waitUntil(() => p.events.length === 50, 10_000, '50 events');
      } finally {
        await src.stop();
      }
      assert.deepEqual(p.events.map((e) => e.headers[SEQ_HEADER]).sort((a, b) => Number(a) - Number(b)), events.map((_, i) => String(i)));
      assert.ok(p.events.every((e) => e.headers[ORIGIN_HEADER] === 'h/a1/r9'));
      assert.deepEqual((await log.lag('g1')).map((l) => l.lag), [0, 0]);
    } finally {
      await server.close();
      await log.close();
    }
  });
});

describe('bus source configuration', () => {
  const validate = (type: string, raw: Record<string, string>) => {
    const r = resolveComponent('source', type);
    assert.ok('spec' in r, JSON.stringify(r));
    return validateComponent((r as { spec: AnySpec }).spec, { type, ...raw }, 'a1.sources.r1');
  };

  it('accepts old Kafka source names with a warning, and says that migrateZookeeperOffsets is ignored', () => {
    const v = validate('org.apache.flume.source.kafka.KafkaSource', { 'kafka.bootstrap.servers': 'h:9092', topic: 'a,b', groupId: 'old', migrateZookeeperOffsets: 'true' });
    const warned = new Map(v.warnings.map((w) => [w.key, w.message]));
    assert.match(warned.get('a1.sources.r1.topic')!, /deprecated; use a1\.sources\.r1\.kafka\.topics/);
    assert.match(warned.get('a1.sources.r1.groupId')!, /use a1\.sources\.r1\.kafka\.consumer\.group\.id/);
    assert.match(warned.get('a1.sources.r1.migrateZookeeperOffsets')!, /is ignored: .*ZooKeeper/);
    const spec = (resolveComponent('source', 'kafka') as { spec: AnySpec }).spec;
    const c = spec.schema.parse({ 'kafka.bootstrap.servers': 'h:9092', 'kafka.topics': 'a,b', 'kafka.consumer.group.id': 'old' }) as Record<string, unknown>;
    assert.deepEqual([c['kafka.topics'], c['kafka.consumer.group.id'], c.batchSize, c.batchDurationMillis, c['kafka.consumer.auto.offset.reset']], [['a', 'b'], 'old', 1000, 1000, 'latest']);
  });

  it('requires topics or a pattern, not both, and refuses auto.offset.reset = none', () => {
    const dir = scratchDir('p-');
    assert.match(validate('bus', { 'bus.url': dir }).errors[0]!.message, /is required \(or topics\.regex\)/);
    assert.match(validate('bus', { 'bus.url': dir, topics: 'a', 'topics.regex': 'a.*' }).errors[0]!.message, /cannot be combined with topics/);
    assert.deepEqual(validate('embedded', { path: dir, 'topics.regex': 'a.*' }).errors, []);
    const none = validate('kafka', { 'kafka.bootstrap.servers': 'h:9092', 'kafka.topics': 'a', 'kafka.consumer.auto.offset.reset': 'none' });
    assert.ok(none.errors.some((e) => e.key === 'a1.sources.r1.kafka.consumer.auto.offset.reset'));
  });
});
