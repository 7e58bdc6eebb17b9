import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { startRedis, type RedisServer } from '../../../test/support/redis.js';
import { busConformance } from '../conformance.js';
import { keys } from './layout.js';
import { openRedisBus, type RedisBus } from './redis.js';

/** The shared conformance suite against a throwaway redis-server, plus Redis-specific checks. */
let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server?.stop();
});

busConformance(
  'Redis Streams',
  async () => {
    let bus: RedisBus = await openRedisBus(server.url, { retentionCheckMs: 0 });
    return {
      get bus() {
        return bus;
      },
      // The server keeps running: a new bus instance (a new connection) sees the same streams and offsets.
      reopen: async () => {
        await bus.close();
        bus = await openRedisBus(server.url, { retentionCheckMs: 0 });
        return bus;
      },
      cleanup: async () => {
        await bus.close();
      },
    };
  },
  { durable: true },
);

describe('Redis Streams bus specifics', () => {
  it('stores offset o under stream ID <o+1>-0 with the fields t, v, k, h', async () => {
    const bus = await openRedisBus(server.url, { retentionCheckMs: 0, prefix: 'layout' });
    const raw = createClient({ url: server.url });
    await raw.connect();
    try {
      await bus.admin.createTopic('ids', { partitions: 1 });
      await bus.produce('ids', [{ value: Buffer.from('a'), timestamp: 5 }, { value: Buffer.from('b'), key: Buffer.from('k'), headers: { x: 'y' }, timestamp: 6 }]);
      const entries = (await raw.xRange(keys.stream('layout', 'ids', 0), '-', '+')).map((e) => ({ id: e.id, message: { ...e.message } }));
      assert.deepEqual(entries, [
        { id: '1-0', message: { t: '5', v: 'a' } },
        { id: '2-0', message: { t: '6', v: 'b', k: 'k', h: '{"x":"y"}' } },
      ]);
      assert.equal(await raw.hGet(keys.meta('layout', 'ids'), 'next.0'), '2');
    } finally {
      raw.destroy();
      await bus.close();
    }
  });

  it('retention trims by record time (exact) and by size (approximate), offsets stay put', async () => {
    const bus = await openRedisBus(server.url, { retentionCheckMs: 0, prefix: 'ret' });
    try {
      await bus.admin.createTopic('old', { partitions: 1, retentionMs: 1000 });
      await bus.produce('old', [100, 200, 9_000, 9_500].map((timestamp) => ({ value: Buffer.from(String(timestamp)), timestamp })));
      await bus.admin.createTopic('big', { partitions: 1, retentionBytes: 64 * 1024 });
      for (let b = 0; b < 10; b++) await bus.produce('big', Array.from({ length: 100 }, () => ({ value: Buffer.alloc(1000, 1) })));
      assert.ok((await bus.enforceRetention(10_000)) > 0);
      assert.deepEqual((await bus.admin.describeTopic('old')).partitions[0], { partition: 0, earliest: 2, latest: 4 });
      const big = (await bus.admin.describeTopic('big')).partitions[0]!;
      assert.equal(big.latest, 1000);
      assert.ok(big.earliest > 500 && big.earliest < 1000, `about 64 KiB of 1 KB records kept, earliest ${big.earliest}`);
      const c = await bus.consumer('g', ['old'], { from: 'earliest' });
      const got = await c.poll(10, 1000);
      assert.deepEqual(got.flatMap((b) => b.records.map((r) => r.offset)), [2, 3]);
      await bus.produce('old', [{ value: Buffer.from('new'), timestamp: 10_000 }]);
      assert.deepEqual((await c.poll(10, 1000)).flatMap((b) => b.records.map((r) => r.offset)), [4]);
    } finally {
      await bus.close();
    }
  });

  it('with waitReplicas, a produce resolves once a replica has the records and fails retriably without one', async () => {
    const raw = createClient({ url: server.url });
    await raw.connect();
    await raw.configSet('repl-diskless-sync-delay', '0'); // the replica's first sync starts at once
    const replica = await startRedis(['--replicaof', '127.0.0.1', String(server.port)]);
    const bus = await openRedisBus(server.url, { retentionCheckMs: 0, prefix: 'wait', waitReplicas: 1, waitTimeoutMs: 10_000 });
    try {
      await bus.admin.createTopic('t', { partitions: 1 });
      assert.deepEqual(await bus.produce('t', [{ value: Buffer.from('a') }]), [{ partition: 0, offset: 0 }]);
      const lonely = await openRedisBus(server.url, { retentionCheckMs: 0, prefix: 'wait', waitReplicas: 2, waitTimeoutMs: 50 });
      await assert.rejects(lonely.produce('t', [{ value: Buffer.from('b') }]), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNAVAILABLE && e.retriable && /only 1 of 2 replicas/.test(e.message));
      await lonely.close();
    } finally {
      await bus.close();
      raw.destroy();
      await replica.stop();
    }
  });

  it('a topic re-created with another partition count is noticed by a bus that cached the old one', async () => {
    const a = await openRedisBus(server.url, { retentionCheckMs: 0, prefix: 'recreate' });
    const b = await openRedisBus(server.url, { retentionCheckMs: 0, prefix: 'recreate' });
    try {
      await a.admin.createTopic('t', { partitions: 2 });
      await a.produce('t', [{ value: Buffer.from('x'), key: Buffer.from('foobar') }]);
      await b.admin.deleteTopic('t');
      await assert.rejects(a.produce('t', [{ value: Buffer.from('x') }]), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNKNOWN_TOPIC);
      await b.admin.createTopic('t', { partitions: 7 });
      assert.deepEqual(await a.produce('t', [{ value: Buffer.from('y'), key: Buffer.from('foobar') }]), [{ partition: (-790332482 & 0x7fffffff) % 7, offset: 0 }]);
      await b.admin.deleteTopic('t');
      await b.admin.createTopic('t', { partitions: 3 });
      await assert.rejects(a.produce('t', [{ value: Buffer.from('z') }]), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNAVAILABLE && e.retriable && /re-created/.test(e.message));
      assert.equal((await a.produce('t', [{ value: Buffer.from('z'), key: Buffer.from('foobar') }]))[0]!.partition, (-790332482 & 0x7fffffff) % 3);
      assert.equal((await b.admin.describeTopic('t')).partitions.reduce((n, p) => n + p.latest, 0), 1, 'the refused produce wrote nothing');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('with appendfsync always, acknowledged records and commits survive kill -9 of the server', async () => {
    let srv = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
    let bus = await openRedisBus(srv.url, { retentionCheckMs: 0 });
    try {
      await bus.admin.createTopic('t', { partitions: 2 });
      const acked = await bus.produce('t', Array.from({ length: 500 }, (_, i) => ({ value: Buffer.from(`r${i}`), key: Buffer.from(`k${i}`) })));
      const c = await bus.consumer('g', ['t'], { from: 'earliest' });
      let n = 0;
      while (n < 500) for (const b of await c.poll(1000, 1000)) n += b.records.length;
      await c.commit([{ topic: 't', partition: 0, offset: 7 }]);
      const lag = await bus.lag('g');
      await bus.close();
      srv = await srv.restart();
      bus = await openRedisBus(srv.url, { retentionCheckMs: 0 });
      assert.deepEqual(await bus.lag('g'), lag);
      const d = await bus.admin.describeTopic('t');
      for (const p of [0, 1]) assert.equal(d.partitions[p]!.latest, acked.filter((o) => o.partition === p).length);
      assert.deepEqual((await bus.produce('t', [{ value: Buffer.from('next'), key: Buffer.from('k0') }]))[0]!.offset, acked.filter((o) => o.partition === acked[0]!.partition).length, 'offsets continue after the restart');
    } finally {
      await bus.close();
      await srv.stop();
    }
  });

  it('a produce to a closed or unreachable server fails retriably instead of hanging', async () => {
    const other = await startRedis();
    const bus = await openRedisBus(other.url, { retentionCheckMs: 0 });
    await bus.admin.createTopic('t', { partitions: 1 });
    await other.stop();
    await assert.rejects(bus.produce('t', [{ value: Buffer.from('x') }]), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNAVAILABLE && e.retriable);
    await bus.close();
    await assert.rejects(openRedisBus(other.url), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNAVAILABLE && /cannot reach/.test(e.message));
  });
});
