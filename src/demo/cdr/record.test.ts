import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CDR_FIELD_COUNT, CDR_FIELDS, cdrRowKey, formatCdrTime, makeCdr, parseCdr, parseCdrTime, prng } from './record.js';

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
});
