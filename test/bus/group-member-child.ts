import type { Bus } from '../../src/bus/bus.js';

/**
 * Crash-test consumer for the bus at argv[3] of engine argv[2] (redis | nats): joins group `g` on
 * topic `t`, reads all 20 records, commits offset 3 on both partitions (as if it had processed only
 * 0..2 of each), prints READY and keeps polling until it is killed.
 */
const [engine, url] = [process.argv[2], process.argv[3]!];
const bus: Bus =
  engine === 'nats'
    ? await (await import('../../src/bus/nats/nats.js')).openNatsBus(url, { sessionTimeoutMs: 1500, heartbeatMs: 100 })
    : await (await import('../../src/bus/redis/redis.js')).openRedisBus(url, { retentionCheckMs: 0, sessionTimeoutMs: 600, heartbeatMs: 100 });
const c = await bus.consumer('g', ['t'], { from: 'earliest' });
let n = 0;
while (n < 20) for (const b of await c.poll(100, 100)) n += b.records.length;
await c.commit([{ topic: 't', partition: 0, offset: 3 }, { topic: 't', partition: 1, offset: 3 }]);
process.stdout.write('READY\n');
for (;;) await c.poll(100, 100);
