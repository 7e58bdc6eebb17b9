import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Utf8Strings } from './utf8-write.js';

describe('Utf8Strings', () => {
  const strings = [
    '',
    'a'.repeat(15),
    'a'.repeat(16),
    'é'.repeat(15),
    'é'.repeat(16),
    'x'.repeat(127),
    'x'.repeat(128),
    'ü'.repeat(64), // 128 bytes
    'lone \ud800',
    '\udc00 lone low, long enough to be kept',
    'pair 😀 and 語 in a longer string',
    'o'.repeat(1024),
    'o'.repeat(1025),
  ];

  it('measures and writes what Buffer.from writes, for each string written again and again', () => {
    const u = new Utf8Strings();
    const buf = Buffer.alloc(8192, 0xee);
    // rounds: first sightings, second (the bytes are kept), then from the kept bytes; and more than
    // four distinct long strings in turn, so kept ones are replaced
    for (let round = 0; round < 4; round++) {
      for (const s of strings) {
        const want = Buffer.from(s, 'utf8');
        assert.equal(u.length(s), want.length, `length of ${JSON.stringify(s.slice(0, 20))}`);
        buf.fill(0xee);
        const end = u.write(buf, 3, s);
        assert.equal(end, 3 + want.length);
        assert.deepEqual(buf.subarray(3, end), want, `bytes of ${JSON.stringify(s.slice(0, 20))}, round ${round}`);
        assert.equal(buf[end], 0xee, 'nothing written past the end');
        assert.equal(buf[2], 0xee, 'nothing written before the start');
      }
    }
  });

  it('measures right when a batch is sized before it is written: each string measured again and again first', () => {
    const u = new Utf8Strings();
    const buf = Buffer.alloc(8192, 0xee);
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 3; k++) for (const s of strings) assert.equal(u.length(s), Buffer.byteLength(s), `length of ${JSON.stringify(s.slice(0, 20))}`);
      for (const s of strings) {
        const end = u.write(buf, 0, s);
        assert.deepEqual(buf.subarray(0, end), Buffer.from(s, 'utf8'), `bytes of ${JSON.stringify(s.slice(0, 20))}, round ${round}`);
      }
    }
  });

  it('keeps the bytes of a recurring string and never hands them out for another string', () => {
    const u = new Utf8Strings();
    const buf = Buffer.alloc(256);
    const origin = 'agent-1/landing/0000001-abcdef';
    for (let i = 0; i < 100; i++) {
      // an origin that recurs, and distinct strings of the same length around it
      const other = `agent-1/landing/${String(i).padStart(7, '0')}-abcdeg`;
      assert.equal(other.length, origin.length);
      let end = u.write(buf, 0, origin);
      assert.equal(buf.toString('utf8', 0, end), origin);
      end = u.write(buf, 0, other);
      assert.equal(buf.toString('utf8', 0, end), other);
    }
  });
});
