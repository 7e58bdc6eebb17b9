import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { openEmbeddedBus } from '../src/bus/embedded/embedded.js';

const CHILD = fileURLToPath(new URL('./support/stateful-wordcount.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'monsoon-state-kill-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface Child {
  proc: ChildProcess;
  progress: number;
  final: Record<string, number> | null;
  stderr: string;
  exited: Promise<number | null>;
}

function run(busDir: string, stateDir: string, records: number): Child {
  const proc = spawn(process.execPath, [CHILD, busDir, stateDir, String(records)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Child = { proc, progress: 0, final: null, stderr: '', exited: new Promise((r) => proc.once('exit', (code) => r(code))) };
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.startsWith('progress ')) c.progress = Number(line.slice(9));
      else if (line.startsWith('final ')) c.final = JSON.parse(line.slice(6)) as Record<string, number>;
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (c.stderr = (c.stderr + d).slice(-4000)));
  return c;
}

test('stateful word count over the bus, killed with SIGKILL mid-run and restarted: every record is counted exactly once', async () => {
  const records = 12_000;
  const busDir = join(root, 'bus');
  const stateDir = join(root, 'state');
  const bus = await openEmbeddedBus(busDir);
  await bus.admin.createTopic('words', { partitions: 2 });
  const expected: Record<string, number> = {};
  const batch = Array.from({ length: records }, (_, i) => {
    const w = `w${(i * 31) % 97}`;
    expected[w] = (expected[w] ?? 0) + 1;
    return { key: Buffer.from(String(i)), value: Buffer.from(w) };
  });
  for (let i = 0; i < batch.length; i += 1000) await bus.produce('words', batch.slice(i, i + 1000));
  await bus.close();

  const first = run(busDir, stateDir, records);
  const deadline = Date.now() + 30_000;
  while (first.progress < records / 4) {
    if (first.proc.exitCode !== null) assert.fail(`the first run exited early (${first.proc.exitCode}): ${first.stderr}`);
    if (Date.now() > deadline) assert.fail(`the first run made no progress: ${first.stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  first.proc.kill('SIGKILL');
  await first.exited;
  assert.equal(first.final, null, 'killed before it finished');
  assert.ok(first.progress < records, `killed mid-run (${first.progress} of ${records} executed)`);

  const second = run(busDir, stateDir, records);
  const timeout = setTimeout(() => second.proc.kill('SIGKILL'), 60_000);
  const code = await second.exited;
  clearTimeout(timeout);
  assert.equal(code, 0, `the restarted run failed: ${second.stderr}`);
  assert.deepEqual(second.final, expected);
});
