import { MonsoonError } from '../../src/core/errors.js';
import { openBus } from '../../src/bus/url.js';

/**
 * Crash-test client of a served bus (argv[2]: monsoon://host:port or a served directory): two
 * writers append keyed batches to topic `t` on one connection, printing
 * `A <writer> <first> <count> <partition>:<offset>,…` (every record's place) once a batch is
 * acknowledged; a consumer of group `gk` commits after each poll and prints `C <partition> <offset>`.
 * When the bus fails it prints `E <code> <retriable>` and exits 2.
 */
const bus = await openBus(process.argv[2]!);
const BATCH = 200;
const body = 'y'.repeat(60);

async function writer(w: number): Promise<never> {
  for (let n = 0; ; n += BATCH) {
    const records = Array.from({ length: BATCH }, (_, i) => ({ key: Buffer.from(`k${(n + i) % 13}`), value: Buffer.from(`w${w}-${n + i}-${body}`) }));
    const res = await bus.produce('t', records);
    process.stdout.write(`A ${w} ${n} ${BATCH} ${res.map((o) => `${o.partition}:${o.offset}`).join(',')}\n`);
  }
}

async function reader(): Promise<never> {
  const c = await bus.consumer('gk', ['t'], { from: 'earliest' });
  for (;;) {
    const got = await c.poll(500, 50);
    const offsets = got.map((b) => ({ topic: b.topic, partition: b.partition, offset: b.records[b.records.length - 1]!.offset + 1 }));
    await c.commit(offsets);
    for (const o of offsets) process.stdout.write(`C ${o.partition} ${o.offset}\n`);
  }
}

Promise.all([writer(0), writer(1), reader()]).catch((e: unknown) => {
  process.stdout.write(`E ${e instanceof MonsoonError ? `${e.code} ${e.retriable}` : `${String(e)} false`}\n`, () => process.exit(2));
});
