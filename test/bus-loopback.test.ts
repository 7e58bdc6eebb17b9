import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { Bus, ProducedOffset } from '../src/bus/bus.js';
import { openEmbeddedBus } from '../src/bus/embedded/embedded.js';
import { openBus } from '../src/bus/url.js';
import { freePort, kill9, MONSOON_BIN, type Proc } from './support/procs.js';

/**
 * `monsoon bus serve` in a child process, reached by other processes over monsoon:// (by URL, and by
 * directory through monsoon-bus.addr): records move between CLI processes; the server is killed -9
 * mid-produce and restarted with every acknowledged record at its acknowledged place and the
 * committed offsets intact; a consumer process is killed -9 mid-consume and the other member of its
 * group reads its partitions on from the committed offsets, losing nothing.
 */
const CHILD = fileURLToPath(new URL('./bus/loopback-child.js', import.meta.url));
const procs: Proc[] = [];
const dirs: string[] = [];
after(async () => {
  for (const p of procs) await kill9(p);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Cli extends Proc {
  /** Complete stdout lines so far. */
  lines: string[];
}

function start(cmd: string[], input?: string): Cli {
  const child = spawn(process.execPath, cmd, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MONSOON_LOG_LEVEL: 'warn' } });
  const lines: string[] = [];
  const errs: string[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const parts = (rest + d).split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => errs.push(d));
  child.stdin!.on('error', () => {});
  child.stdin!.end(input ?? '');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const p: Cli = { child, exited, lines, tail: () => errs.join('').split('\n').slice(-20).join('\n'), output: () => errs.join('') };
  procs.push(p);
  return p;
}

const monsoon = (args: string[], input?: string) => start([MONSOON_BIN, ...args], input);

