/** Test helpers shared by unit tests across stages (not used by the product). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/**
 * A maker of fresh temporary directories named `<prefix><random>` under the OS temp dir (or
 * MONSOON_TEST_TMPDIR, see scripts/run-tests.mjs); every one it made is removed after the test
 * file's tests. Call at module level (it registers an `after` hook).
 */
export function scratchDirs(prefix: string): () => Promise<string> {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  return async () => {
    const d = await mkdtemp(join(process.env.MONSOON_TEST_TMPDIR ?? tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
