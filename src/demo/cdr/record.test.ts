import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cdrRowKey, parseCdr, parseCdrTime } from './etl.js';
import { accountOf, CDR_FIELD_COUNT, CDR_FIELDS, CdrFileBuilder, firstRecordOf, formatCdrTime, makeCdr, prng } from './record.js';

describe('call-detail records', () => {
  it('have 100 fields, Latin-1 text, some fields over 1,000 bytes, and parse back', () => {
    assert.equal(CDR_FIELDS.length, CDR_FIELD_COUNT);
    const r = prng(7);
    let long = 0;
    let latin1 = 0;
    const now = Date.UTC(2026, 10, 21, 12, 0, 0);
    for (let i = 0; i < 2000; i++) {
      const line = makeCdr('run1', i, now, r);
      assert.ok(!line.includes('\n'));
      assert.equal(Buffer.from(line, 'latin1').toString('latin1'), line, 'ISO-8859-1 encodable');
      if (/[^\x00-\x7f]/.test(line)) latin1++;
      const f = line.split(',');
      assert.equal(f.length, 100);
      if (f.some((x) => x.length > 1000)) long++;
      const p = parseCdr(line);
      assert.ok(p.ok, JSON.stringify(p));
      assert.equal(p.value.recordId, `run1-${i}`);
      assert.equal(p.value.account, f[2]);
      assert.ok(Math.abs(p.value.time - now) <= 600_000);
    }
    assert.ok(long > 40 && long < 200, `about 5% of records carry a long field (${long} of 2000)`);
    assert.ok(latin1 > 1000, 'names carry Latin-1 letters');
  });

  it('are reproducible from the seed', () => {
    assert.equal(makeCdr('x', 1, 0, prng(3)), makeCdr('x', 1, 0, prng(3)));
    assert.notEqual(makeCdr('x', 1, 0, prng(3)), makeCdr('x', 1, 0, prng(4)));
  });

  it('malformed ones are rejected naming the field', () => {
    const r = prng(11);
    const fields = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = parseCdr(makeCdr('m', i, 0, r, { malformedShare: 1 }));
      assert.equal(p.ok, false);
      if (!p.ok) fields.add(p.field);
    }
    assert.deepEqual([...fields].sort(), ['record', 'remote_ipv4', 'start_time']);
    const ok = makeCdr('m', 1, 0, prng(1)).split(',');
    const bad = (i: number, v: string) => parseCdr(ok.map((x, k) => (k === i ? v : x)).join(','));
    assert.deepEqual(bad(2, 'abc'), { ok: false, field: 'account', reason: 'not an account number: "abc"' });
    assert.equal((bad(8, '10.0.0.256') as { field: string }).field, 'local_ipv4');
    assert.equal((bad(1, '') as { field: string }).field, 'record_id');
  });

  it('times are UTC YYYY-MM-DD HH:MM:SS and impossible dates are refused', () => {
    const ms = Date.UTC(2026, 1, 28, 23, 59, 58);
    assert.equal(formatCdrTime(ms), '2026-02-28 23:59:58');
    assert.equal(parseCdrTime('2026-02-28 23:59:58'), ms);
    assert.ok(Number.isNaN(parseCdrTime('2026-02-30 00:00:00')));
    assert.ok(Number.isNaN(parseCdrTime('2026-02-28T23:59:58')));
  });

  it('row keys are the account reversed', () => {
    assert.equal(cdrRowKey('8613812345678'), '8765432183168');
  });

  it("firstRecordOf predicts a built file's first account and start time, as the ETL reads them", () => {
    const files = new CdrFileBuilder();
    for (let seed = 0; seed < 300; seed++) {
      const now = Date.UTC(2026, 10, 22, 0, 0, 0, 0) + seed * 3_333_337; // ms parts and midnights
      const first = files.build('run', seed * 10, 3, now, prng(seed)).toString('latin1').split('\n')[0]!;
      const p = parseCdr(first);
      assert.ok(p.ok, first);
      assert.deepEqual(firstRecordOf(prng(seed), now), { account: p.value.account, startMs: p.value.time }, `seed ${seed}`);
    }
  });
});

