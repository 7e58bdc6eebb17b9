import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MonsoonError } from '../src/core/errors.js';
import type { BusRecord } from '../src/bus/bus.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { openNatsBus, type NatsBus } from '../src/bus/nats/nats.js';
import { startNatsCluster, type NatsCluster } from './support/nats.js';

/**
 * A 3-node JetStream cluster on loopback, a topic with replicas=3, a producer producing without pause
 * while the leader of one partition's stream is killed -9: the producer retries what fails
 * retriably; a consumer reading all along and a new one afterwards both get every acknowledged
 * record — none lost.
 */
const TOTAL = 30_000;
const BATCH = 500;
const IN_FLIGHT = 4;

let cluster: NatsCluster;
before(async () => {
  cluster = await startNatsCluster(3);
});
after(async () => {
  await cluster?.stop();
});

describe('NATS JetStream bus on a 3-node cluster', () => {
  it('keeps every acknowledged record when the stream leader is killed -9 mid-run', async (t) => {
    const bus: NatsBus = await openNatsBus(`${cluster.url}?replicas=3`, { requestTimeoutMs: 4000 });
    try {
      await bus.admin.createTopic('cdr', { partitions: 2 });
      const acked = new Set<number>();
      let retries = 0;
      let killed = '';
      const deadline = Date.now() + 60_000;

      const produceBatch = async (first: number) => {
        const records: BusRecord[] = Array.from({ length: BATCH }, (_, i) => ({ value: Buffer.from(String(first + i)), key: Buffer.from(`caller${(first + i) % 101}`) }));
        for (;;) {
          try {
            await bus.produce('cdr', records);
            for (let i = 0; i < BATCH; i++) acked.add(first + i);
            return;
          } catch (e) {
            if (!(e instanceof MonsoonError && e.retriable) || Date.now() > deadline) throw e;
            retries++;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      };

      const killLeader = async () => {
        const stream = await bus.streamOf('cdr', 0);
        const nc = await connect({ servers: cluster.nodes.map((n) => n.url) });
        const leader = (await (await jetstreamManager(nc)).streams.info(stream)).cluster?.leader;
        await nc.close();
        const node = cluster.nodes.find((n) => n.name === leader);
        assert.ok(node, `the stream ${stream} has a leader (${String(leader)})`);
        killed = node.name;
        await node.kill9();
      };

      // A reader in another connection consumes while the leader dies: its server-side consumers on
      // the killed node are lost and made again from the next offset.
      const reader = await openNatsBus(cluster.url, { requestTimeoutMs: 4000 });
      const live = await reader.consumer('live', ['cdr'], { from: 'earliest' });
      const liveSeen = new Set<number>();
      let producing = true;
      const reading = (async () => {
        while ((producing || [...acked].some((id) => !liveSeen.has(id))) && Date.now() < deadline + 30_000) {
          try {
            for (const b of await live.poll(10_000, 500)) for (const r of b.records) liveSeen.add(Number(r.value.toString()));
          } catch (e) {
            if (!(e instanceof MonsoonError && e.retriable)) throw e;
          }
        }
      })();

      let next = 0;
      const running = new Set<Promise<void>>();
      while (next < TOTAL) {
        if (next === TOTAL / 3) await killLeader();
        const p = produceBatch(next).finally(() => running.delete(p));
        running.add(p);
        next += BATCH;
        if (running.size >= IN_FLIGHT) await Promise.race(running);
      }
      await Promise.all(running).finally(() => (producing = false));
      await reading;
      await reader.close();
      assert.ok(killed, 'a node was killed');
      assert.equal(acked.size, TOTAL, 'every batch was acknowledged in the end');

      const c = await bus.consumer('audit', ['cdr'], { from: 'earliest' });
      const seen = new Set<number>();
      let received = 0;
      const d = await bus.admin.describeTopic('cdr');
      const stored = d.partitions.reduce((n, p) => n + p.latest - p.earliest, 0);
      while (received < stored && Date.now() < deadline + 30_000) {
        for (const b of await c.poll(10_000, 2000)) {
          for (const r of b.records) {
            seen.add(Number(r.value.toString()));
            received++;
          }
        }
      }
      await c.close();
      t.diagnostic(`killed ${killed} (a stream leader); ${retries} batches retried; ${received} records read, ${received - TOTAL} of them duplicates from retries; the live reader got ${liveSeen.size} distinct`);
      const liveMissing = [...acked].filter((id) => !liveSeen.has(id));
      assert.deepEqual(liveMissing.slice(0, 20), [], `${liveMissing.length} acknowledged record(s) never reached the consumer that read during the kill`);
      const missing = [...acked].filter((id) => !seen.has(id));
      assert.deepEqual(missing.slice(0, 20), [], `${missing.length} acknowledged record(s) missing after killing ${killed} (${retries} retried batches, ${received} read of ${stored} stored)`);
      assert.ok(received >= TOTAL, 'retried batches may add duplicates, never fewer records');
    } finally {
      await bus.close();
    }
  });
});
