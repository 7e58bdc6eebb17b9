/**
 * `monsoon demo cdr`: the README's main job, end to end on this machine.
 *
 *   CdrGenerator ─► <dir>/landing/*.cdr ─► `monsoon agent` (spooldir → file channel → thrift sinks)
 *     ─► `monsoon server` (collector → bus topic cdr × 4 → cdr topology → KV table cdr + archive)
 *
 * The server and the agent are child processes (so either can be killed with kill -9, and the demo
 * restarts a server or agent that died); the generator runs here. Everything that must survive a
 * restart lives under <dir>: the generator's state, the agent's channel and spool tracker, the
 * server's data. Starting again with the same <dir> resumes: nothing lost, nothing twice.
 *
 * Progress is printed once a second; the demo stops by itself once `records` records are generated,
 * stored (cells in the KV table) and archived (lines in the rolled files), and prints one JSON
 * object as its last line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArchiveCounter } from './archive-count.js';
import { CdrGenerator } from './generator.js';
import { cdrRowKey } from './etl.js';
import { accountOf, prng } from './record.js';
import { CDR_TABLE } from './topology.js';

export interface CdrDemoOptions {
  records: number;
  /** Records per second (0: as fast as possible). */
  rate: number;
  dir: string;
  /** HTTP API port (default or 0: 9393 when free, else any free port). */
  httpPort?: number;
  /** Where progress lines go (default stdout). */
  print?: (line: string) => void;
}

export interface CdrDemoResult {
  generated: number;
  stored: number;
  archived: number;
  records_per_s: number;
}

const BIN = fileURLToPath(new URL('../../../../bin/monsoon.js', import.meta.url));
const TOPOLOGY = fileURLToPath(new URL('./topology.js', import.meta.url));
export const AGENT_CONFIG = fileURLToPath(new URL('../../../../examples/cdr/agent.properties', import.meta.url));

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** A child `monsoon` process, restarted when it dies while the demo runs. */
class Child {
  proc: ChildProcess | undefined;
  exited: Promise<void> = Promise.resolve();
  private lines: string[] = [];
  restarts = 0;
  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    private readonly pidFile: string,
  ) {}

  async start(): Promise<void> {
    // Own process group: a terminal's Ctrl-C reaches only the demo, which stops the agent, then the server.
    const p = spawn(process.execPath, [BIN, ...this.args], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MONSOON_LOG_LEVEL: process.env.MONSOON_LOG_LEVEL ?? 'warn', ...this.env } });
    this.proc = p;
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (d: string) => {
      this.lines.push(...d.split('\n').filter(Boolean));
      if (this.lines.length > 50) this.lines.splice(0, this.lines.length - 50);
    });
    this.exited = new Promise((res) => p.once('exit', () => res()));
    await writeFile(this.pidFile, `${p.pid}\n`);
  }

  get alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  tail(): string {
    return this.lines.slice(-10).join('\n');
  }

  async stop(): Promise<void> {
    if (this.alive) this.proc!.kill('SIGTERM');
    const t = setTimeout(() => this.proc?.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(t);
  }
}

interface Status {
  topics: { name: string; partitions: { latest: number }[] }[];
  lag: { group: string; lag: number; partitions: { committed: number | null }[] }[];
}