describe('call-detail records, field by field', () => {
  /** A prng that also records its draws. */
  const recording = (seed: number) => {
    const r = prng(seed);
    const draws: number[] = [];
    return { draws, r: () => { const x = r(); draws.push(x); return x; } };
  };

  it('carry the subscriber of the first draw, the start time of the second and well-formed fields', () => {
    // Nows on both sides of a midnight and before 1970, so the cached date part must change.
    const nows = [Date.UTC(2026, 10, 21, 0, 4, 0, 321), Date.UTC(2024, 1, 29, 23, 58, 0), -86_400_000 * 400 + 12_345, 0];
    const extRuns = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const now = nows[i % nows.length]! + i * 7919;
      const { r, draws } = recording(i);
      const line = makeCdr('gen', i, now, r);
      const f = line.split(',');
      assert.equal(f.length, CDR_FIELD_COUNT, line);
      const sub = (draws[0]! * 10_000) | 0;
      const start = now - ((draws[1]! * 600_000) | 0);
      assert.equal(f[1], `gen-${i}`);
      assert.equal(f[2], accountOf(sub));
      assert.equal(f[3], `46000${String(sub).padStart(10, '0')}`);
      assert.match(f[4]!, /^35\d{13}$/);
      assert.equal(f[5], formatCdrTime(start));
      const dur = Number(f[7]);
      assert.ok(Number.isInteger(dur) && dur >= 0 && dur < 1800);
      assert.equal(f[6], formatCdrTime(start + dur * 1000));
      assert.equal(parseCdrTime(f[6]!) - parseCdrTime(f[5]!), dur * 1000);
      const [l0, ...l] = f[8]!.split('.').map(Number);
      assert.ok(l0 === 10 && l.length === 3 && l.every((x) => x >= 0 && x <= 255) && l[2]! >= 1 && l[2]! <= 254, f[8]);
      const [r0, ...rest] = f[10]!.split('.').map(Number);
      assert.ok(r0! >= 100 && r0! < 200 && rest.length === 3 && rest.every((x) => x >= 0 && x <= 255), f[10]);
      assert.match(f[27]!, /^172\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
      for (const k of [7, 9, 13, 14, 15, 16, 19]) assert.match(f[k]!, /^(0|[1-9]\d*)$/, `field ${k}: ${f[k]}`);
      for (let k = 30; k < 97; k++) {
        if ((k & 3) === 0) assert.match(f[k]!, /^(0|[1-9]\d{0,5})$/, `field ${k}`);
        else if ((k & 3) === 1) assert.equal(f[k], '', `field ${k}`);
        else assert.match(f[k]!, /^[a-z]{4,15}$/, `field ${k}`);
      }
      extRuns.add(f.slice(30, 97).join(','));
      assert.match(f[97]!, /^https:\/\/cdn\.example\.net\/v\/[a-z0-9]{20,1599}$/);
      const p = parseCdr(line);
      assert.ok(p.ok, JSON.stringify(p));
      assert.deepEqual(p.value, { recordId: `gen-${i}`, account: accountOf(sub), localIpv4: f[8], remoteIpv4: f[10], time: Math.floor(start / 1000) * 1000 });
    }
    // the ext fields come from a pool of 2,048 runs: 4,000 draws find ~1,750 of them
    assert.ok(extRuns.size > 1500, `only ${extRuns.size} distinct ext_30 … ext_96 runs in 4,000 records`);
  });

  it('malformed ones are cut to 40–79 fields or carry a bad address or time', () => {
    const r = prng(13);
    const counts = new Set<number>();
    for (let i = 0; i < 600; i++) {
      const f = makeCdr('m', i, Date.UTC(2026, 0, 1), r, { malformedShare: 1 }).split(',');
      if (f.length !== CDR_FIELD_COUNT) {
        assert.ok(f.length >= 40 && f.length < 80, String(f.length));
        counts.add(f.length);
      } else {
        assert.ok(f[10] === '300.1.2' || f[5] === 'not-a-time');
      }
    }
    assert.ok(counts.size > 20, 'cut lengths vary');
  });

  it('a file is the records makeCdr builds from the same seed, one per line, and repeats from the seed', () => {
    const b = new CdrFileBuilder();
    const now = Date.UTC(2026, 5, 1, 12);
    for (const [seed, first, n, opts] of [[1, 0, 1, {}], [99, 5000, 700, { malformedShare: 0.1 }], [7, 10, 3000, { longFieldShare: 0.5 }]] as const) {
      const r = prng(seed);
      const lines = Array.from({ length: n }, (_, i) => makeCdr('run9', first + i, now, r, opts));
      const file = b.build('run9', first, n, now, prng(seed), opts);
      assert.equal(file.toString('latin1'), lines.join('\n') + '\n');
      assert.deepEqual(b.build('run9', first, n, now, prng(seed), opts), Buffer.from(lines.join('\n') + '\n', 'latin1'));
      // The probe of bench/e2e.ts and the demo: the first draw of a file's prng is its first record's subscriber.
      assert.equal(lines[0]!.split(',')[2], accountOf((prng(seed)() * 10_000) | 0));
    }
  });

  it('parseCdrTime accepts exactly the times formatCdrTime writes', () => {
    // The definition: Date.UTC of the parts, if formatting that gives the same text back.
    const reference = (s: string) => {
      const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(s);
      if (!m) return NaN;
      const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
      return formatCdrTime(ms) === s ? ms : NaN;
    };
    for (const s of ['2026-02-30 00:00:00', '2025-02-29 12:00:00', '1900-02-29 00:00:00', '2026-04-31 00:00:00', '2026-13-01 00:00:00', '2026-00-10 00:00:00', '2026-01-00 00:00:00', '2026-01-01 24:00:00', '2026-01-01 23:60:00', '2026-01-01 23:59:60', '0999-12-31 23:59:59', '0050-01-01 00:00:00', '+026-01-01 00:00:00', '2026-1-01 00:00:00', '2026-01-01 00:00:00 ', ' 2026-01-01 00:00:00', '２026-01-01 00:00:00']) {
      assert.ok(Number.isNaN(parseCdrTime(s)), s);
    }
    for (const s of ['2024-02-29 00:00:00', '2000-02-29 23:59:59', '1000-01-01 00:00:00', '9999-12-31 23:59:59', '1969-12-31 23:59:59', '1970-01-01 00:00:00']) assert.equal(parseCdrTime(s), reference(s), s);
    const r = prng(21);
    const d2 = (max: number) => String((r() * max) | 0).padStart(2, '0');
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor((r() * 2 - 0.8) * 2e14 / 1000) * 1000;
      const good = formatCdrTime(ms);
      assert.equal(parseCdrTime(good), reference(good), good);
      const near = `${String(900 + ((r() * 9200) | 0)).padStart(4, '0')}-${d2(14)}-${d2(33)} ${d2(26)}:${d2(62)}:${d2(62)}`;
      assert.equal(parseCdrTime(near), reference(near), near);
    }
  });
});
