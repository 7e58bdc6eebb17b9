import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './procs.js';

/**
 * A throwaway redis-server for tests: a free loopback port, no RDB snapshots, no AOF, a temp dir.
 * Never the shared instance on 6379. A machine without redis-server fails the test with the Debian
 * package to install — the Redis bus is tested everywhere, never skipped.
 */
export interface RedisServer {
  url: string;
  port: number;
  /** Kills the server (SIGKILL) and removes its directory. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL) and starts a new one on the same port and directory (its AOF, if any). */
  restart(): Promise<RedisServer>;
}

const BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    s.setEncoding('utf8');
    s.once('error', () => resolve(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
  });
}

/**
 * `extraArgs` are more redis-server options, e.g. ['--replicaof', '127.0.0.1', '<port>'] or
 * ['--appendonly', 'yes', '--appendfsync', 'always'] (later options win).
 */
export async function startRedis(extraArgs: string[] = [], reuse?: { dir: string; port: number }): Promise<RedisServer> {
  const probe = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`redis-server is not installed (${probe.error?.message ?? probe.stderr}); install the Debian package redis-server (apt-get install redis-server) to run the Redis Streams bus tests`);
  }
  const dir = reuse?.dir ?? (await mkdtemp(join(tmpdir(), 'monsoon-redis-')));
  for (let attempt = 0; ; attempt++) {
    const port = reuse?.port ?? (await freePort());
    const child: ChildProcess = spawn(BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4000)));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4000)));
    let exited = false;
    const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
    const end = Date.now() + 10_000;
    while (!exited && Date.now() < end && !(await ping(port))) await new Promise((r) => setTimeout(r, 20));
    if (!exited && Date.now() < end) {
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        stop: async () => {
          if (!exited) child.kill('SIGKILL');
          await gone;
          await rm(dir, { recursive: true, force: true });
        },
        restart: async () => {
          if (!exited) child.kill('SIGKILL');
          await gone;
          return startRedis(extraArgs, { dir, port });
        },
      };
    }
    if (!exited) child.kill('SIGKILL');
    await gone;
    // Another process may have taken the port between freePort() and the bind: try another one.
    if (attempt >= 2 || reuse) {
      if (!reuse) await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not answer PING on 127.0.0.1:${port}:\n${out}`);
    }
  }
}
