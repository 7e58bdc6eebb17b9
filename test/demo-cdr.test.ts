import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KvStore } from '../src/store/kv/store.js';
import { freePort, MONSOON_BIN } from './support/procs.js';

/**
 * `monsoon demo cdr` end to end at small scale: generator → agent (child) → server (child:
 * collector, bus, topology, stores). Checked independently of the demo's own counting: the cells of
 * the KV table and the lines (and distinct record ids) of every archive file, `.tmp` included.
 */
const root = mkdtempSync(join(tmpdir(), 'monsoon-demo-cdr-'));
after(() => rmSync(root, { recursive: true, force: true }));
const N = 20_000;

interface Run {
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
}

function demo(dir: string, args: string[], onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => {}): Promise<Run> {
  return freePort().then(
    (port) =>
      new Promise<Run>((resolve) => {
        const child = spawn(process.execPath, [MONSOON_BIN, 'demo', 'cdr', '--records', String(N), '--dir', dir, '--http-port', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MONSOON_LOG_LEVEL: 'warn' } });
        const lines: string[] = [];
        let err = '';
        let partial = '';
        child.stdout!.setEncoding('utf8').on('data', (d: string) => {
          const parts = (partial + d).split('\n');
          partial = parts.pop()!;
          for (const l of parts) {
            lines.push(l);
            onLine(l, child);
          }
        });
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          if (partial) lines.push(partial);
          if (code !== 0 && code !== 130) lines.push(`stderr: ${err}`);
          resolve({ lines, code, signal });
        });
      }),
  );
}

function verify(dir: string): void {
  const store = KvStore.open(join(dir, 'server', 'kv'), { readOnly: true });
  try {
    assert.equal(store.table('cdr').count(), N, 'cells in the KV table cdr');
  } finally {
    void store.close();
  }
  const archive = join(dir, 'server', 'archive');
  const ids = new Set<string>();
  let lines = 0;
  for (const name of readdirSync(archive)) {
    if (name.startsWith('.')) continue;
    for (const l of readFileSync(join(archive, name), 'latin1').split('\n')) {
      if (!l) continue;
      lines++;
      ids.add(l.split(',')[0]!);
    }
  }
  assert.equal(lines, N, 'lines in the archive files');
  assert.equal(ids.size, N, 'distinct record ids in the archive');
}

const last = (r: Run) => JSON.parse(r.lines[r.lines.length - 1]!) as { generated: number; stored: number; archived: number; records_per_s: number };

describe('monsoon demo cdr', () => {
  it('delivers every generated record exactly once to the KV store and the archive', async () => {
    const dir = join(root, 'clean');
    const r = await demo(dir, ['--rate', '0']);
    assert.equal(r.code, 0, r.lines.slice(-5).join('\n'));
    const res = last(r);
    assert.deepEqual({ generated: res.generated, stored: res.stored, archived: res.archived }, { generated: N, stored: N, archived: N });
    assert.ok(res.records_per_s > 0);
    assert.ok(r.lines.some((l) => l.includes(`/api/v1/store/cdr/row/`)), 'prints the lookup URL');
    verify(dir);
  });

  it('stays exact when the server is killed with SIGKILL, and resumes after Ctrl-C', async () => {
    const dir = join(root, 'kill');
    let killed = false;
    let restarted = false;
    let interrupted = false;
    const r1 = await demo(dir, ['--rate', '2000'], (line, child) => {
      const stored = Number(/stored (\d+)/.exec(line)?.[1] ?? 0);
      if (!killed && stored >= 3000) {
        killed = true;
        process.kill(Number(readFileSync(join(dir, 'server.pid'), 'utf8')), 'SIGKILL');
      }
      if (line.includes('server exited') && line.includes('SIGKILL')) restarted = true;
      // once the restarted server reports progress, interrupt the demo like Ctrl-C (the generator is still running)
      else if (restarted && !interrupted && line.startsWith('generated ')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const out1 = r1.lines.slice(-15).join('\n');
    assert.ok(killed && restarted, `the server was killed and restarted:\n${out1}`);
    assert.equal(r1.code, 130, out1);
    const partial = last(r1);
    assert.ok(partial.stored < N, `interrupted before the end:\n${out1}`);
    const r2 = await demo(dir, ['--rate', '0']);
    const out2 = `first run:\n${out1}\nsecond run:\n${r2.lines.slice(-15).join('\n')}`;
    assert.equal(r2.code, 0, out2);
    assert.equal(last(r2).stored, N, out2);
    try {
      verify(dir);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${out2}`);
    }
  });
});
