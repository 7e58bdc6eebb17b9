import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TrackerDir, type Progress } from './progress.js';

const dir = mkdtempSync(join(tmpdir(), 'monsoon-tracker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const at = (offset: number): Progress => ({ path: '/spool/a.log', id: 'id-a', ino: 1, offset, seq: offset });

describe('spool tracker meta file', () => {
  it('ends with the newest position when positions come faster than the writes', async () => {
    const t = new TrackerDir(dir);
    for (let i = 1; i <= 50; i++) t.writeMeta(at(i * 100));
    await t.settled();
    assert.deepEqual(JSON.parse(readFileSync(join(dir, '.flumespool-main.meta'), 'utf8')), at(5000));
  });

  it('reports a failed write: from settled, or from the next writeMeta', async () => {
    const gone = new TrackerDir(join(dir, 'missing'));
    gone.writeMeta(at(1));
    await assert.rejects(gone.settled(), /ENOENT/);
    await gone.settled(); // reported once
    gone.writeMeta(at(2));
    const inFlight = () => (gone as unknown as { metaWriting?: Promise<void> }).metaWriting;
    for (const end = Date.now() + 10_000; inFlight() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
    assert.throws(() => gone.writeMeta(at(3)), /ENOENT/, 'the reading loop learns of it at its next batch');
  });
});
