import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { OutputCollector, TopologyContext } from '../../compute/api.js';
import { fieldText, RowBatchBuilder } from '../../compute/row-batch.js';
import { Fields, StreamInfo, Tuple } from '../../compute/tuple.js';
import { ArchiveBolt } from './archive.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-archive-bolt-'));
after(() => rmSync(root, { recursive: true, force: true }));

const info = new StreamInfo('etl', 'default', new Fields('id', 'text'));
const tuple = (seq: number) => new Tuple([`run-${seq}`, `line ${seq}`], info, 1, 32);

class Recorder {
  acked: Tuple[] = [];
  failed: Tuple[] = [];
  errors: unknown[] = [];
  collector(): OutputCollector {
    return {
      emit: () => {},
      emitDirect: () => {},
      ack: (t: Tuple) => this.acked.push(t),
      fail: (t: Tuple) => this.failed.push(t),
      resetTimeout: () => {},
      reportError: (e: unknown) => this.errors.push(e),
    } as OutputCollector;
  }
}

const ctx = { getThisComponentId: () => 'archive', getThisTaskIndex: () => 0 } as TopologyContext;

async function open(dir: string, rec: Recorder): Promise<ArchiveBolt> {
  const bolt = new ArchiveBolt({ path: dir, fields: ['id', 'text'], identity: (t) => ({ origin: 'run', seq: Number(t.getStringByField('id').slice(4)) }) });
  await bolt.prepare({}, ctx, rec.collector());
  return bolt;
}

async function settle(rec: Recorder, n: number): Promise<void> {
  for (let i = 0; i < 500 && rec.acked.length + rec.failed.length < n; i++) await new Promise((r) => setTimeout(r, 5));
}

function lines(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean));
}

describe('ArchiveBolt', () => {
  it('acks after the batch is written, drops replays by identity, and cuts off an unrecorded batch after a crash', async () => {
    const dir = join(root, 'a');
    const rec = new Recorder();
    let bolt = await open(dir, rec);
    for (let i = 0; i < 100; i++) bolt.execute(tuple(i));
    await settle(rec, 100);
    assert.equal(rec.acked.length, 100);
    // a crash after a write that was never recorded: bytes past the recorded position
    const tmp = readdirSync(dir).find((n) => n.endsWith('.tmp'))!;
    appendFileSync(join(dir, tmp), 'run-100,unrecorded\n');
    // restart without a clean stop, then the spout replays 50..149
    const rec2 = new Recorder();
    bolt = await open(dir, rec2);
    for (let i = 50; i < 150; i++) bolt.execute(tuple(i));
    await settle(rec2, 100);
    assert.equal(rec2.acked.length, 100, 'replays are acked too');
    await bolt.cleanup();
    const all = lines(dir);
    assert.equal(all.length, 150);
    assert.equal(new Set(all).size, 150);
    assert.ok(!all.includes('run-100,unrecorded'));
    assert.ok(readdirSync(dir).every((n) => !n.endsWith('.tmp')), 'a clean stop moves the file to its final name');
  });

  it('keeps runs idle for 10 s in a cold state file, and still drops their replays after a restart', async () => {
    const dir = join(root, 'cold');
    let clock = 1_000;
    const origin = (seq: number) => `file-${Math.floor(seq / 10)}`;
    const openAt = async (rec: Recorder) => {
      const bolt = new ArchiveBolt({ path: dir, fields: ['id', 'text'], now: () => clock, identity: (t) => { const seq = Number(t.getStringByField('id').slice(4)); return { origin: origin(seq), seq }; } });
      await bolt.prepare({}, ctx, rec.collector());
      return bolt;
    };
    const rec = new Recorder();
    let bolt = await openAt(rec);
    for (let i = 0; i < 60; i++) {
      bolt.execute(tuple(i));
      if (i % 10 === 9) {
        await settle(rec, i + 1);
        clock += 4_000; // a new file every 4 s
      }
    }
    const state = join(dir, '.state', 'archive-0.json');
    const hot = Object.keys((JSON.parse((JSON.parse(readFileSync(state, 'utf8')) as { ids: string }).ids) as { o: object }).o);
    const cold = Object.keys((JSON.parse(readFileSync(`${state}.cold`, 'utf8')) as { o: object }).o);
    assert.ok(hot.length < 6 && cold.length > 0 && hot.every((o) => !cold.includes(o)), `hot ${hot.join(',')} / cold ${cold.join(',')}`);
    // restart without a clean stop; every tuple is replayed
    const rec2 = new Recorder();
    bolt = await openAt(rec2);
    for (let i = 0; i < 60; i++) bolt.execute(tuple(i));
    await settle(rec2, 60);
    await bolt.cleanup();
    const all = lines(dir);
    assert.equal(all.length, 60);
    assert.equal(new Set(all).size, 60);
  });

  it('archives the rows of row batches: replayed and repeated rows once, an unrecorded batch cut off after a crash', async () => {
    const dir = join(root, 'rows');
    const batchInfo = new StreamInfo('etl', 'default', new Fields('rows'));
    const batch = (seqs: number[]) => {
      const out = new RowBatchBuilder(['text', 'skipped', 'id'], seqs.length);
      for (const seq of seqs) {
        for (const v of [`line ${seq}`, 'not archived', `run-${seq}`]) {
          out.text(v);
          out.endField();
        }
        out.endRow();
      }
      return new Tuple([out.finish()], batchInfo, 1, 64);
    };
    const openRows = async (rec: Recorder) => {
      const bolt = new ArchiveBolt({ path: dir, fields: ['id', 'text'], rowsField: 'rows', rowIdentity: (b, r) => ({ origin: 'run', seq: Number(fieldText(b, r, 2).slice(4)) }), maxBatch: 50 });
      await bolt.prepare({}, ctx, rec.collector());
      return bolt;
    };
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    const rec = new Recorder();
    let bolt = await openRows(rec);
    for (let i = 0; i < 100; i += 20) bolt.execute(batch(range(i, i + 20)));
    await settle(rec, 5);
    assert.equal(rec.acked.length, 5);
    const tmp = readdirSync(dir).find((n) => n.endsWith('.tmp'))!;
    appendFileSync(join(dir, tmp), 'run-100,unrecorded\n');
    // restart without a clean stop; replays overlap what was archived, and one batch repeats a record
    const rec2 = new Recorder();
    bolt = await openRows(rec2);
    bolt.execute(batch(range(90, 120)));
    bolt.execute(batch([120, 121, 120, 95]));
    await settle(rec2, 2);
    assert.equal(rec2.acked.length, 2, 'batches with replays are acked');
    assert.equal(bolt.duplicates, 10 + 2);
    await bolt.cleanup();
    const all = lines(dir);
    assert.deepEqual(all.sort(), range(0, 122).map((i) => `run-${i},line ${i}`).sort());
  });
});
