import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldText, RowBatchBuilder } from '../../compute/row-batch.js';
import { cdrEtlInto, cdrRowKey, ETL_FIELDS, parseCdr, parseCdrBytes } from './etl.js';
import { makeCdr, prng } from './record.js';

describe('parseCdrBytes', () => {
  it('agrees with parseCdr on good and malformed records, as UTF-8 and as ISO-8859-1 bytes', () => {
    const r = prng(7);
    let bad = 0;
    for (let i = 0; i < 3000; i++) {
      const line = makeCdr('run', i, Date.UTC(2026, 0, 1), r, { malformedShare: 0.3 });
      const want = parseCdr(line);
      if (!want.ok) bad++;
      assert.deepEqual(parseCdrBytes(Buffer.from(line, 'utf8')), want, line.slice(0, 80));
      assert.deepEqual(parseCdrBytes(Buffer.from(line, 'latin1')), want, line.slice(0, 80));
    }
    assert.ok(bad > 500, 'malformed records were exercised');
    for (const odd of ['', ',', 'a,b', ','.repeat(99), ','.repeat(100)]) assert.deepEqual(parseCdrBytes(Buffer.from(odd)), parseCdr(odd), JSON.stringify(odd));
  });
});

/** cdrEtlInto on one record, its row read back as the ETL's values (time as a number). */
function etlRow(buf: Buffer) {
  const out = new RowBatchBuilder(ETL_FIELDS, 1, 16); // a small start: rows must grow it
  const bad = cdrEtlInto(buf, out);
  if (bad) return { ok: false, ...bad };
  const b = out.finish();
  assert.equal(b.count, 1);
  const v: (string | number)[] = ETL_FIELDS.map((_, f) => fieldText(b, 0, f));
  v[7] = Number(v[7]);
  return { ok: true, values: v };
}

describe('cdrEtlInto', () => {
  /** The ETL tuple values by definition: parseCdr, then JSON.stringify, cdrRowKey and the padded qualifier. */
  const reference = (line: string) => {
    const p = parseCdr(line);
    if (!p.ok) return p;
    const v = p.value;
    const value = JSON.stringify({ local_ipv4: v.localIpv4, remote_ipv4: v.remoteIpv4 });
    return { ok: true, values: [cdrRowKey(v.account), `${String(v.time).padStart(13, '0')}#${v.recordId}`, value, v.recordId, v.account, v.localIpv4, v.remoteIpv4, v.time] };
  };
  const odd = ['0', '1', '9', '.', '-', ':', ' ', '"', '\\', 'é', '\u0001', '\u2028', '25', '5', 'x', ',', '300', '00', 'T', '\n'];

  it('gives the values and rejections of parseCdr + JSON.stringify, also for damaged fields, odd record ids and any byte offset', () => {
    const r = prng(17);
    const arena = Buffer.alloc(16_384);
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 6000; i++) {
      // Times from 1970 back to before year 1000, record ids with quotes, backslashes, tabs, non-ASCII letters or over 512 bytes.
      const now = Date.UTC(2026, 0, 1) - (i % 40) * 1.3e12 + i * 1e6;
      const run = ['run', 'r"q', 'back\\slash', 'tab\there', 'Zoë', 'x'.repeat(600)][i % 6]!;
      const f = makeCdr(run, i, now, r, { malformedShare: 0.1 }).split(',');
      if (r() < 0.6) {
        const k = [1, 2, 5, 8, 10][(r() * 5) | 0]!;
        const s = [...f[k]!];
        for (let m = (r() * 3) | 0; m >= 0; m--) {
          const at = (r() * (s.length + 1)) | 0;
          const op = r();
          const c = odd[(r() * odd.length) | 0]!;
          if (op < 0.4) s[at] = c;
          else if (op < 0.7) s.splice(at, 1);
          else s.splice(at, 0, c);
        }
        f[k] = s.join('');
      }
      const line = f.join(',');
      const want = reference(line);
      if (want.ok) accepted++;
      else rejected++;
      for (const enc of ['utf8', 'latin1'] as const) {
        if (enc === 'latin1' && /[^\x00-\xff]/.test(line)) continue;
        const bytes = Buffer.from(line, enc);
        const at = i % 8;
        bytes.copy(arena, at);
        const got = etlRow(arena.subarray(at, at + bytes.length));
        if (enc === 'utf8' || !/[\x80-\xff]/.test(line)) assert.deepEqual(got, want, line.slice(0, 100));
        else assert.deepEqual(got, reference(bytes.toString('utf8')), line.slice(0, 100));
      }
    }
    assert.ok(accepted > 1500 && rejected > 1500, `both paths exercised (${accepted} accepted, ${rejected} rejected)`);
    for (const s of ['', ',', 'a,b', ','.repeat(99), ','.repeat(100), ','.repeat(98) + 'é']) assert.deepEqual(etlRow(Buffer.from(s)), reference(s), JSON.stringify(s));
  });
});
