import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Utf8Cache } from './utf8-cache.js';

describe('Utf8Cache', () => {
  it('always decodes exactly what Buffer#toString does, recurring or not', () => {
    const cache = new Utf8Cache(8, 16);
    let seed = 1;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    // few slots, and strings that share length, first, middle and last byte: many collisions
    const recurring = ['monsoon.origin', 'monsoon.seq', 'host/a1/r1/ü', 'aXXXXb', 'aXYXXb', 'aXXYXb', ''];
    for (let i = 0; i < 20_000; i++) {
      const s = rnd(3) === 0 ? String(rnd(1_000_000)) : rnd(10) === 0 ? 'x'.repeat(10 + rnd(20)) + '\ud800' : recurring[rnd(recurring.length)]!;
      // and short raw bytes, ASCII or not, valid UTF-8 or not (decoded without a native call when ASCII)
      const body = rnd(4) === 0 ? Buffer.from(Array.from({ length: 1 + rnd(9) }, () => (rnd(3) === 0 ? rnd(256) : 0x20 + rnd(95)))) : Buffer.from(s);
      const buf = Buffer.concat([Buffer.from([rnd(256)]), body, Buffer.from([rnd(256)])]);
      assert.equal(cache.decode(buf, 1, buf.length - 1), buf.toString('utf8', 1, buf.length - 1), `decoding ${JSON.stringify([...body])}`);
    }
  });
});
