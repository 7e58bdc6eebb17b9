import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openEmbeddedBus } from '../../bus/embedded/embedded.js';
import { acquireBus } from '../../bus/shared.js';
import { RowBatchBuilder } from '../../compute/row-batch.js';
import { LocalCluster } from '../../compute/runtime/local.js';
import { acquireKvStore } from '../../store/kv/shared.js';
import { cdrEtlOf, parseCdr } from './etl.js';
import { makeCdr, prng } from './record.js';
import cdrTopology, { buildCdrTopology, CDR_FAMILY, CDR_TABLE, DEAD_SOURCE_HEADER, ETL_FIELDS, recordIdentity, rowIdentity } from './topology.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-cdr-topology-'));
after(() => rmSync(root, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function archived(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => readFileSync(join(dir, n), 'latin1').split('\n').filter(Boolean));
}

describe('cdr topology', () => {
  it('stores and archives every good record once and sends each malformed one to the dead-letter topic naming its field', async () => {
    const busDir = join(root, 'bus');
    const kvDir = join(root, 'kv');
    const archiveDir = join(root, 'archive');
    const r = prng(3);
    const lines = Array.from({ length: 3000 }, (_, i) => makeCdr('run1', i, Date.UTC(2026, 10, 21), r, { malformedShare: 0.1 }));
    const good = lines.map((l) => parseCdr(l)).filter((p) => p.ok);
    const bad = lines.length - good.length;
    assert.ok(bad > 150 && good.length > 2500, `${bad} malformed records`);
    const seed = await openEmbeddedBus(busDir);
    await seed.admin.createTopic('cdr', { partitions: 4 });
    for (let i = 0; i < lines.length; i += 500) await seed.produce('cdr', lines.slice(i, i + 500).map((l, j) => ({ key: Buffer.from(String(i + j)), value: Buffer.from(l, 'latin1') })));
    await seed.close();

    const cluster = new LocalCluster();
    await cluster.submitTopology('cdr', {}, buildCdrTopology({ bus: busDir, kvStore: kvDir, archiveDir, storeLingerMs: 20 }));
    const kv = acquireKvStore(kvDir);
    const table = kv.store.table(CDR_TABLE);
    const deadline = Date.now() + 30_000;
    while ((table.count() < good.length || archived(archiveDir).length < good.length) && Date.now() < deadline) await sleep(50);
    // Storm's kill -w: the stores' last acks reach the spout, which commits them as it closes.
    await cluster.killTopology('cdr', 2);
    assert.equal(table.count(), good.length);
    for (const p of good.filter((_, i) => i % 97 === 0)) {
      const [row, qualifier, value] = cdrEtlOf(p.value);
      const cells = table.get(row, { columns: [`${CDR_FAMILY}:${qualifier}`] });
      assert.equal(cells[0]?.value.toString(), value);
    }
    await kv.release();
    const want = good.map((p) => {
      const v = cdrEtlOf(p.value);
      return [v[3], v[4], v[5], v[6], v[7]].join(',');
    });
    assert.deepEqual(archived(archiveDir).sort(), want.sort());

    const bus = await openEmbeddedBus(busDir);
    const consumer = await bus.consumer('check', ['cdr-dead'], { from: 'earliest' });
    const dead: { field: string; line: string }[] = [];
    for (let i = 0; i < 50 && dead.length < bad; i++) for (const b of await consumer.poll(1000, 100)) for (const rec of b.records) dead.push({ field: rec.headers['cdr.field']!, line: rec.value.toString('latin1') });
    const wantDead = lines.map((l) => ({ l, p: parseCdr(l) })).filter((x) => !x.p.ok);
    assert.deepEqual(dead.map((d) => d.line).sort(), wantDead.map((x) => x.l).sort());
    const byField = (xs: string[]) => xs.reduce<Record<string, number>>((m, f) => ({ ...m, [f]: (m[f] ?? 0) + 1 }), {});
    assert.deepEqual(byField(dead.map((d) => d.field)), byField(wantDead.map((x) => (x.p.ok ? '' : x.p.field))));
    await consumer.close();
    assert.deepEqual((await bus.lag('cdr-etl')).map((l) => l.lag), [0, 0, 0, 0], 'everything is committed');
    await bus.close();
  });

  it('sends each malformed record to the dead-letter topic once, when everything is read again by a new topology', async () => {
    const dir = join(root, 'replay');
    const busDir = join(dir, 'bus');
    const r = prng(5);
    const lines = Array.from({ length: 1200 }, (_, i) => makeCdr('run2', i, Date.UTC(2026, 10, 21), r, { malformedShare: 0.2 }));
    const wantDead = lines.filter((l) => !parseCdr(l).ok);
    assert.ok(wantDead.length > 150, `${wantDead.length} malformed records`);
    const seed = await openEmbeddedBus(busDir);
    await seed.admin.createTopic('cdr', { partitions: 2 });
    await seed.produce('cdr', lines.map((l, j) => ({ key: Buffer.from(String(j)), value: Buffer.from(l, 'latin1') })));
    await seed.close();
    /** Runs the topology with its own spout group until that group has read and committed everything. */
    const run = async (group: string) => {
      const cluster = new LocalCluster();
      await cluster.submitTopology('cdr', {}, buildCdrTopology({ bus: busDir, kvStore: join(dir, 'kv'), archiveDir: join(dir, 'archive'), group, storeLingerMs: 20 }));
      const deadline = Date.now() + 30_000;
      // the topology's own bus handle (the directory is locked by its one owner)
      const check = await acquireBus(busDir);
      let caughtUp = false;
      while (!caughtUp && Date.now() < deadline) {
        const lag = await check.bus.lag(group).catch(() => []);
        caughtUp = lag.length === 2 && lag.every((l) => l.lag === 0);
        if (!caughtUp) await sleep(100);
      }
      await check.release();
      // committed only once every record's tree, dead letters included, was acked
      assert.ok(caughtUp, `spout group ${group} read and committed everything within 30 s`);
      await cluster.killTopology('cdr', 2);
    };
    await run('first');
    // a new group reads the topic from its start: every malformed record is rejected again
    await run('again');
    const bus = await openEmbeddedBus(busDir);
    const consumer = await bus.consumer('check', ['cdr-dead'], { from: 'earliest' });
    const dead: { source: string; line: string }[] = [];
    for (let i = 0; i < 20; i++) for (const b of await consumer.poll(1000, 100)) for (const rec of b.records) dead.push({ source: rec.headers[DEAD_SOURCE_HEADER]!, line: rec.value.toString('latin1') });
    await consumer.close();
    await bus.close();
    assert.equal(dead.length, wantDead.length, 'each malformed record once');
    assert.deepEqual(dead.map((d) => d.line).sort(), [...wantDead].sort());
    assert.equal(new Set(dead.map((d) => d.source)).size, dead.length);
    assert.ok(dead.every((d) => /^cdr\/[01]\/\d+$/.test(d.source)), dead[0]?.source);
  });

  it("reads a row's record identity from its bytes as recordIdentity reads the string", () => {
    const ids = ['run1-0', 'run1-42', 'a-b-7', 'r-', '-5', 'x', 'run-12a', 'run- 12', 'run-1e3', 'run-123456789012345', 'run-1234567890123456', 'Zoë-9', 'run1-43'];
    const out = new RowBatchBuilder(ETL_FIELDS, ids.length);
    for (const id of ids) {
      for (const f of ETL_FIELDS) {
        out.text(f === 'record_id' ? id : '');
        out.endField();
      }
      out.endRow();
    }
    const b = out.finish();
    const of = rowIdentity();
    assert.deepEqual(ids.map((_, i) => of(b, i)), ids.map((id) => recordIdentity(id)));
  });
});

describe('cdr topology store batching', () => {
  // A tick writes what is buffered: a tick shorter than the linger would cut every batch short.
  const tickOf = (t: ReturnType<typeof buildCdrTopology>, id: string): number => {
    const src = t.components.get(id) as () => { getComponentConfiguration(): Record<string, unknown> };
    return Number(src().getComponentConfiguration()['topology.tick.tuple.freq.secs']);
  };
  for (const [linger, tick] of [[undefined, 1], [200, 1], [3000, 3]] as const) {
    it(`ticks the KV and archive bolts every ${tick} s with a store linger of ${linger ?? 'the default'} ms`, () => {
      const t = buildCdrTopology({ bus: join(root, 'b'), kvStore: join(root, 'k'), archiveDir: join(root, 'a'), storeLingerMs: linger });
      assert.equal(tickOf(t, 'kv'), tick);
      assert.equal(tickOf(t, 'archive'), tick);
    });
  }

  it('refuses a store linger longer than a quarter of the message timeout, naming the key', () => {
    const conf = { 'cdr.bus': join(root, 'b'), 'cdr.store': join(root, 'k'), 'cdr.archive': join(root, 'a') };
    assert.throws(() => cdrTopology({ config: { ...conf, 'cdr.store.linger.ms': 20_000 } }), /cdr\.store\.linger\.ms must be a whole number from 0 to 15000, got 20000/);
    assert.ok(cdrTopology({ config: { ...conf, 'cdr.store.linger.ms': 15_000 } }));
    assert.throws(() => cdrTopology({ config: { ...conf, 'cdr.store.idle.ms': -1 } }), /cdr\.store\.idle\.ms must be a whole number from 0 to 15000, got -1/);
    assert.ok(cdrTopology({ config: { ...conf, 'cdr.store.idle.ms': 0 } }));
  });
});
