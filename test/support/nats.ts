import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './procs.js';

/**
 * Throwaway nats-server processes for tests, JetStream on, on free loopback ports, each with its own
 * store directory and config file. Never a shared server on 4222. A machine without nats-server fails
 * the test naming the Debian package — the NATS JetStream bus is tested everywhere, never skipped.
 *
 * `startNats()` is one server; `startNatsCluster(3)` is a JetStream cluster of three on loopback
 * (client, cluster and monitoring ports per node, routes to every node, server_name n1..n3).
 */
export interface NatsNode {
  name: string;
  port: number;
  url: string;
  /** The process id, or undefined while the node is down. */
  pid(): number | undefined;
  /** SIGKILL, no shutdown: what a power cut or OOM kill does. */
  kill9(): Promise<void>;
  /** Starts the node again on the same ports, config and store directory. */
  start(): Promise<void>;
  /** The last lines the server logged. */
  log(): string;
}

export interface NatsServer extends NatsNode {
  /** Kills the server and removes its directory. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL) and starts it again on the same store. */
  restart(): Promise<void>;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** nats://127.0.0.1:p1,127.0.0.1:p2,... — every node, for a client that fails over. */
  url: string;
  stop(): Promise<void>;
}

const BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

function checkBinary(): void {
  const probe = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`nats-server is not installed (${probe.error?.message ?? probe.stderr}); install the Debian package nats-server (apt-get install nats-server) to run the NATS JetStream bus tests`);
  }
}

function healthz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => (req.destroy(), resolve(false)));
  });
}

interface NodeSpec {
  name: string;
  dir: string;
  port: number;
  httpPort: number;
  config: string;
}

function makeNode(spec: NodeSpec): NatsNode {
  let child: ChildProcess | undefined;
  let gone: Promise<void> = Promise.resolve();
  let out = '';
  const node: NatsNode = {
    name: spec.name,
    port: spec.port,
    url: `nats://127.0.0.1:${spec.port}`,
    pid: () => child?.pid,
    log: () => out,
    kill9: async () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await gone;
      child = undefined;
    },
    start: async () => {
      const c = spawn(BIN, ['-c', spec.config], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      let exited = false;
      gone = new Promise<void>((resolve) => c.once('exit', () => ((exited = true), resolve())));
      const keep = (d: string) => (out = (out + d).slice(-8000));
      c.stdout!.setEncoding('utf8').on('data', keep);
      c.stderr!.setEncoding('utf8').on('data', keep);
      return new Promise<void>((resolve, reject) => {
        const end = Date.now() + 30_000;
        const check = async () => {
          if (exited) return reject(new Error(`nats-server ${spec.name} exited while starting:\n${out}`));
          if (await healthz(spec.httpPort)) return resolve();
          if (Date.now() > end) return reject(new Error(`nats-server ${spec.name} not healthy on 127.0.0.1:${spec.port} within 30 s:\n${out}`));
          setTimeout(() => void check(), 50);
        };
        void check();
      });
    },
  };
  return node;
}

async function writeConfig(spec: Omit<NodeSpec, 'config'>, extra: string): Promise<string> {
  const config = join(spec.dir, `${spec.name}.conf`);
  await mkdir(join(spec.dir, 'store'), { recursive: true });
  await writeFile(
    config,
    [
      `server_name: ${spec.name}`,
      `listen: 127.0.0.1:${spec.port}`,
      `http: 127.0.0.1:${spec.httpPort}`,
      `jetstream { store_dir: ${JSON.stringify(join(spec.dir, 'store'))} }`,
      extra,
      '',
    ].join('\n'),
  );
  return config;
}

/** One JetStream server; `extra` is more config text, e.g. `max_payload: 8MB` or a jetstream sync setting. */
export async function startNats(extra = ''): Promise<NatsServer> {
  checkBinary();
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-nats-'));
  for (let attempt = 0; ; attempt++) {
    const base = { name: 'n1', dir, port: await freePort(), httpPort: await freePort() };
    const node = makeNode({ ...base, config: await writeConfig(base, extra) });
    try {
      await node.start();
    } catch (e) {
      await node.kill9();
      // Another process may have taken a port between freePort() and the bind: try other ones.
      if (attempt < 2) continue;
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      ...node,
      stop: async () => {
        await node.kill9();
        await rm(dir, { recursive: true, force: true });
      },
      restart: async () => {
        await node.kill9();
        await node.start();
      },
    };
  }
}

/** A JetStream cluster of `size` servers on loopback; resolves once every node reports healthy. */
export async function startNatsCluster(size = 3, extra = ''): Promise<NatsCluster> {
  checkBinary();
  for (let attempt = 0; ; attempt++) {
    const root = await mkdtemp(join(tmpdir(), 'monsoon-nats-cluster-'));
    const specs = [];
    for (let i = 1; i <= size; i++) specs.push({ name: `n${i}`, dir: join(root, `n${i}`), port: await freePort(), httpPort: await freePort(), clusterPort: await freePort() });
    const routes = specs.map((s) => `nats-route://127.0.0.1:${s.clusterPort}`).join(', ');
    const nodes: NatsNode[] = [];
    for (const s of specs) {
      const cluster = `cluster { name: monsoon-test, listen: 127.0.0.1:${s.clusterPort}, routes: [${routes}] }`;
      nodes.push(makeNode({ ...s, config: await writeConfig(s, `${cluster}\n${extra}`) }));
    }
    const stop = async () => {
      await Promise.all(nodes.map((n) => n.kill9()));
      await rm(root, { recursive: true, force: true });
    };
    try {
      await Promise.all(nodes.map((n) => n.start()));
    } catch (e) {
      await stop();
      // Another process may have taken a port between freePort() and the bind: try other ones.
      if (attempt < 2 && /address already in use/.test((e as Error).message)) continue;
      throw e;
    }
    return { nodes, url: `nats://${specs.map((s) => `127.0.0.1:${s.port}`).join(',')}`, stop };
  }
}
