import { Command } from 'commander';
import { errorMessage, MonsoonError } from '../core/errors.js';
import { createLogger } from '../core/log.js';

/**
 * `monsoon server [-c monsoon.yaml]` — the collector, the embedded bus (monsoon://), the topology
 * runtime, the embedded stores and the HTTP API in one process (src/server/). Runs until
 * SIGINT/SIGTERM; exits 1 naming the key when the configuration is invalid.
 */
export function serverCommand(): Command {
  return new Command('server')
    .description('run the collector, embedded bus, topologies, stores and HTTP API in one process')
    .option('-c, --config <file>', 'server configuration (YAML); without it every default applies (see src/server/README.md)')
    .option('--check', 'validate the configuration, print it resolved as JSON and exit')
    .action(async (o: { config?: string; check?: boolean }) => {
      const { loadServerConfig } = await import('../server/config.js');
      let config;
      try {
        config = await loadServerConfig(o.config);
      } catch (e) {
        process.stderr.write(`monsoon server: ${errorMessage(e)}\n`);
        process.exit(1);
      }
      if (o.check) {
        process.stdout.write(JSON.stringify(config, null, 2) + '\n');
        return;
      }
      const log = createLogger('server');
      const { startServer } = await import('../server/server.js');
      let server;
      try {
        server = await startServer(config, log, {
          // Everything it acknowledged is durable; a supervisor's restart resumes where it stopped.
          onCollectorExit: () => process.exit(1),
        });
      } catch (e) {
        process.stderr.write(`monsoon server: ${errorMessage(e)}${e instanceof MonsoonError ? ` (${e.code})` : ''}\n`);
        process.exit(1);
      }
      const c = server.config;
      log.info(
        { http: `http://${c.http.host}:${server.httpPort}`, bus: server.busServer.url, collector: c.collector.enabled ? `${c.collector.host}:${c.collector.port}` : null, dataDir: c.dataDir },
        `Monsoon server is running: API http://${c.http.host}:${server.httpPort}/api/v1/status, bus ${server.busServer.url}${c.collector.enabled ? `, collector thrift ${c.collector.host}:${c.collector.port}` : ''}, data in ${c.dataDir}.`,
      );
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'Stopping the server.');
        server.close().then(
          () => process.exit(0),
          (e: unknown) => {
            log.error({ err: errorMessage(e) }, 'The server did not stop cleanly.');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