async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return r.ok ? ((await r.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

export async function runCdrDemo(o: CdrDemoOptions): Promise<CdrDemoResult> {
  const print = o.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const dir = resolve(o.dir);
  const landing = join(dir, 'landing');
  const serverData = join(dir, 'server');
  const agentDir = join(dir, 'agent');
  await mkdir(landing, { recursive: true });
  await mkdir(agentDir, { recursive: true });

  const httpPort = o.httpPort || ((await portFree(9393)) ? 9393 : await freePort());
  const collectorPort = await freePort();
  const busPort = await freePort();
  const configPath = join(dir, 'monsoon.yaml');
  const config = {
    dataDir: serverData,
    http: { host: '127.0.0.1', port: httpPort },
    bus: { host: '127.0.0.1', port: busPort, topics: [{ name: 'cdr', partitions: 4 }, { name: 'cdr-dead', partitions: 1 }] },
    collector: { host: '127.0.0.1', port: collectorPort, topic: 'cdr', partitions: 4, batchSize: 2500 },
    topologies: [{ path: TOPOLOGY, name: 'cdr' }],
  };
  await writeFile(configPath, `# written by monsoon demo cdr (JSON is YAML)\n${JSON.stringify(config, null, 2)}\n`);

  const api = `http://127.0.0.1:${httpPort}`;
  const server = new Child('server', ['server', '-c', configPath], {}, join(dir, 'server.pid'));
  const agent = new Child('agent', ['agent', '-n', 'agent', '-f', AGENT_CONFIG, '--data-dir', agentDir, '--agent-id', 'cdr-demo/agent', '--no-reload'], { CDR_SPOOL_DIR: landing, CDR_AGENT_DIR: agentDir, CDR_COLLECTOR_HOST: '127.0.0.1', CDR_COLLECTOR_PORT: String(collectorPort) }, join(dir, 'agent.pid'));

  const waitHealthy = async () => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (!server.alive) throw new Error(`monsoon server exited during start-up:\n${server.tail()}`);
      if (await getJson(`${api}/health`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`monsoon server did not answer ${api}/health within 60 s:\n${server.tail()}`);
  };

  const gen = new CdrGenerator({ dir: landing, statePath: join(dir, 'generator.json'), records: o.records, rate: o.rate });
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    print('Stopping (state kept in ' + dir + '; run the same command to resume).');
    gen.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const counter = new ArchiveCounter(join(serverData, 'archive'));
  const t0 = Date.now();
  let stored = 0;
  let storedAtStart = 0;
  let archived = 0;
  try {
    await server.start();
    await waitHealthy();
    await agent.start();
    await gen.open();
    const st = JSON.parse(await readFile(join(dir, 'generator.json'), 'utf8')) as { seed: number };
    const row = cdrRowKey(accountOf((prng((st.seed ^ Math.imul(1, 0x9e3779b1)) >>> 0)() * 10_000) | 0));
    print(`Monsoon CDR demo: ${o.records} records${o.rate ? ` at ${o.rate}/s` : ''}; state in ${dir}`);
    print(`  server API ${api}/api/v1/status   (Storm UI paths: ${api}/api/v1/topology/summary, Prometheus: ${api}/metrics)`);
    print(`  one subscriber's records:  monsoon store get --store ${join(serverData, 'kv')} --table ${CDR_TABLE} ${row}`);
    print(`                             curl -s ${api}/api/v1/store/${CDR_TABLE}/row/${row}`);

    // records stored by an earlier run (a resumed demo) do not count towards this run's rate
    storedAtStart = (await getJson<{ cells: number }>(`${api}/api/v1/store/${CDR_TABLE}/count`))?.cells ?? 0;
    const genRun = gen.run();
    let last = { t: Date.now(), generated: gen.generated, collected: 0, processed: 0, stored: 0, archived: 0 };
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      if (stopping) break;
      for (const c of [server, agent]) {
        if (!c.alive) {
          c.restarts++;
          print(`${c.name} exited (${c.proc?.signalCode ?? `code ${c.proc?.exitCode}`}); restarting it`);
          await c.start();
          if (c === server) await waitHealthy();
        }
      }
      const status = await getJson<Status>(`${api}/api/v1/status`);
      const count = await getJson<{ cells: number }>(`${api}/api/v1/store/${CDR_TABLE}/count`);
      if (count) stored = count.cells;
      archived = await counter.count();
      const collected = status?.topics.find((t) => t.name === 'cdr')?.partitions.reduce((n, p) => n + p.latest, 0) ?? last.collected;
      const group = status?.lag.find((g) => g.group === 'cdr-etl');
      const processed = group ? group.partitions.reduce((n, p) => n + (p.committed ?? 0), 0) : last.processed;
      const now = Date.now();
      const dt = (now - last.t) / 1000;
      const rate = (a: number, b: number) => Math.round((a - b) / dt);
      print(
        `generated ${gen.generated} (${rate(gen.generated, last.generated)}/s)  collected ${collected} (${rate(collected, last.collected)}/s)  processed ${processed} (${rate(processed, last.processed)}/s)  stored ${stored} (${rate(stored, last.stored)}/s)  archived ${archived} (${rate(archived, last.archived)}/s)  lag ${group?.lag ?? '?'}`,
      );
      last = { t: now, generated: gen.generated, collected, processed, stored, archived };
      if (gen.done && stored >= o.records && archived >= o.records) break;
    }
    gen.stop();
    await genRun;
  } finally {
    gen.stop();
    await agent.stop();
    await server.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  archived = await new ArchiveCounter(join(serverData, 'archive')).count();
  const secs = (Date.now() - t0) / 1000;
  return { generated: gen.generated, stored, archived, records_per_s: Math.round((stored - storedAtStart) / secs) };
}
