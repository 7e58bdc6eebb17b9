import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Bus } from '../bus.js';
import { busConformance, drain } from '../conformance.js';
import { openEmbeddedBus, type EmbeddedBus } from '../embedded/embedded.js';
import { serveBus, type BusServer } from '../remote/server.js';
import { openThreadBus, serveThreadBus } from './thread.js';

/** A thread bus whose two ends are in this thread: the port protocol is the same either way. */
async function threadBus(embedded: EmbeddedBus, server: BusServer): Promise<{ bus: Bus; close(): Promise<void> }> {
  const { port1, port2 } = new MessageChannel();
  serveThreadBus(embedded, port1);
  const bus = await openThreadBus(port2, server.url);
  return {
    bus,
    close: async () => {
      await bus.close();
      port1.close();
    },
  };
}

busConformance(
  'thread (fed over a MessagePort)',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-thread-'));
    const embedded = await openEmbeddedBus(dir, { segmentBytes: 256 * 1024 });
    const server = await serveBus(embedded);
    let t = await threadBus(embedded, server);
    return {
      get bus() {
        return t.bus;
      },
      reopen: async () => {
        await t.close();
        t = await threadBus(embedded, server);
        return t.bus;
      },
      cleanup: async () => {
        await t.close();
        await server.close();
        await embedded.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { durable: true },
);

const isCode = (code: string) => (e: unknown) => e instanceof MonsoonError && e.code === code;

describe('thread bus', () => {
  it('takes produces from a worker thread: large and small batches arrive whole, errors keep their codes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-thread-'));
    const embedded = await openEmbeddedBus(dir, { maxRecordBytes: 64 * 1024 });
    const server = await serveBus(embedded);
    try {
      await embedded.admin.createTopic('t', { partitions: 2 });
      const { port1, port2 } = new MessageChannel();
      serveThreadBus(embedded, port1);
      // The worker produces 3,000 records of 1 KB (batches whose memory is transferred) and 5 tiny
      // ones (cut from its buffer pool, so copied), then a record over the limit and a missing topic.
      const code = `
        const { workerData, parentPort } = require('node:worker_threads');
        (async () => {
          const { openThreadBus } = await import(${JSON.stringify(new URL('./thread.js', import.meta.url).href)});
          const bus = await openThreadBus(workerData.port, workerData.url);
          const out = { offsets: [], errors: [] };
          for (let b = 0; b < 3; b++) {
            const recs = Array.from({ length: 1000 }, (_, i) => ({ key: Buffer.from('k' + (b * 1000 + i)), value: Buffer.alloc(1024, 97 + b), headers: { n: String(b * 1000 + i) } }));
            out.offsets.push(...(await bus.produce('t', recs)));
          }
          for (let i = 0; i < 5; i++) out.offsets.push(...(await bus.produce('t', [{ value: Buffer.from('tiny' + i), headers: { n: 'tiny' + i } }])));
          for (const [topic, size] of [['t', 70 * 1024], ['missing', 10]]) {
            try { await bus.produce(topic, [{ value: Buffer.alloc(size) }]); } catch (e) { out.errors.push(e.code); }
          }
          out.topics = await bus.admin.listTopics();
          await bus.close();
          parentPort.postMessage(out);
        })().catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }));`;
      const worker = new Worker(code, { eval: true, workerData: { port: port2, url: server.url }, transferList: [port2] });
      const out = (await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      })) as { offsets: { partition: number; offset: number }[]; errors: string[]; topics: string[]; failed?: string };
      await worker.terminate();
      port1.close();
      assert.equal(out.failed, undefined, out.failed);
      assert.deepEqual(out.errors, [ErrorCodes.BUS_RECORD_TOO_LARGE, ErrorCodes.BUS_UNKNOWN_TOPIC]);
      assert.deepEqual(out.topics, ['t']);
      assert.equal(out.offsets.length, 3005);
      const c = await embedded.consumer('check', ['t'], { from: 'earliest' });
      const got = await drain(c, 3005, 100);
      assert.equal(got.length, 3005);
      const byN = new Map(got.map((r) => [r.headers.n!, r]));
      for (let i = 0; i < 3000; i++) {
        const r = byN.get(String(i))!;
        assert.equal(r.key?.toString(), `k${i}`);
        assert.equal(r.value.length, 1024);
        assert.equal(r.value[0], 97 + Math.floor(i / 1000));
        assert.deepEqual({ partition: r.partition, offset: r.offset }, out.offsets[i]);
      }
      for (let i = 0; i < 5; i++) assert.equal(byN.get(`tiny${i}`)!.value.toString(), `tiny${i}`);
      await c.close();
    } finally {
      await server.close();
      await embedded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses batches that are not whole encoded batches of the stated count', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-thread-'));
    const embedded = await openEmbeddedBus(dir);
    try {
      await embedded.admin.createTopic('t', { partitions: 1 });
      await assert.rejects(embedded.appendEncoded('t', [{ partition: 0, batches: [Buffer.alloc(40)], counts: [1] }]), isCode(ErrorCodes.BUS_INVALID_ARGUMENT));
      await assert.rejects(embedded.appendEncoded('t', [{ partition: 3, batches: [Buffer.alloc(40)], counts: [1] }]), isCode(ErrorCodes.BUS_INVALID_ARGUMENT));
      assert.equal((await embedded.admin.describeTopic('t')).partitions[0]!.latest, 0);
    } finally {
      await embedded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens again on the same port after a close, and fails at once (not never) once the port is closed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-thread-'));
    const embedded = await openEmbeddedBus(dir);
    const server = await serveBus(embedded);
    try {
      await embedded.admin.createTopic('t', { partitions: 1 });
      const { port1, port2 } = new MessageChannel();
      serveThreadBus(embedded, port1);
      const first = await openThreadBus(port2, server.url);
      assert.deepEqual(await first.produce('t', [{ value: Buffer.from('a') }]), [{ partition: 0, offset: 0 }]);
      await first.close();
      await assert.rejects(first.produce('t', [{ value: Buffer.from('x') }]), isCode(ErrorCodes.BUS_CLOSED));
      await new Promise((r) => setTimeout(r, 50));
      const second = await openThreadBus(port2, server.url);
      assert.deepEqual(await second.produce('t', [{ value: Buffer.from('b') }]), [{ partition: 0, offset: 1 }]);
      port1.close();
      await new Promise((r) => setTimeout(r, 50));
      const settled = await Promise.race([second.produce('t', [{ value: Buffer.from('c') }]).then(() => 'produced', (e: unknown) => (isCode(ErrorCodes.BUS_CLOSED)(e) ? 'closed' : String(e))), new Promise((r) => setTimeout(() => r('pending'), 2000))]);
      assert.equal(settled, 'closed');
      await second.close();
    } finally {
      await server.close();
      await embedded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('asks for the partition count again after a topic was recreated by someone else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-thread-'));
    const embedded = await openEmbeddedBus(dir);
    const server = await serveBus(embedded);
    try {
      await embedded.admin.createTopic('t', { partitions: 4 });
      const t = await threadBus(embedded, server);
      const keyed = (k: string) => ({ key: Buffer.from(k), value: Buffer.from(k) });
      await t.bus.produce('t', ['a', 'b', 'c', 'd', 'e', 'f'].map(keyed));
      await embedded.admin.deleteTopic('t');
      await embedded.admin.createTopic('t', { partitions: 1 });
      // The first produce after the change may fail (the count it knew is gone); the next one works.
      await t.bus.produce('t', ['a', 'b', 'c', 'd', 'e', 'f'].map(keyed)).catch((e: unknown) => assert.ok(isCode(ErrorCodes.BUS_INVALID_ARGUMENT)(e), String(e)));
      const got = await t.bus.produce('t', ['a', 'b', 'c', 'd', 'e', 'f'].map(keyed));
      assert.ok(got.every((o) => o.partition === 0));
      await t.close();
    } finally {
      await server.close();
      await embedded.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
