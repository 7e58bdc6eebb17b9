import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './procs.js';
import { commandAs, giveDir } from './run-as.js';

/**
 * A throwaway clickhouse-server for tests: a minimal config (HTTP and native ports on free loopback
 * ports, no interserver port, small caches, user `default` without password from loopback) in a temp
 * dir. As root it runs as the `clickhouse` system user when one exists. One server per test file: it
 * takes a few seconds to start. A machine without the binary fails the test naming the Debian package.
 */
export interface ClickHouseServer {
  url: string;
  /** SIGKILLs the server. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and directory. */
  start(): Promise<void>;
  /** Kills the server and removes its directory. */
  stop(): Promise<void>;
}

const BIN = process.env.CLICKHOUSE_SERVER_BIN ?? 'clickhouse-server';

const config = (dir: string, http: number, tcp: number) => `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${http}</http_port>
  <tcp_port>${tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
  </users>
  <profiles><default></default></profiles>
  <quotas><default></default></quotas>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
</yandex>
`;

async function ping(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/?query=SELECT%201`, { signal: AbortSignal.timeout(2000) });
    return r.ok && (await r.text()).trim() === '1';
  } catch {
    return false;
  }
}

export async function startClickHouse(): Promise<ClickHouseServer> {
  const probe = spawnSync('sh', ['-c', `command -v ${BIN}`], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${BIN} is not installed; install the Debian package clickhouse-server (apt-get install clickhouse-server) to run the ClickHouse store tests`);
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-ch-'));
  for (const d of ['data', 'tmp', 'user_files', 'format_schemas']) await mkdir(join(dir, d));
  const [http, tcp] = [await freePort(), await freePort()];
  await writeFile(join(dir, 'config.xml'), config(dir, http, tcp));
  for (const d of ['', 'data', 'tmp', 'user_files', 'format_schemas']) giveDir('clickhouse', join(dir, d));
  const url = `http://127.0.0.1:${http}`;
  let child: ChildProcess | undefined;
  let gone: Promise<void> = Promise.resolve();
  const kill = async () => {
    const c = child;
    child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await gone;
  };
  const start = async () => {
    const [cmd, args] = commandAs('clickhouse', [BIN, `--config-file=${join(dir, 'config.xml')}`]);
    const c = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4000)));
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-4000)));
    gone = new Promise((r) => c.once('exit', () => r()));
    child = c;
    const end = Date.now() + 60_000;
    while (!(await ping(url))) {
      if (c.exitCode !== null || c.signalCode !== null || Date.now() > end) {
        await kill();
        throw new Error(`clickhouse-server did not answer on ${url}:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
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
    kill,
    start,
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
