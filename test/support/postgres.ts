import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './procs.js';
import { commandAs, giveDir } from './run-as.js';

/**
 * A throwaway PostgreSQL for tests: initdb into a temp dir, `postgres` on a free loopback port with its
 * socket in that dir — never the shared instance on 5432. PostgreSQL refuses to run as root, so as root
 * the server runs as the `postgres` user (setpriv, which execs, so the pid is the postmaster's) with the
 * temp dir handed to it. kill() takes the postmaster and every backend down at once, as a machine crash
 * would. A machine without the binaries fails the test naming the Debian package.
 */
export interface PostgresServer {
  url: string;
  port: number;
  /** SIGKILLs the postmaster and its backends. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data directory (crash recovery from the WAL). */
  start(): Promise<void>;
  /** Kills the server and removes its directory. */
  stop(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error(`PostgreSQL server binaries are not installed (no ${root}/<version>/bin/postgres); install the Debian package postgresql (apt-get install postgresql) to run the PostgreSQL store tests`);
  return join(root, versions[0]!, 'bin');
}

const asPostgres = (argv: string[]) => commandAs('postgres', argv);

async function ready(url: string, child: ChildProcess, out: () => string): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited during start:\n${out()}`);
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch {
      await c.end().catch(() => {});
      if (Date.now() > end) throw new Error(`postgres did not accept connections within 30 s:\n${out()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Whether `pid` is a live (not zombie) process. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-pg-'));
  const data = join(dir, 'data');
  giveDir('postgres', dir);
  const [cmd, args] = asPostgres([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const init = spawnSync(cmd, args, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.error?.message ?? ''}${init.stderr}${init.stdout}`);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;
  let gone: Promise<void> = Promise.resolve();
  const kill = async () => {
    const c = child;
    if (!c) return;
    child = undefined;
    if (c.exitCode === null && c.signalCode === null) {
      // Backends run in sessions of their own: freeze the postmaster (no new forks), kill its children,
      // then the postmaster — nothing answers after kill() returns.
      process.kill(c.pid!, 'SIGSTOP');
      const kids = spawnSync('pgrep', ['-P', String(c.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
      for (const k of kids) {
        try {
          process.kill(k, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      process.kill(c.pid!, 'SIGKILL');
      await gone;
      const end = Date.now() + 10_000;
      while (Date.now() < end && kids.some(alive)) await new Promise((r) => setTimeout(r, 20));
    }
    await gone;
  };
  const start = async () => {
    const [pcmd, pargs] = asPostgres([join(bin, 'postgres'), '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=20', '-c', 'shared_buffers=16MB']);
    const c = spawn(pcmd, pargs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4000)));
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4000)));
    gone = new Promise((r) => c.once('exit', () => r()));
    child = c;
    try {
      await ready(url, c, () => out);
    } catch (err) {
      await kill();
      throw err;
    }
  };
  try {
    await start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    kill,
    start,
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
