import { openEmbeddedBus } from '../../src/bus/embedded/embedded.js';

/**
 * Crash-test producer: four concurrent writers append batches to topic `t` of the embedded log at
 * argv[2] and print `A <writer> <first> <count> <partition> <offset>` after each batch is
 * acknowledged, until killed.
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

await Promise.all([0, 1, 2, 3].map(writer));
