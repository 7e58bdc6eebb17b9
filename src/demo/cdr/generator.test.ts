import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CdrGenerator } from './generator.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-cdr-gen-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = join(root, String(++n));
  return { dir: join(d, 'landing'), statePath: join(d, 'generator.json') };
};

/** Record ids of every complete file; fails on a .tmp left behind. */
function ids(dir: string, into: string[] = [], allowTmp = false): string[] {
  for (const f of readdirSync(dir).sort()) {
    if (allowTmp && f.endsWith('.tmp')) continue;
    assert.ok(f.endsWith('.cdr'), `unexpected file ${f}`);
    for (const line of readFileSync(join(dir, f), 'latin1').split('\n')) if (line) into.push(line.split(',')[1]!);
  }
  return into;
}

function assertExactlyOnce(got: string[], total: number): void {
  assert.equal(got.length, total);
  const seqs = new Set(got.map((id) => Number(id.split('-').pop())));
  assert.equal(seqs.size, total, 'no record id twice');
  for (let i = 0; i < total; i++) assert.ok(seqs.has(i), `record ${i} missing`);
}

describe('CDR generator', () => {
  it('writes whole files and resumes where it stopped, also after the files were consumed', async () => {
    const o = fresh();
    const g = new CdrGenerator({ ...o, records: 2500, fileRecords: 1000, seed: 1 });
    await g.run();
    assert.equal(g.generated, 2500);
    assert.equal(readdirSync(o.dir).length, 3);
    // The agent consumes (deletes) what landed; a second start with a bigger target goes on from 2500.
    const seen = ids(o.dir);
    for (const f of readdirSync(o.dir)) unlinkSync(join(o.dir, f));
    const g2 = new CdrGenerator({ ...o, records: 4000, fileRecords: 1000 });
    await g2.run();
    assertExactlyOnce(ids(o.dir, seen), 4000);
  });

  it('finishes a counted file whose rename a crash cut off', async () => {
    const o = fresh();
    await new CdrGenerator({ ...o, records: 100, fileRecords: 100, seed: 2 }).run();
    const [done] = readdirSync(o.dir);
    const name = done!.replace(/\.cdr$/, '');
    const state = JSON.parse(readFileSync(o.statePath, 'utf8'));
    writeFileSync(o.statePath, JSON.stringify({ ...state, pending: name }));
    rmSync(join(o.dir, done!));
    writeFileSync(join(o.dir, `${name}.tmp`), 'r,x\n');
    const g = new CdrGenerator({ ...o, records: 100 });
    await g.open();
    assert.deepEqual(readdirSync(o.dir), [`${name}.cdr`]);
    assert.equal(g.generated, 100);
  });

  it('refuses a negative record count or rate', () => {
    assert.throws(() => new CdrGenerator({ dir: root, statePath: join(root, 's'), records: -1 }), /records must be/);
    assert.throws(() => new CdrGenerator({ dir: root, statePath: join(root, 's'), records: 1, rate: -5 }), /rate must be/);
  });

  it('killed with SIGKILL while writing, then restarted: every record lands exactly once', async () => {
    const o = fresh();
    const mod = pathToFileURL(join(import.meta.dirname, 'generator.js')).href;
    const total = 40_000;
    const script = `import { CdrGenerator } from ${JSON.stringify(mod)};
      await new CdrGenerator({ dir: ${JSON.stringify(o.dir)}, statePath: ${JSON.stringify(o.statePath)}, records: ${total}, fileRecords: 700, seed: 5 }).run();`;
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      if (round < 3) {
        // Killed once it is writing: after the landing directory holds a file more than before.
        const before = existsSync(o.dir) ? readdirSync(o.dir).length : 0;
        const end = Date.now() + 20_000;
        while (Date.now() < end && (!existsSync(o.dir) || readdirSync(o.dir).length <= before)) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, round * 40));
        child.kill('SIGKILL');
        await exited;
        if (round === 0) assert.ok(ids(o.dir, [], true).length < total, 'the first kill lands mid-run');
      } else {
        assert.equal(await exited, 0);
      }
    }
    assertExactlyOnce(ids(o.dir), total);
  });
});
