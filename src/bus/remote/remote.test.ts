import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Bus, BusRecord, Consumer } from '../bus.js';
import { busConformance, drain } from '../conformance.js';
import { openEmbeddedBus, type EmbeddedBus } from '../embedded/embedded.js';
import { openBus } from '../url.js';
import { writeAddrFile } from './addr.js';
import { openRemoteBus, type RemoteBus } from './client.js';
import { encodeFrame, ERROR_REPLY, FrameReader, Op, PROTOCOL_VERSION, REPLY, type Frame } from './protocol.js';
import { serveBus, type BusServer } from './server.js';

busConformance(
  'monsoon-loopback',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-loopback-'));
    const embedded = await openEmbeddedBus(dir, { segmentBytes: 256 * 1024 });
    const server = await serveBus(embedded);
    let bus: Bus = await openRemoteBus(server.host, server.port);
    return {
      get bus() {
        return bus;
      },
      reopen: async () => {
        await bus.close();
        bus = await openRemoteBus(server.host, server.port);
        return bus;
      },
      cleanup: async () => {
        await bus.close();
        await server.close();
        await embedded.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { durable: true },
);

const isCode = (code: string, retriable?: boolean) => (e: unknown) => e instanceof MonsoonError && e.code === code && (retriable === undefined || e.retriable === retriable);
const rec = (v: string, key?: string): BusRecord => ({ value: Buffer.from(v), key: key === undefined ? null : Buffer.from(key) });

async function served<T>(fn: (s: { dir: string; embedded: EmbeddedBus; server: BusServer; client: RemoteBus }) => Promise<T>, wrap: (b: Bus) => Bus = (b) => b, maxBufferedBytes?: number): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-loopback-'));
  const embedded = await openEmbeddedBus(dir);
  const server = await serveBus(wrap(embedded), maxBufferedBytes === undefined ? {} : { maxBufferedBytes });
  const client = await openRemoteBus(server.host, server.port);
  try {
    return await fn({ dir, embedded, server, client });
  } finally {
    await client.close();
    await server.close();
    await embedded.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A hand-driven protocol connection: raw frames in, frames out. */
async function raw(port: number): Promise<{ socket: Socket; send(id: number, op: number, header: unknown): void; next(): Promise<Frame> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const frames: Frame[] = [];
  const waiting: Array<(f: Frame) => void> = [];
  const reader = new FrameReader();
  socket.on('data', (d: Buffer) => reader.push(d, (f) => (waiting.length > 0 ? waiting.shift()!(f) : frames.push(f))));
  return {
    socket,
    send: (id, op, header) => {
      for (const p of encodeFrame(id, op, header)) socket.write(p);
    },
    next: () => (frames.length > 0 ? Promise.resolve(frames.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

const closed = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

describe('monsoon:// loopback protocol', () => {
  it('keeps error codes and the retriable flag across the wire', async () => {
    let failNext = false;
    const flaky = (b: Bus): Bus =>
      Object.assign(Object.create(b) as Bus, {
        produce: async (topic: string, records: BusRecord[]) => {
          if (failNext) throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `the disk under ${topic} is busy`, { retriable: true });
          return b.produce(topic, records);
        },
      });
    await served(async ({ client }) => {
      await client.admin.createTopic('t', { partitions: 1 });
      await assert.rejects(client.admin.createTopic('t', { partitions: 1 }), (e: unknown) => isCode(ErrorCodes.BUS_TOPIC_EXISTS, false)(e) && /t/.test((e as Error).message));
      await assert.rejects(client.produce('nope', [rec('x')]), isCode(ErrorCodes.BUS_UNKNOWN_TOPIC, false));
      await assert.rejects(client.produce('t', [{ value: 'not a buffer' as unknown as Buffer }]), isCode(ErrorCodes.BUS_INVALID_ARGUMENT, false));
      failNext = true;
      await assert.rejects(client.produce('t', [rec('x')]), (e: unknown) => isCode(ErrorCodes.BUS_UNAVAILABLE, true)(e) && (e as Error).message === 'the disk under t is busy');
      failNext = false;
      assert.deepEqual(await client.produce('t', [rec('y')]), [{ partition: 0, offset: 0 }]);
      const c = await client.consumer('g', ['t'], { from: 'earliest' });
      await assert.rejects(c.poll(0, 10), isCode(ErrorCodes.BUS_INVALID_ARGUMENT, false));
      await assert.rejects(c.commit([{ topic: 't', partition: 3, offset: 0 }]), isCode(ErrorCodes.BUS_NOT_ASSIGNED, false));
      await c.close();
      await assert.rejects(c.poll(1, 10), isCode(ErrorCodes.BUS_CLOSED, false));
    }, flaky);
  });

  it('answers a HELLO of another protocol version with MON_ERR_BUS_UNSUPPORTED and drops a client that skips HELLO', async () => {
    await served(async ({ server }) => {
      const a = await raw(server.port);
      a.send(1, Op.HELLO, { version: PROTOCOL_VERSION + 1 });
      const f = await a.next();
      assert.equal(f.op, ERROR_REPLY);
      assert.equal(f.id, 1);
      assert.equal(f.header.code, ErrorCodes.BUS_UNSUPPORTED);
      assert.match(String(f.header.message), new RegExp(`version ${PROTOCOL_VERSION}\\b`));
      await closed(a.socket);
      const b = await raw(server.port);
      b.send(1, Op.LIST_TOPICS, {});
      await closed(b.socket);
      const c = await raw(server.port);
      c.send(7, Op.HELLO, { version: PROTOCOL_VERSION });
      c.send(8, Op.LIST_TOPICS, {}); // pipelined behind the HELLO
      c.send(9, 0x7e, {});
      // Replies come as requests finish, not necessarily in request order; ids match them up.
      const replies = [await c.next(), await c.next(), await c.next()].sort((x, y) => x.id - y.id);
      assert.deepEqual(replies.map((x) => [x.id, x.op, x.header.code]), [
        [7, REPLY | Op.HELLO, undefined],
        [8, REPLY | Op.LIST_TOPICS, undefined],
        [9, ERROR_REPLY, ErrorCodes.BUS_UNSUPPORTED],
      ]);
      c.socket.destroy();
      const d = await raw(server.port);
      d.send(1, Op.HELLO, { version: PROTOCOL_VERSION });
      await d.next();
      d.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, Op.LIST_TOPICS])); // a frame longer than the protocol allows
      await closed(d.socket);
      const e = await raw(server.port);
      e.send(1, Op.HELLO, { version: PROTOCOL_VERSION });
      e.send(2, Op.PRODUCE, { topic: 'x', count: 5 }); // five records claimed, no payload
      const replies2 = [await e.next(), await e.next()].sort((x, y) => x.id - y.id);
      assert.equal(replies2[1]!.header.code, ErrorCodes.BUS_INVALID_ARGUMENT);
      e.socket.destroy();
    });
  });

  it('ends a consumer’s group membership with its connection: the other member takes over from the committed offset', async () => {
    await served(async ({ server, client }) => {
      await client.admin.createTopic('t', { partitions: 2 });
      for (let b = 0; b < 2; b++) await client.produce('t', Array.from({ length: 10 }, (_, i) => rec(`b${b}-${i}`)));
      // The first member, on a raw connection, commits 3 on both partitions and then vanishes.
      const r = await raw(server.port);
      r.send(1, Op.HELLO, { version: PROTOCOL_VERSION });
      await r.next();
      r.send(2, Op.CONSUMER_OPEN, { group: 'g', topics: ['t'], from: 'earliest' });
      const opened = await r.next();
      assert.equal(opened.op, REPLY | Op.CONSUMER_OPEN);
      assert.equal((opened.header.assignment as unknown[]).length, 2);
      r.send(3, Op.COMMIT, { consumer: opened.header.consumer, offsets: [0, 1].map((partition) => ({ topic: 't', partition, offset: 3 })) });
      assert.equal((await r.next()).op, REPLY | Op.COMMIT);
      const c = await client.consumer('g', ['t'], { from: 'earliest' });
      const until = async (cond: () => boolean, what: string, got: string[] = []) => {
        const end = Date.now() + 15_000;
        while (!cond()) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
          for (const b of await c.poll(100, 50)) got.push(...b.records.map((x) => `${x.partition}/${x.offset}`));
        }
        return got;
      };
      await until(() => c.assignment().length === 1, 'a 1/1 split');
      r.socket.destroy();
      const got = await until(() => c.assignment().length === 2, 'the survivor to own both partitions');
      got.push(...(await drain(c, 14 - got.length, 500)).map((x) => `${x.partition}/${x.offset}`));
      assert.deepEqual(got.sort(), [0, 1].flatMap((p) => [3, 4, 5, 6, 7, 8, 9].map((o) => `${p}/${o}`)).sort(), 'both partitions from offset 3, once each');
    });
  });

  it('fails requests in flight with a retriable MON_ERR_BUS_UNAVAILABLE when the server goes, and reconnects for the next call', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-loopback-'));
    let embedded = await openEmbeddedBus(dir);
    let server = await serveBus(embedded);
    const port = server.port;
    const client = await openRemoteBus('127.0.0.1', port);
    let c: Consumer | undefined;
    try {
      await client.admin.createTopic('t', { partitions: 1 });
      c = await client.consumer('g', ['t'], { from: 'earliest' });
      const waiting = c.poll(10, 30_000).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 50));
      await server.close();
      await embedded.close();
      assert.ok(isCode(ErrorCodes.BUS_UNAVAILABLE, true)(await waiting), 'the poll in flight fails, retriable');
      assert.deepEqual(c.assignment(), []);
      await assert.rejects(c.commit(), isCode(ErrorCodes.BUS_UNAVAILABLE, true));
      await assert.rejects(client.produce('t', [rec('x')]), isCode(ErrorCodes.BUS_UNAVAILABLE, true));
      embedded = await openEmbeddedBus(dir);
      server = await serveBus(embedded, { port });
      assert.deepEqual(await client.produce('t', [rec('after')]), [{ partition: 0, offset: 0 }]);
      await assert.rejects(c.poll(1, 10), isCode(ErrorCodes.BUS_UNAVAILABLE, true), 'a consumer does not outlive its connection');
      await c.close();
      const c2 = await client.consumer('g', ['t'], { from: 'earliest' });
      assert.deepEqual((await drain(c2, 1)).map((x) => x.value.toString()), ['after']);
    } finally {
      await client.close();
      await server.close();
      await embedded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops reading a connection while the bytes it has buffered exceed the bound', async () => {
    let gate!: () => void;
    const opened = new Promise<void>((r) => (gate = r));
    let arrived = 0;
    const slow = (b: Bus): Bus =>
      Object.assign(Object.create(b) as Bus, {
        produce: async (topic: string, records: BusRecord[]) => {
          arrived++;
          await opened;
          return b.produce(topic, records);
        },
      });
    await served(
      async ({ client }) => {
        await client.admin.createTopic('t', { partitions: 1 });
        const mb = Buffer.alloc(1024 * 1024, 7);
        const all = Array.from({ length: 30 }, () => client.produce('t', [{ value: mb }]));
        await new Promise((r) => setTimeout(r, 500));
        assert.ok(arrived >= 1 && arrived <= 3, `with 2 MiB allowed and produces held, the server took ${arrived} of 30 1 MiB requests`);
        gate();
        const offsets = (await Promise.all(all)).map((o) => o[0]!.offset);
        assert.deepEqual(offsets, offsets.map((_, i) => i), 'every produce landed, in the order sent');
        assert.equal(arrived, 30);
      },
      slow,
      2 * 1024 * 1024,
    );
  });

  it('opens a directory held by a serving process over monsoon://, and ignores an address left by a dead one', async () => {
    await served(async ({ dir, server }) => {
      await assert.rejects(openBus(dir), isCode(ErrorCodes.BUS_LOCKED), 'no address file: the lock holder is not serving');
      await writeAddrFile(dir, server.host, server.port);
      const viaDir = await openBus(dir);
      try {
        await viaDir.admin.createTopic('from-dir', { partitions: 1 });
        assert.deepEqual(await viaDir.admin.listTopics(), ['from-dir']);
      } finally {
        await viaDir.close();
      }
    });
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-loopback-'));
    try {
      await writeAddrFile(dir, '127.0.0.1', 1);
      const bus = await openBus(dir); // nobody holds the lock: the embedded log opens here
      await bus.close();
      await assert.rejects(import('node:fs/promises').then((fs) => fs.access(join(dir, 'monsoon-bus.addr'))), 'the stale address file is removed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
