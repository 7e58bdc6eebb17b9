import { Command } from 'commander';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { Bus } from '../bus/bus.js';
import { busOption } from './topic.js';
import { positiveInt, withBus } from './bus-session.js';

/**
 * `monsoon consume --bus <url> --topic t --group g [--from earliest|latest] [--max N]` — prints one
 * value per line and commits, after each write reached stdout, exactly what it printed. Stops after
 * --max records, after --timeout-ms without a record, or on SIGINT/SIGTERM.
 */
interface ConsumeOpts {
  bus: string;
  topic: string;
  group: string;
  from: string;
  max?: string;
  timeoutMs?: string;
}

function write(chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (e) => (e ? reject(e) : resolve()));
  });
}

async function consumeToStdout(bus: Bus, o: ConsumeOpts): Promise<void> {
  if (o.from !== 'earliest' && o.from !== 'latest') throw new Error(`--from must be earliest or latest, got ${JSON.stringify(o.from)}`);
  const max = positiveInt('--max', o.max) ?? Infinity;
  const idle = positiveInt('--timeout-ms', o.timeoutMs);
  const c = await bus.consumer(o.group, [o.topic], { from: o.from });
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let printed = 0;
  let lastData = Date.now();
  try {
    while (!stop && printed < max) {
      const batches = await c.poll(Math.min(1000, max - printed), 200);
      if (batches.length === 0) {
        if (idle !== undefined && Date.now() - lastData >= idle) break;
        continue;
      }
      lastData = Date.now();
      const parts: Buffer[] = [];
      const commits = [];
      for (const b of batches) {
        for (const r of b.records) parts.push(r.value, Buffer.from('\n'));
        commits.push({ topic: b.topic, partition: b.partition, offset: b.records[b.records.length - 1]!.offset + 1 });
        printed += b.records.length;
      }
      await write(Buffer.concat(parts));
      // A partition moved to another member since the poll is not committed here: its new owner
      // reads it from the committed offset (those records are printed again, never lost).
      const owned = new Set(c.assignment().map((tp) => `${tp.topic}\u0000${tp.partition}`));
      await c.commit(commits.filter((x) => owned.has(`${x.topic}\u0000${x.partition}`))).catch((e: unknown) => {
        if (!(e instanceof MonsoonError && e.code === ErrorCodes.BUS_NOT_ASSIGNED)) throw e;
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await c.close();
  }
}

export function consumeCommand(): Command {
  return new Command('consume')
    .description('print a topic’s records as a consumer group, one value per line, committing what was printed')
    .requiredOption(...busOption)
    .requiredOption('--topic <name>', 'topic to read')
    .requiredOption('--group <name>', 'consumer group whose committed offsets to use and advance')
    .option('--from <where>', 'where a partition without a committed offset starts: earliest or latest', 'latest')
    .option('--max <n>', 'exit after printing this many records')
    .option('--timeout-ms <ms>', 'exit when no record arrived for this long')
    .action(async (o: ConsumeOpts) => {
      await withBus(o.bus, (bus) => consumeToStdout(bus, o));
    });
}
