import { openEmbeddedBus } from '../../src/bus/embedded/embedded.js';

/**
 * Crash-test producer and consumer: four concurrent writers append batches to topic `t` of the
 * embedded log at argv[2] and print `A <writer> <first> <count> <partition> <offset>` after each
 * batch is acknowledged; a consumer of group `g` commits after each poll and prints
 * `C <partition> <offset>` for each committed offset. Runs until killed.
 */
const bus = await openEmbeddedBus(process.argv[2]!, { segmentBytes: 256 * 1024 });
const BATCH = 200;
const body = 'x'.repeat(100);

async function writer(w: number): Promise<never> {
  for (let n = 0; ; n += BATCH) {
    const records = Array.from({ length: BATCH }, (_, i) => ({ key: w % 2 ? Buffer.from(`w${w}`) : null, value: Buffer.from(`w${w}-${n + i}-${body}`) }));
    const res = await bus.produce('t', records);
    process.stdout.write(`A ${w} ${n} ${BATCH} ${res[0]!.partition} ${res[0]!.offset}\n`);
  }
}

async function reader(): Promise<never> {
  const c = await bus.consumer('g', ['t'], { from: 'earliest' });
  for (;;) {
    const got = await c.poll(500, 50);
    const offsets = got.map((b) => ({ topic: b.topic, partition: b.partition, offset: b.records[b.records.length - 1]!.offset + 1 }));
    await c.commit(offsets);
    for (const o of offsets) process.stdout.write(`C ${o.partition} ${o.offset}\n`);
  }
}

await Promise.all([...[0, 1, 2, 3].map(writer), reader()]);