async function run(args: string[], input?: string): Promise<{ status: number | null; stdout: string[]; stderr: string }> {
  const p = monsoon(args, input);
  const status = await p.exited;
  return { status, stdout: p.lines, stderr: p.output() };
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function serve(dir: string): Promise<{ proc: Cli; port: number }> {
  const port = await freePort();
  const proc = monsoon(['bus', 'serve', '--dir', dir, '--port', String(port)]);
  await waitFor(async () => {
    if (proc.child.exitCode !== null) throw new Error(`bus serve exited (${proc.child.exitCode}): ${proc.tail()}`);
    return (await readFile(join(dir, 'monsoon-bus.addr'), 'utf8').catch(() => '')) === `127.0.0.1:${port}\n`;
  }, 'the server to write its address');
  return { proc, port };
}

/** Every record of a topic, per partition, by offset (asserting there is no gap). */
async function readAll(bus: Bus, topic: string): Promise<Map<number, string[]>> {
  const c = await bus.consumer(`check-${Date.now()}`, [topic], { from: 'earliest' });
  const latest = (await bus.admin.describeTopic(topic)).partitions.reduce((n, p) => n + p.latest, 0);
  const out = new Map<number, string[]>();
  let n = 0;
  while (n < latest) {
    const got = await c.poll(50_000, 2000);
    if (got.length === 0) break;
    for (const b of got) {
      const arr = out.get(b.partition) ?? [];
      for (const r of b.records) {
        assert.equal(r.offset, arr.length, `partition ${b.partition}: no gap before offset ${r.offset}`);
        arr.push(r.value.toString());
        n++;
      }
      out.set(b.partition, arr);
    }
  }
  await c.close();
  assert.equal(n, latest, 'every stored record read');
  return out;
}

describe('monsoon bus serve: the embedded log shared by processes over monsoon://', () => {
  it('moves records between processes, survives kill -9 of the server and of a consumer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-loopback-'));
    dirs.push(dir);
    let server = await serve(dir);
    let url = `monsoon://127.0.0.1:${server.port}`;

    // 1. A producer by URL and a consumer by directory (which finds the server through its address file).
    let r = await run(['topic', 'create', '--bus', url, '--topic', 't', '--partitions', '3']);
    assert.equal(r.status, 0, r.stderr);
    const input = Array.from({ length: 3000 }, (_, i) => `a-${i},${i % 17}`);
    r = await run(['produce', '--bus', url, '--topic', 't', '--key-field', '2'], input.join('\n') + '\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /3000 record\(s\) acknowledged/);
    r = await run(['consume', '--bus', dir, '--topic', 't', '--group', 'g', '--from', 'earliest', '--max', '3000']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.slice().sort(), input.slice().sort(), 'each produced line consumed once');
    let bus = await openBus(url);
    const committedA = (await bus.lag('g')).map((l) => ({ partition: l.partition, committed: l.committed, lag: l.lag }));
    assert.deepEqual(committedA.map((l) => l.lag), [0, 0, 0], 'the consumer committed what it printed');
    await bus.close();

    // 2. The server is killed -9 while a client produces (two batches in flight) and commits.
    const client = start([CHILD, url]);
    await waitFor(() => client.lines.filter((l) => l.startsWith('A ')).length >= 15 && client.lines.some((l) => l.startsWith('C ')), 'acknowledged batches and commits');
    await kill9(server.proc);
    assert.equal(await client.exited, 2, client.tail());
    assert.match(client.lines.at(-1)!, /^E MON_ERR_BUS_UNAVAILABLE true$/, 'the client saw a retriable MON_ERR_BUS_UNAVAILABLE');
    server = await serve(dir); // on a new port: the dead server's address file is replaced
    url = `monsoon://127.0.0.1:${server.port}`;
    bus = await openBus(dir);
    const stored = await readAll(bus, 't');
    const acks = client.lines.filter((l) => l.startsWith('A ')).map((l) => l.split(' '));
    let acknowledged = 0;
    for (const [, w, first, , places] of acks) {
      places!.split(',').forEach((place, i) => {
        const [p, o] = place.split(':').map(Number);
        const v = stored.get(p!)?.[o!];
        assert.ok(v?.startsWith(`w${w}-${Number(first) + i}-`), `acknowledged record w${w}-${Number(first) + i} at ${place}, found ${v?.slice(0, 16)}`);
        acknowledged++;
      });
    }
    const values = [...stored.values()].flat();
    assert.equal(new Set(values).size, values.length, 'no record stored twice');
    assert.equal(values.filter((v) => v.startsWith('a-')).length, 3000);
    assert.ok(values.length >= 3000 + acknowledged);
    const lagAfter = await bus.lag('g');
    assert.deepEqual(lagAfter.map((l) => ({ partition: l.partition, committed: l.committed })), committedA.map(({ partition, committed }) => ({ partition, committed })), 'group g kept its committed offsets');
    const lagK = await bus.lag('gk');
    for (const [, p, o] of client.lines.filter((l) => l.startsWith('C ')).map((l) => l.split(' ').map(Number))) {
      const committed = lagK.find((l) => l.partition === p)!.committed;
      assert.ok(committed !== null && committed >= o!, `group gk partition ${p}: committed ${committed} covers the reported commit ${o}`);
    }

    // 3. Two consumer processes share group g2; one is killed -9 mid-consume; the other takes over.
    await bus.admin.createTopic('t2', { partitions: 2 });
    const x = monsoon(['consume', '--bus', dir, '--topic', 't2', '--group', 'g2', '--from', 'earliest']);
    const y = monsoon(['consume', '--bus', url, '--topic', 't2', '--group', 'g2', '--from', 'earliest']);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // both join before records arrive
    const places = new Map<string, ProducedOffset>();
    for (let b = 0; b < 40; b++) {
      const values = Array.from({ length: 100 }, (_, i) => `c-${b * 100 + i}`);
      const res = await bus.produce('t2', values.map((v, i) => ({ key: Buffer.from(`k${i % 7}`), value: Buffer.from(v) })));
      values.forEach((v, i) => places.set(v, res[i]!));
      if (b === 15) {
        await waitFor(() => x.lines.length > 0, 'the first consumer to print');
        await kill9(x);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const printed = () => new Set([...x.lines, ...y.lines]);
    await waitFor(() => printed().size === places.size, 'every record printed by one of the members');
    assert.equal(y.child.exitCode, null, `the survivor keeps running: ${y.tail()}`);
    const xParts = new Set(x.lines.map((v) => places.get(v)!.partition));
    const yAfter = y.lines.filter((v) => xParts.has(places.get(v)!.partition));
    assert.ok(yAfter.length > 0, 'the killed member’s partitions went to the survivor');
    assert.equal(new Set(y.lines).size, y.lines.length, 'the survivor printed nothing twice');
    for (const p of xParts) {
      const xs = x.lines.filter((v) => places.get(v)!.partition === p).map((v) => places.get(v)!.offset);
      const ys = y.lines.filter((v) => places.get(v)!.partition === p).map((v) => places.get(v)!.offset);
      const handover = ys.find((o) => o > Math.min(...xs));
      if (handover !== undefined) assert.ok(handover <= Math.max(...xs) + 1, `partition ${p}: the survivor resumed at ${handover}, at or before where the killed member stopped (${Math.max(...xs) + 1})`);
    }

    // 4. A clean stop: SIGTERM closes the server, removes its address and releases the directory.
    y.child.kill('SIGTERM');
    assert.equal(await y.exited, 0, y.tail());
    await bus.close();
    server.proc.child.kill('SIGTERM');
    assert.equal(await server.proc.exited, 0, server.proc.tail());
    await assert.rejects(readFile(join(dir, 'monsoon-bus.addr')), 'the address file is removed');
    const local = await openEmbeddedBus(dir);
    assert.equal((await local.lag('g2')).reduce((n, l) => n + l.lag, 0), 0, 'the survivor committed everything it printed');
    await local.close();
  });
});
