import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileInFlightLog, inFlightLogPath, readInFlight } from './inflight.js';

const dir = mkdtempSync(join(tmpdir(), 'monsoon-inflight-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `g${n++}`, 'inflight-g1.json');

describe('in-flight log', () => {
  it('records deliveries as they begin and end', () => {
    const path = freshPath();
    assert.deepEqual(readInFlight(path), [], 'a missing file means nothing in flight');
    const log = new FileInFlightLog(path);
    assert.deepEqual(log.atStart, []);
    log.begin('k1');
    log.begin('k2');
    assert.deepEqual(readInFlight(path).sort(), ['k1', 'k2']);
    log.end('k2');
    assert.deepEqual(readInFlight(path), ['k1']);
    log.begin('k1');
    log.end('k1');
    assert.deepEqual(readInFlight(path), ['k1'], 'k1 still has one delivery open');
    log.end('k1');
    assert.deepEqual(readInFlight(path), []);
    log.close();
  });

  it('keeps the previous run’s entries until the next delivery begins', () => {
    const path = freshPath();
    const first = new FileInFlightLog(path);
    first.begin('a-sink-with-a-long-name');
    first.begin('k2');
    first.close();
    const second = new FileInFlightLog(path);
    assert.deepEqual([...second.atStart].sort(), ['a-sink-with-a-long-name', 'k2']);
    second.close();
    const third = new FileInFlightLog(path);
    assert.deepEqual([...third.atStart].sort(), ['a-sink-with-a-long-name', 'k2'], 'a restart before any delivery keeps them');
    third.begin('k1');
    assert.deepEqual(readInFlight(path), ['k1'], 'a shorter record replaces the longer one cleanly');
    assert.match(readFileSync(path, 'utf8'), /^\{.*\}\n *$/);
    third.end('k1');
    third.close();
    const fourth = new FileInFlightLog(path);
    assert.deepEqual(fourth.atStart, []);
    fourth.close();
  });

  it('keeps one file per group inside the data directory', () => {
    assert.equal(inFlightLogPath('/var/lib/monsoon', 'g1'), '/var/lib/monsoon/inflight-g1.json');
    assert.equal(inFlightLogPath('/d', '../x'), '/d/inflight-..%2Fx.json');
  });

  it('treats a damaged file as nothing in flight', () => {
    const path = join(dir, 'damaged.json');
    writeFileSync(path, '{"v":1,"infl');
    assert.deepEqual(readInFlight(path), []);
    const log = new FileInFlightLog(path);
    log.begin('k1');
    assert.deepEqual(readInFlight(path), ['k1']);
    log.close();
  });

  it('survives kill -9 of the process that writes it', async () => {
    const path = freshPath();
    const script = join(dir, 'writer.mjs');
    const moduleUrl = new URL('./inflight.js', import.meta.url).href;
    writeFileSync(
      script,
      `import { FileInFlightLog } from ${JSON.stringify(moduleUrl)};
const log = new FileInFlightLog(process.argv[2]);
for (let i = 0; i < 1000; i++) { log.begin('k2'); log.end('k2'); }
log.begin('k1');
log.begin('k3');
log.end('k3');
process.stdout.write('in flight\\n');
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, [script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('in flight') && resolve());
        child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
      });
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    assert.equal(child.signalCode, 'SIGKILL');
    const log = new FileInFlightLog(path);
    assert.deepEqual(log.atStart, ['k1']);
    log.close();
  });
});
