import { resolve } from 'node:path';
import { Command } from 'commander';
import { errorMessage } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { DEFAULT_PORT } from '../bus/remote/protocol.js';
import { fail } from './bus-session.js';

/**
 * `monsoon bus serve --dir <path> [--host 127.0.0.1] [--port 9392]` — opens the embedded log in
 * <path> (taking its lock) and serves it over monsoon:// until SIGINT/SIGTERM, so other processes
 * reach it with `--bus monsoon://host:port` or simply `--bus <path>` (through <path>/monsoon-bus.addr,
 * written while serving).
 */
interface ServeOpts {
  dir: string;
  host: string;
  port: string;
}

async function serve(o: ServeOpts): Promise<void> {
  if (!/^\d+$/.test(o.port) || Number(o.port) > 65535) throw new Error(`--port must be 0..65535, got ${JSON.stringify(o.port)}`);
  const dir = resolve(o.dir);
  const log = createLogger('bus');
  const { openEmbeddedBus } = await import('../bus/embedded/embedded.js');
  const { serveBus } = await import('../bus/remote/server.js');
  const { removeAddrFile, writeAddrFile } = await import('../bus/remote/addr.js');
  const bus = await openEmbeddedBus(dir, { log });
  let server;
  try {
    server = await serveBus(bus, { host: o.host, port: Number(o.port), log });
    await writeAddrFile(dir, server.host, server.port);
  } catch (e) {
    await server?.close();
    await bus.close();
    throw e;
  }
  log.info({ dir, url: server.url }, `Serving the embedded log in ${dir} on ${server.url}.`);
  const s = server;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'Stopping the bus server.');
    (async () => {
      await removeAddrFile(dir);
      await s.close();
      await bus.close();
    })().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: errorMessage(e) }, 'The bus did not close cleanly.');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

export function busCommand(): Command {
  const cmd = new Command('bus').description('run the embedded bus for other processes');
  cmd
    .command('serve')
    .description('serve the embedded log in a directory over monsoon://host:port until SIGINT/SIGTERM')
    .requiredOption('--dir <path>', 'directory of the embedded log (locked while served)')
    .option('--host <host>', 'address to listen on (keep it loopback: the protocol has no authentication)', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 picks a free one; the chosen address is written to <dir>/monsoon-bus.addr)', String(DEFAULT_PORT))
    .action(async (o: ServeOpts) => {
      try {
        await serve(o);
      } catch (e) {
        fail(e);
      }
    });
  return cmd;
}
