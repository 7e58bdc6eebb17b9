import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, MONSOON_BIN, spawnMonsoon } from './support/procs.js';

const run = (args: string[]) => spawnSync(process.execPath, [MONSOON_BIN, ...args], { encoding: 'utf8' });
const fixture = fileURLToPath(new URL('./fixtures/wordcount-topology.js', import.meta.url));
const testkit = fileURLToPath(new URL('../src/compute/testkit.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'monsoon-topology-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('topology submit --check prints the validated IR; an invalid Flux file fails naming the entry', () => {
  const r = run(['topology', 'submit', fixture, '--check', '--name', 'wc', '-c', 'topology.max.spout.pending=10']);
  assert.equal(r.status, 0, r.stderr);
  const ir = JSON.parse(r.stdout) as { name: string; config: Record<string, unknown>; components: { id: string }[]; source: { module: string } };
  assert.equal(ir.name, 'wc');
  assert.equal(ir.config['topology.max.spout.pending'], 10);
  assert.deepEqual(ir.components.map((c) => c.id), ['sentences', 'split', 'count', 'sink']);
  assert.equal(ir.source.module, fixture);
  const example = run(['topology', 'submit', fileURLToPath(new URL('../../examples/compute/wordcount.yaml', import.meta.url)), '--check']);
  assert.equal(example.status, 0, example.stderr);
  assert.equal((JSON.parse(example.stdout) as { name: string }).name, 'wordcount');
  const yaml = join(dir, 'bad.yaml');
  writeFileSync(yaml, `name: bad\nspouts:\n  - {id: s, className: "${testkit}#ListSpout"}\nbolts:\n  - {id: b, className: "${testkit}#CollectSink"}\nstreams:\n  - {from: t, to: b, grouping: {type: SHUFFLE}}\n`);
  const bad = run(['topology', 'submit', yaml, '--check']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /component "b": subscribes to unknown component "t".*MON_ERR_TOPOLOGY_INVALID/);
});

test('topology submit runs in the foreground with Storm UI paths; list, deactivate, activate and kill talk to it', async () => {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const p = spawnMonsoon(['topology', 'submit', fixture, '--name', 'wc', '--api-port', String(port)]);
  try {
    let page: { spouts: { acked: number }[]; bolts: { boltId: string; executed: number }[]; status: string } | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      page = await fetch(`${api}/api/v1/topology/wc`).then((r) => (r.ok ? r.json() : undefined), () => undefined);
      if (page && page.spouts[0]!.acked === 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(page?.spouts[0]!.acked, 3, p.tail());
    assert.equal(page!.bolts.find((b) => b.boltId === 'count')!.executed, 9);
    const comp = (await fetch(`${api}/api/v1/topology/wc/component/count`).then((r) => r.json())) as { componentType: string; executors: number };
    assert.deepEqual([comp.componentType, comp.executors], ['bolt', 2]);
    assert.equal((await fetch(`${api}/api/v1/topology/wc/component/nope`)).status, 404);
    const metrics = await fetch(`${api}/metrics`).then((r) => r.text());
    assert.match(metrics, /monsoon_topology_acked\{topology="wc",component="sentences",task="\d+"\} 3/);
    const list = await cli(['topology', 'list', '--api', api]);
    assert.match(list, /^wc\s+wc-1-\d+\s+ACTIVE/m);
    // rebalance: count (2 tasks) runs in 1 executor, then 2 again; the default wait ends once no tree is pending
    const executorsOf = async (c: string) => ((await fetch(`${api}/api/v1/topology/wc/component/${c}`).then((r) => r.json())) as { executors: number }).executors;
    assert.match(await cli(['topology', 'rebalance', 'wc', '-e', 'count=1', '--api', api]), /rebalanced wc/);
    assert.equal(await executorsOf('count'), 1);
    assert.match(await cli(['topology', 'rebalance', 'wc', '-w', '0', '-n', '1', '--executor', 'count=2', '-e', 'split=1', '--api', api]), /rebalanced wc/);
    assert.deepEqual([await executorsOf('count'), await executorsOf('split')], [2, 1]);
    const tooMany = await cliResult(['topology', 'rebalance', 'wc', '-w', '0', '-e', 'count=3', '--api', api]);
    assert.equal(tooMany.code, 1);
    assert.match(tooMany.stderr, /component count: executors must be an integer from 1 to its 2 tasks \(numTasks\), got 3/);
    const unknown = await cliResult(['topology', 'rebalance', 'wc', '-w', '0', '-e', 'nope=1', '--api', api]);
    assert.match(unknown.stderr, /component nope is not in the topology/);
    const workers = await cliResult(['topology', 'rebalance', 'wc', '-w', '0', '-n', '2', '--api', api]);
    assert.match(workers.stderr, /the local runtime runs in one worker.*--workers N/);
    assert.match((await cliResult(['topology', 'rebalance', 'wc', '-e', 'count'])).stderr, /-e\/--executor takes component=parallelism/);
    assert.equal(((await fetch(`${api}/api/v1/topology/wc`).then((r) => r.json())) as { status: string }).status, 'ACTIVE');
    assert.match(await cli(['topology', 'deactivate', 'wc', '--api', api]), /deactivated wc/);
    assert.equal(((await fetch(`${api}/api/v1/topology/wc`).then((r) => r.json())) as { status: string }).status, 'INACTIVE');
    await cli(['topology', 'activate', 'wc', '--api', api]);
    assert.match(await cli(['topology', 'kill', 'wc', '--api', api]), /killed wc/);
    assert.equal(await p.exited, 0, p.tail());
  } finally {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
  const unreachable = await cliResult(['topology', 'list', '--api', api]);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach the topology API/);
  const distributed = await cliResult(['topology', 'rebalance', 'wc', '-n', '3', '--api', api]);
  assert.equal(distributed.code, 1);
  assert.match(distributed.stderr, /distributed workers .* rebalance through the bus's group membership/);
});

function cliResult(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MONSOON_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function cli(args: string[]): Promise<string> {
  const r = await cliResult(args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}
