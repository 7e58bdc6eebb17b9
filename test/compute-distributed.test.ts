import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { openRedisBus } from '../src/bus/redis/redis.js';
import { kill9, spawnMonsoon, type Proc } from './support/procs.js';
import { startRedis, type RedisServer } from './support/redis.js';

/**
 * The distributed runtime under a crash: three `monsoon worker` processes share a Redis bus; a bus
 * spout over a 6-partition topic feeds a fields-grouped count bolt through the repartition topic; one
 * worker is killed -9 mid-run. The survivors take over its partitions (input and repartition) from the
 * committed offsets, and the idempotent counts come out exact.
 */
const fixture = fileURLToPath(new URL('./fixtures/keyed-count-topology.js', import.meta.url));
const N = 30_000;
const KEYS = 97;
let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server?.stop();
});

test('three workers on the Redis bus, one killed -9 mid-run: every record processed, keyed counts exact', async () => {
  const busUrl = `${server.url}?sessionTimeoutMs=1500&heartbeatMs=150`;
  const bus = await openRedisBus(server.url, { retentionCheckMs: 0 });
  const redis = createClient({ url: server.url });
  await redis.connect();
  const workers: Proc[] = [];
  try {
    await bus.admin.createTopic('keyed', { partitions: 6 });
    const expected = new Map<string, number>();
    let seed = 7;
    for (let i = 0; i < N; i += 1000) {
      const batch = [];
      for (let j = i; j < i + 1000; j++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const k = `k${(seed >>> 8) % KEYS}`;
        expected.set(k, (expected.get(k) ?? 0) + 1);
        batch.push({ key: Buffer.from(k), value: Buffer.from(`record ${j}`) });
      }
      await bus.produce('keyed', batch);
    }
    const args = ['worker', '--topology', fixture, '--bus', busUrl, '--name', 'kc', '-c', `keyed.bus=${busUrl}`, '-c', `keyed.redis=${server.url}`, '-c', 'topology.message.timeout.secs=10'];
    for (let w = 0; w < 3; w++) workers.push(spawnMonsoon(args));
    const tails = () => workers.map((p, i) => `worker ${i}:\n${p.tail()}`).join('\n');
    const waitFor = async (cond: () => Promise<boolean>, what: string, ms: number) => {
      const end = Date.now() + ms;
      while (!(await cond())) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${tails()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const seen = async () => Number(await redis.sCard('keyed:seen'));
    await waitFor(async () => Number(await redis.zCard('monsoon::members:keyed-input')) === 3, 'three members in the input group', 20_000);
    const victim = workers[0]!;
    // The victim must hold partitions and have counted some records when it dies (on a busy machine
    // one worker can join late), or the kill would prove nothing.
    const victimApplied = async () => Number((await redis.hGet('keyed:applied', String(victim.child.pid))) ?? 0);
    await waitFor(async () => (await seen()) >= N / 4 && (await victimApplied()) > 0, `a quarter of ${N} records counted, some by worker 0`, 30_000);
    await kill9(victim);
    const atKill = await seen();
    assert.ok(atKill < N, `the kill came after every record was counted (${atKill}); the test proves nothing`);
    await waitFor(async () => (await seen()) === N, `all ${N} records counted by the two survivors`, 40_000);
    const counts = await redis.hGetAll('keyed:counts');
    assert.equal(Object.keys(counts).length, expected.size);
    for (const [k, n] of expected) assert.equal(Number(counts[k]), n, `count of key ${k}`);
    const applied = await redis.hGetAll('keyed:applied');
    assert.ok(Number(applied[String(victim.child.pid)] ?? 0) > 0, `the killed worker counted records before it died: ${JSON.stringify(applied)}`);
    assert.equal(Object.values(applied).reduce((a, b) => a + Number(b), 0), N);
    // the repartition topic exists with the default partition count (4, or the bolt's tasks if more)
    assert.equal((await bus.admin.describeTopic('kc-count-repartition')).partitions.length, 4);
    for (const p of workers.slice(1)) p.child.kill('SIGTERM');
    for (const p of workers.slice(1)) assert.equal(await p.exited, 0, tails());
    // the survivors committed everything on the way out: nothing left to read on the input
    const lag = await bus.lag('keyed-input');
    assert.equal(lag.reduce((a, l) => a + l.lag, 0), 0, JSON.stringify(lag));
  } finally {
    for (const p of workers) await kill9(p);
    await redis.quit().catch(() => {});
    await bus.close();
  }
});
