// Runs every compiled test file under dist/ with node's test runner. The tests' scratch directories
// (collect/testkit.ts scratchDir, core/testing.ts scratchDirs) go under one directory of this run,
// MONSOON_TEST_TMPDIR, removed at the end: a test process that is killed (as crash tests do to their
// children) cannot remove its own.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filter = process.argv.slice(2);
const files = ['dist/src', 'dist/test']
  .filter((d) => { try { return statSync(d).isDirectory(); } catch { return false; } })
  .flatMap((d) => find(d))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const scratch = mkdtempSync(join(tmpdir(), 'monsoon-tests-'));
let r;
try {
  r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit', env: { ...process.env, MONSOON_TEST_TMPDIR: scratch } });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(r.status ?? 1);
