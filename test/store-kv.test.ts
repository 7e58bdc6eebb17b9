import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KvStore } from '../src/store/kv/store.js';
import { kill9, MONSOON_BIN, type Proc } from './support/procs.js';

const CHILD = fileURLToPath(new URL('./support/kv-writer-child.js', import.meta.url));
const FULL_CHILD = fileURLToPath(new URL('./support/kv-full-child.js', import.meta.url));

const root = mkdtempSync(join(tmpdir(), 'monsoon-kv-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('embedded key-value store across processes', () => {
  it('keeps every acknowledged write when the writing process is killed with SIGKILL', async () => {
    const dir = mkdtempSync(join(root, 'kill-'));
    const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let acked = 0;
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const lines = d.trim().split('\n');
      acked = Math.max(acked, Number(lines[lines.length - 1]));
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const proc: Proc = { child, exited, tail: () => err, output: () => err };
    const end = Date.now() + 60_000;
    while (acked < 4000 && child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.ok(acked >= 4000, `the writer acknowledged only ${acked} rows: ${err}`);
    await kill9(proc);
    const store = KvStore.open(dir);
    const rows = store.table('t').scan();
    await store.close();
    assert.ok(rows.length >= acked, `${rows.length} rows survived, ${acked} were acknowledged`);
    rows.forEach((r, i) => assert.equal(r.row.toString(), `row${String(i).padStart(9, '0')}`));
  });

  it('fails a commit the filesystem refuses with a retriable error, keeping the process, every acknowledged row and the writes around it', () => {
    const dirs = ['fill-', 'overlap-', 'close-'].map((p) => mkdtempSync(join(root, p)));
    // 2 MiB per file (ulimit -f counts 512-byte blocks in dash and in bash's POSIX mode)
    const r = spawnSync('sh', ['-c', 'ulimit -f 4096 && exec "$0" "$@"', process.execPath, FULL_CHILD, ...dirs], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `the writer ended with ${r.status ?? r.signal}: ${r.stderr}`);
    type Failure = { code?: string; retriable?: boolean; message: string };
    const out = JSON.parse(r.stdout.trim()) as {
      fill: Failure & { acked: number; found: number };
      overlap: { small: 'acked' | Failure; big: 'acked' | Failure | 'pending'; smallRowFound: boolean };
      close: { write: 'acked' | Failure | 'pending'; closed: string };
    };
    const { fill, overlap, close } = out;
    assert.ok(fill.acked >= 500, `no write was acknowledged before the limit: ${r.stdout}`);
    assert.equal(fill.code, 'MON_ERR_STORE_UNAVAILABLE', fill.message);
    assert.equal(fill.retriable, true);
    assert.match(fill.message, /table t: the commit to .* failed: \S/);
    assert.equal(fill.found, fill.acked);
    // a write committed just before a failing one resolves, and the failing one fails
    assert.equal(overlap.small, 'acked', JSON.stringify(overlap));
    assert.ok(typeof overlap.big === 'object' && overlap.big.code === 'MON_ERR_STORE_UNAVAILABLE', JSON.stringify(overlap));
    assert.equal(overlap.smallRowFound, true);
    // a close waits for the write in flight, which fails, and then closes
    assert.ok(typeof close.write === 'object' && close.write.retriable === true, JSON.stringify(close));
    assert.equal(close.closed, 'closed');
  });

  it('monsoon store get/scan print rows as JSON lines', async () => {
    const dir = mkdtempSync(join(root, 'cli-'));
    const store = KvStore.open(dir);
    await store.table('subs').write([
      { row: '13800000001', family: 'cdr', qualifier: 'payload', value: 'call a' },
      { row: '13800000001', family: 'meta', qualifier: 'src', value: 'h1' },
      { row: '13800000002', family: 'cdr', qualifier: 'payload', value: 'call b' },
      { row: '13900000001', family: 'cdr', qualifier: 'payload', value: 'call c' },
    ]);
    await store.close();
    const run = (...args: string[]) => spawnSync(process.execPath, [MONSOON_BIN, 'store', ...args], { encoding: 'utf8' });
    const get = run('get', '--store', dir, '--table', 'subs', '13800000001', '--family', 'cdr');
    assert.equal(get.status, 0, get.stderr);
    assert.deepEqual(JSON.parse(get.stdout), { row: '13800000001', columns: { 'cdr:payload': 'call a' } });
    const cols = run('get', '--store', dir, '--table', 'subs', '--column', 'meta:src', '--column', 'cdr:nope', '13800000001');
    assert.deepEqual(JSON.parse(cols.stdout), { row: '13800000001', columns: { 'meta:src': 'h1' } });
    const scan = run('scan', '--store', dir, '--table', 'subs', '--prefix', '138');
    assert.equal(scan.status, 0, scan.stderr);
    assert.deepEqual(scan.stdout.trim().split('\n').map((l) => JSON.parse(l).row), ['13800000001', '13800000002']);
    const range = run('scan', '--store', dir, '--table', 'subs', '--start', '13800000002', '--stop', '2', '--limit', '1');
    assert.deepEqual(range.stdout.trim().split('\n').map((l) => JSON.parse(l).columns), [{ 'cdr:payload': 'call b' }]);
    const missing = run('get', '--store', dir, '--table', 'subs', 'nope');
    assert.equal(missing.status, 2);
    assert.equal(missing.stdout, '');
    const noTable = run('scan', '--store', dir, '--table', 'other');
    assert.equal(noTable.status, 1);
    assert.match(noTable.stderr, /no table "other"/);
  });
});
