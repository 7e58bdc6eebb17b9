import assert from 'node:assert/strict';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LogWriter, dataFilePath, scanFile } from './wal.js';
import { encodeTx } from './records.js';

/** One committed transaction's bytes: a single event whose body names it, and its commit record. */
const tx = (name: string): Buffer => encodeTx([{ headers: {}, body: Buffer.from(name) }], [], { name }).buf;

async function committedNames(dir: string, id: number): Promise<string[]> {
  const names: string[] = [];
  await scanFile(dataFilePath([dir], id), id, 0, {
    commit: (_puts, rec) => names.push(rec.markers.name!),
    corrupt: (offset, reason) => assert.fail(`log-${id} damaged at ${offset}: ${reason}`),
  });
  return names;
}

describe('file channel log writer', () => {
  it('writes appends that arrive during a sync at once, and applies every group in log order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-wal-'));
    const w = new LogWriter([dir], 1 << 30, 1);
    try {
      await w.open();
      const applied: Array<[string, number]> = [];
      const all: Array<Promise<void>> = [];
      for (let round = 0; round < 20; round++) {
        const name = `t${round}`;
        all.push(w.append(tx(name), (_f, o) => applied.push([name, o])));
        // every other append waits a little, so that it lands while an earlier group is syncing
        if (round % 2) await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(all);
      assert.deepEqual(applied.map(([n]) => n), Array.from({ length: 20 }, (_, i) => `t${i}`));
      for (let i = 1; i < applied.length; i++) assert.ok(applied[i]![1] > applied[i - 1]![1], 'offsets grow in log order');
      assert.deepEqual(await committedNames(dir, 1), Array.from({ length: 20 }, (_, i) => `t${i}`));
      assert.deepEqual(w.applied, { f: 1, o: applied[19]![1] + tx('t19').length });
    } finally {
      await w.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails a group written behind one whose sync failed, and goes on in a fresh file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-wal-'));
    const w = new LogWriter([dir], 1 << 30, 1);
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const datasync = proto.datasync;
    try {
      await w.open();
      await w.append(tx('ok'), () => {});
      let failNext = true;
      let syncing!: () => void;
      const firstSyncStarted = new Promise<void>((r) => (syncing = r));
      proto.datasync = async function (this: unknown) {
        if (!failNext) return datasync.call(this);
        failNext = false;
        syncing();
        await new Promise((r) => setTimeout(r, 50));
        throw new Error('injected fdatasync failure');
      };
      const applied: string[] = [];
      const a = w.append(tx('a'), () => applied.push('a'));
      await firstSyncStarted;
      // written right behind `a` while `a` syncs: its own sync succeeds, but it follows bytes that
      // may be lost, so it must fail too
      const b = w.append(tx('b'), () => applied.push('b'));
      await assert.rejects(a, /injected fdatasync failure/);
      await assert.rejects(b, /an earlier append .* failed/);
      let at: number | undefined;
      await w.append(tx('c'), (f) => {
        applied.push('c');
        at = f;
      });
      assert.deepEqual(applied, ['c']);
      assert.equal(at, 2, 'the append after the failure goes to the next data file');
      assert.deepEqual(await committedNames(dir, 2), ['c']);
      const first = await committedNames(dir, 1);
      assert.equal(first[0], 'ok');
    } finally {
      proto.datasync = datasync;
      await w.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
