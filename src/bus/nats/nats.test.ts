import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { startNats, type NatsServer } from '../../../test/support/nats.js';
import { busConformance } from '../conformance.js';
import type { BusRecord } from '../bus.js';
import { openNatsBus, type NatsBus } from './nats.js';

/** The shared conformance suite against a throwaway nats-server (JetStream on), plus NATS-specific checks. */
let server: NatsServer;
before(async () => {
  server = await startNats();
});
after(async () => {
  await server?.stop();
});

busConformance(
  'NATS JetStream',
  async () => {
    let bus: NatsBus = await openNatsBus(server.url);
    return {
      get bus() {
        return bus;
      },
      // The server keeps running: a new bus instance (a new connection) sees the same streams and KV buckets.
      reopen: async () => {
        await bus.close();
        bus = await openNatsBus(server.url);
        return bus;
      },
      cleanup: async () => {
        await bus.close();
      },
    };
  },
  { durable: true },
);

const isCode = (code: string, re?: RegExp) => (e: unknown) => e instanceof MonsoonError && e.code === code && (!re || re.test(e.message));

/** Retries a retriable failure (a reconnect in progress) for up to 20 s. */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + 20_000;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof MonsoonError && e.retriable) || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const rec = (value: string, key?: string): BusRecord => ({ value: Buffer.from(value), key: key === undefined ? null : Buffer.from(key) });

