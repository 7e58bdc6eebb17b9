import { Command, InvalidArgumentError } from 'commander';

/** `monsoon store get|scan` — read the embedded key-value store, one JSON line per row. */
const storeOption = ['--store <dir>', 'key-value store directory (a kv sink\'s `store`)'] as const;
const tableOption = ['--table <name>', 'table name'] as const;

function count(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

export function storeCommand(): Command {
  const cmd = new Command('store').description('look up rows in the embedded key-value store');
  cmd
    .command('get')
    .description('print one row as a JSON line (nothing when the row has no cells)')
    .requiredOption(...storeOption)
    .requiredOption(...tableOption)
    .option('--family <f>', 'only cells of this column family')
    .option('--column <family:qualifier>', 'only this column (repeat for more)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .argument('<rowkey>', 'row key')
    .action(async (rowkey: string, o: { store: string; table: string; family?: string; column?: string[] }) => {
      const { kvGet } = await import('../store/kv/lookup.js'); // LMDB loads only for this command
      const row = await kvGet(o.store, o.table, rowkey, { family: o.family, columns: o.column?.length ? o.column : undefined });
      if (row) process.stdout.write(JSON.stringify(row) + '\n');
      else process.exitCode = 2;
    });
  cmd
    .command('scan')
    .description('print rows in key order, one JSON line each')
    .requiredOption(...storeOption)
    .requiredOption(...tableOption)
    .option('--prefix <p>', 'rows whose key starts with p')
    .option('--start <a>', 'first row key (inclusive)')
    .option('--stop <b>', 'last row key (exclusive)')
    .option('--family <f>', 'only cells of this column family')
    .option('--limit <n>', 'at most n rows', count)
    .action(async (o: { store: string; table: string; prefix?: string; start?: string; stop?: string; family?: string; limit?: number }) => {
      const { kvScan } = await import('../store/kv/lookup.js');
      const rows = await kvScan(o.store, o.table, { prefix: o.prefix, start: o.start, stop: o.stop, family: o.family, limit: o.limit });
      let out = '';
      for (const r of rows) out += JSON.stringify(r) + '\n';
      process.stdout.write(out);
    });
  return cmd;
}
