import { openNatsBus } from '../../src/bus/nats/nats.js';

/**
 * Crash-test consumer for the NATS bus at argv[2]: joins group `g` on topic `t`, reads all 20
 * records, commits offset 3 on both partitions (as if it had processed only 0..2 of each), prints
 * READY and keeps polling until it is killed.
 */
const bus = await openNatsBus(process.argv[2]!, { sessionTimeoutMs: 1500, heartbeatMs: 100 });
const c = await bus.consumer('g', ['t'], { from: 'earliest' });
let n = 0;
while (n < 20) for (const b of await c.poll(100, 100)) n += b.records.length;
await c.commit([{ topic: 't', partition: 0, offset: 3 }, { topic: 't', partition: 1, offset: 3 }]);
process.stdout.write('READY\n');
for (;;) await c.poll(100, 100);