describe('NATS JetStream bus specifics', () => {
  it('stores offset o as stream sequence o + 1 of the partition stream, with key, timestamp and headers as NATS headers', async () => {
    const bus = await openNatsBus(`${server.url}?prefix=layout`);
    const nc = await connect({ servers: server.url });
    try {
      await bus.admin.createTopic('cdr.eu', { partitions: 1 });
      await bus.produce('cdr.eu', [
        { value: Buffer.from('a'), timestamp: 5 },
        { value: Buffer.from('b'), key: Buffer.from([0, 255]), headers: { x: 'y', 'sp ace:ä%': ' v\r\n ü ' }, timestamp: 6 },
      ]);
      const stream = await bus.streamOf('cdr.eu', 0);
      assert.match(stream, /^layout-cdr_eu-[0-9a-f]{12}-0$/);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream);
      assert.equal(info.config.storage, 'file');
      assert.deepEqual([info.state.first_seq, info.state.last_seq], [1, 2]);
      const m = (await jsm.streams.getMessage(stream, { seq: 2 }))!;
      assert.equal(m.subject, `layout.${stream.split('-')[2]}.0`);
      assert.equal(Buffer.from(m.data).toString(), 'b');
      assert.equal(m.header.get('Monsoon-Ts'), '6');
      assert.equal(m.header.get('Monsoon-Key'), 'AP8=');
      assert.equal(m.header.get('H-x'), 'y');
      assert.equal(m.header.get('H-sp%20ace%3A%C3%A4%25'), '%20v%0D%0A%20%C3%BC%20');
      const c = await bus.consumer('g', ['cdr.eu'], { from: 'earliest' });
      const got = (await c.poll(10, 2000)).flatMap((b) => b.records);
      assert.deepEqual(got.map((r) => [r.offset, r.key && [...r.key], r.headers, r.timestamp]), [
        [0, null, {}, 5],
        [1, [0, 255], { x: 'y', 'sp ace:ä%': ' v\r\n ü ' }, 6],
      ]);
      const kv = await new Kvm(nc).open('layout-topics');
      assert.equal((await kv.get('cdr=eu'))!.json<{ partitions: number }>().partitions, 1);
    } finally {
      await nc.close();
      await bus.close();
    }
  });

  it('rejects a record larger than the server accepts as BUS_RECORD_TOO_LARGE, writing nothing', async () => {
    const bus = await openNatsBus(server.url);
    try {
      await bus.admin.createTopic('big', { partitions: 1 });
      await assert.rejects(bus.produce('big', [rec('ok'), { value: Buffer.alloc(1024 * 1024) }]), isCode(ErrorCodes.BUS_RECORD_TOO_LARGE, /record 1 is \d+ bytes .*max_payload is 1048576/));
      assert.equal((await bus.admin.describeTopic('big')).partitions[0]!.latest, 0);
    } finally {
      await bus.close();
    }
  });

  it('retentionMs and retentionBytes become the streams\' max_age and max_bytes; offsets stay put', async () => {
    const bus = await openNatsBus(server.url);
    const nc = await connect({ servers: server.url });
    try {
      await bus.admin.createTopic('aging', { partitions: 1, retentionMs: 1000 });
      await bus.admin.createTopic('sized', { partitions: 1, retentionBytes: 64 * 1024 });
      const info = await (await jetstreamManager(nc)).streams.info(await bus.streamOf('aging', 0));
      assert.equal(info.config.max_age, 1_000_000_000);
      await bus.produce('aging', [rec('a'), rec('b')]);
      const early = await bus.consumer('behind', ['sized'], { from: 'earliest' });
      await early.commit([{ topic: 'sized', partition: 0, offset: 0 }]);
      await early.close();
      for (let b = 0; b < 10; b++) await bus.produce('sized', Array.from({ length: 100 }, () => ({ value: Buffer.alloc(1000, 1) })));
      const sized = (await bus.admin.describeTopic('sized')).partitions[0]!;
      assert.equal(sized.latest, 1000);
      assert.ok(sized.earliest > 900 && sized.earliest < 1000, `about 64 KiB of 1 KB records kept, earliest ${sized.earliest}`);
      // A group committed at 0 now reads from the log start: the gap is retention's, not a skip.
      const behind = await bus.consumer('behind', ['sized'], { from: 'earliest' });
      const got: number[] = [];
      for (let more = await behind.poll(1000, 5000); more.length > 0; more = await behind.poll(1000, 500)) got.push(...more.flatMap((b) => b.records.map((r) => r.offset)));
      assert.deepEqual(got, Array.from({ length: 1000 - sized.earliest }, (_, i) => sized.earliest + i));
      await behind.close();
      const end = Date.now() + 15_000;
      while ((await bus.admin.describeTopic('aging')).partitions[0]!.earliest < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual((await bus.admin.describeTopic('aging')).partitions[0], { partition: 0, earliest: 2, latest: 2 });
      assert.deepEqual(await bus.produce('aging', [rec('c')]), [{ partition: 0, offset: 2 }], 'offsets continue after everything expired');
    } finally {
      await nc.close();
      await bus.close();
    }
  });

  it('a topic re-created with another partition count is noticed by a bus that cached the old one', async () => {
    const a = await openNatsBus(server.url);
    const b = await openNatsBus(server.url);
    try {
      await a.admin.createTopic('again', { partitions: 2 });
      await a.produce('again', [rec('x', 'foobar')]);
      await b.admin.deleteTopic('again');
      await assert.rejects(a.produce('again', [rec('x')]), isCode(ErrorCodes.BUS_UNKNOWN_TOPIC));
      await b.admin.createTopic('again', { partitions: 7 });
      assert.deepEqual(await a.produce('again', [rec('y', 'foobar')]), [{ partition: (-790332482 & 0x7fffffff) % 7, offset: 0 }]);
      await b.admin.deleteTopic('again');
      await b.admin.createTopic('again', { partitions: 3 });
      await assert.rejects(a.produce('again', [rec('z')]), (e: unknown) => isCode(ErrorCodes.BUS_UNAVAILABLE, /created again/)(e) && (e as MonsoonError).retriable);
      assert.equal((await a.produce('again', [rec('z', 'foobar')]))[0]!.partition, (-790332482 & 0x7fffffff) % 3);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('acknowledged records and committed offsets survive kill -9 of the server', async () => {
    const srv = await startNats();
    let bus = await openNatsBus(srv.url, { requestTimeoutMs: 2000 });
    try {
      await bus.admin.createTopic('t', { partitions: 2 });
      const acked = (await Promise.all(Array.from({ length: 10 }, (_, b) => bus.produce('t', Array.from({ length: 500 }, (_, i) => rec(`r${b}-${i}`, `k${i}`)))))).flat();
      const c = await bus.consumer('g', ['t'], { from: 'earliest' });
      await c.commit([{ topic: 't', partition: 0, offset: 7 }]);
      const lag = await bus.lag('g');
      await c.close();
      await srv.restart(); // SIGKILL, then the same store directory
      // The open bus reconnects by itself; a new one sees the same state.
      assert.deepEqual(await retrying(() => bus.lag('g')), lag);
      await bus.close();
      bus = await openNatsBus(srv.url);
      assert.deepEqual(await bus.lag('g'), lag);
      const d = await bus.admin.describeTopic('t');
      for (const p of [0, 1]) assert.equal(d.partitions[p]!.latest, acked.filter((o) => o.partition === p).length);
      assert.equal((await bus.produce('t', [rec('next', 'k0')]))[0]!.offset, acked.filter((o) => o.partition === acked[0]!.partition).length, 'offsets continue after the restart');
    } finally {
      await bus.close();
      await srv.stop();
    }
  });

  it('a produce to a server that went away fails retriably instead of hanging', async () => {
    const srv = await startNats();
    const bus = await openNatsBus(srv.url, { requestTimeoutMs: 1000 });
    try {
      await bus.admin.createTopic('t', { partitions: 1 });
      await srv.kill9();
      await assert.rejects(bus.produce('t', [rec('x')]), (e: unknown) => isCode(ErrorCodes.BUS_UNAVAILABLE, /no acknowledgement within 1000 ms/)(e) && (e as MonsoonError).retriable);
    } finally {
      await bus.close();
      await srv.stop();
    }
  });

  it('replicas=3 on a lone server is refused as an invalid argument naming the cluster it needs', async () => {
    await assert.rejects(openNatsBus(`${server.url}?replicas=3&prefix=r3`), isCode(ErrorCodes.BUS_INVALID_ARGUMENT, /KV bucket r3-topics: .*replicas=3 needs a JetStream cluster/));
    // Buckets made by a replicas=1 bus are used as they are; the topic's streams are refused.
    await (await openNatsBus(server.url)).close();
    const bus = await openNatsBus(`${server.url}?replicas=3`);
    try {
      await assert.rejects(bus.admin.createTopic('r3', { partitions: 1 }), isCode(ErrorCodes.BUS_INVALID_ARGUMENT, /replicas=3 needs a JetStream cluster/));
      assert.ok(!(await bus.admin.listTopics()).includes('r3'), 'the refused topic is not left behind');
    } finally {
      await bus.close();
    }
  });

  it('an unreachable server is a retriable MON_ERR_BUS_UNAVAILABLE', async () => {
    await assert.rejects(openNatsBus('nats://127.0.0.1:1'), (e: unknown) => isCode(ErrorCodes.BUS_UNAVAILABLE, /cannot reach the NATS bus/)(e) && (e as MonsoonError).retriable);
  });
});
