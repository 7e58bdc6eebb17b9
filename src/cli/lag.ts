import { Command } from 'commander';
import { busOption } from './topic.js';
import { withBus } from './bus-session.js';

/** `monsoon lag --bus <url> --group g` — per-partition committed offset, log end and lag. */
export function lagCommand(): Command {
  return new Command('lag')
    .description('show a consumer group’s lag per partition')
    .requiredOption(...busOption)
    .requiredOption('--group <name>', 'consumer group')
    .option('--json', 'print JSON')
    .action(async (o: { bus: string; group: string; json?: boolean }) => {
      await withBus(o.bus, async (bus) => {
        const lag = await bus.lag(o.group);
        if (o.json) {
          process.stdout.write(JSON.stringify(lag) + '\n');
          return;
        }
        const rows = [['TOPIC', 'PARTITION', 'COMMITTED', 'LATEST', 'LAG'], ...lag.map((l) => [l.topic, String(l.partition), l.committed === null ? '-' : String(l.committed), String(l.latest), String(l.lag)])];
        const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd() + '\n');
        process.stdout.write(`total lag ${lag.reduce((n, l) => n + l.lag, 0)}\n`);
      });
    });
}
