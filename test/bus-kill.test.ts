import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { openEmbeddedBus } from '../src/bus/embedded/embedded.js';

/**
 * The embedded log under kill -9: a child produces acknowledged batches and commits consumed
 * offsets, reporting each; it is killed with SIGKILL mid-run, a torn batch is added to the end of an
 * active segment (as a write cut short by power loss would leave it), and the reopened log must hold
 * every acknowledged record at its reported offset, the torn bytes gone, and committed offsets at
 * least as far as reported.
 */
const childPath = fileURLToPath(new URL('./bus/produce-child.js', import.meta.url));
const running = new Set<ChildProcess>();
const dirs: string[] = [];
after(async () => {
  for (const c of running) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Ack {
  w: number;
  first: number;
  count: number;
  partition: number;
  offset: number;
}

async function crashRun(killAfter: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'monsoon-bus-kill-'));
  dirs.push(dir);
  const setup = await openEmbeddedBus(dir);
  await setup.admin.createTopic('t', { partitions: 3 });
  await setup.close();

  const child = spawn(process.execPath, [childPath, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const acks: Ack[] = [];
  const commits = new Map<number, number>();
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.startsWith('C ')) {
      const [, p, o] = line.split(' ').map(Number);
      commits.set(p!, o!);
      continue;
    }
    const [, w, first, count, partition, offset] = line.split(' ').map(Number);
    acks.push({ w: w!, first: first!, count: count!, partition: partition!, offset: offset! });
    if (acks.length === killAfter) child.kill('SIGKILL');
  }
  await exited;
  running.delete(child);
  assert.equal(child.signalCode, 'SIGKILL', 'the child was killed, not finished');

  const pdir = join(dir, 'topics', 't', '0');
  const active = join(pdir, (await readdir(pdir)).filter((f) => f.endsWith('.log')).sort().at(-1)!);
  const intact = (await stat(active)).size;
  const torn = Buffer.alloc(90, 0);
  torn.writeUInt32LE(5000, 8); // claims 5000 bytes, only 90 made it to disk
  await appendFile(active, torn);

  const bus = await openEmbeddedBus(dir);
  try {
    assert.ok((await stat(active)).size <= intact, 'the torn batch is cut off');
    const c = await bus.consumer('check', ['t'], { from: 'earliest' });
    const stored = new Map<number, string[]>();
    for (;;) {
      const got = await c.poll(50_000, 100);
      if (got.length === 0) break;
      for (const b of got) {
        const arr = stored.get(b.partition) ?? [];
        for (const r of b.records) {
          assert.equal(r.offset, arr.length, `partition ${b.partition}: no gap before offset ${r.offset}`);
          arr.push(r.value.toString());
        }
        stored.set(b.partition, arr);
      }
    }
    for (const a of acks) {
      for (let i = 0; i < a.count; i++) {
        const v = stored.get(a.partition)?.[a.offset + i];
        assert.ok(v?.startsWith(`w${a.w}-${a.first + i}-`), `acknowledged record w${a.w}-${a.first + i} at ${a.partition}/${a.offset + i}, found ${v?.slice(0, 20)}`);
      }
    }
    const lag = await bus.lag('g');
    for (const [p, o] of commits) {
      const committed = lag.find((l) => l.partition === p)!.committed;
      assert.ok(committed !== null && committed >= o, `partition ${p}: committed ${committed} covers the reported commit ${o}`);
    }
    const desc = await bus.admin.describeTopic('t');
    assert.equal(desc.partitions.reduce((n, p) => n + p.latest, 0), [...stored.values()].reduce((n, a) => n + a.length, 0));
    await c.close();
  } finally {
    await bus.close();
  }
}

describe('embedded log survives kill -9', () => {
  for (const killAfter of [3, 40, 250]) {
    it(`keeps every acknowledged record and commit, and drops the torn tail (killed after ${killAfter} acknowledged batches)`, async () => {
      await crashRun(killAfter);
    });
  }
});
