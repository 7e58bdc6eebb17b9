import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeCdr, parseCdr, parseCdrBytes, prng } from './record.js';

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
