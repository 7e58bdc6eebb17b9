import { Command, InvalidArgumentError } from 'commander';
import { errorMessage } from '../core/errors.js';

/** `monsoon demo cdr` — the telecom call-record pipeline end to end (src/demo/cdr/demo.ts). */
function count(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

export function demoCommand(): Command {
  const cmd = new Command('demo').description('runnable end-to-end pipelines');
  cmd
    .command('cdr')
    .description('generate call-detail records and run them through agent → server (collector, bus, topology) → KV store and archive')
    .option('--records <n>', 'records to generate in total (across restarts)', count, 100_000)
    .option('--rate <r>', 'records per second (0: as fast as possible)', count, 5000)
    .option('--dir <d>', 'demo state: landing directory, generator state, agent and server data', './monsoon-demo')
    .option('--http-port <port>', 'HTTP API port (default 9393 when free)', count)
    .action(async (o: { records: number; rate: number; dir: string; httpPort?: number }) => {
      const { runCdrDemo } = await import('../demo/cdr/demo.js');
      try {
        const r = await runCdrDemo({ records: o.records, rate: o.rate, dir: o.dir, ...(o.httpPort !== undefined ? { httpPort: o.httpPort } : {}) });
        process.stdout.write(JSON.stringify(r) + '\n');
        process.exit(r.stored >= o.records && r.archived >= o.records ? 0 : 130);
      } catch (e) {
        process.stderr.write(`monsoon demo cdr: ${errorMessage(e)}\n`);
        process.exit(1);
      }
    });
  return cmd;
}
