import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Event } from '../../../core/event.js';
import { REC_COMMIT, REC_EVENT, decodeCommit, decodeEvent, encodeTx, frameAt } from './records.js';

const long = 'x'.repeat(63) + 'é' + 'y'.repeat(100);
const headers: Array<Record<string, string>> = [
  { 'monsoon.origin': 'host/a1/r1/123-abc', 'monsoon.seq': '42' },
  { k: '', '': 'empty name', 'café': 'naïve', emoji: '😀 ok', ascii63: 'a'.repeat(63), ascii64: 'b'.repeat(64) },
  { long, [long]: 'v', '\u007f': '\u0080' },
  {},
];

describe('file channel records', () => {
  it('round-trips ASCII, non-ASCII, empty and long header strings and commit markers', () => {
    const puts: Event[] = headers.map((h, i) => ({ headers: h, body: Buffer.from(`body ${i} ✓`) }));
    const markers = { 'taildir.r1': '{"pos":12}', 'ünï': long };
    const enc = encodeTx(puts, [{ f: 3, o: 8, l: 100 }], markers);
    let off = 0;
    for (let i = 0; i < puts.length; i++) {
      assert.equal(enc.offsets[i], off);
      const fr = frameAt(enc.buf, off);
      assert.ok(fr.ok);
      assert.equal(fr.type, REC_EVENT);
      assert.equal(fr.end - off, enc.lengths[i]);
      const e = decodeEvent(enc.buf, fr.start, fr.end);
      assert.deepEqual(e.headers, puts[i]!.headers);
      assert.deepEqual(e.body, puts[i]!.body);
      off = fr.end;
    }
    const fr = frameAt(enc.buf, off);
    assert.ok(fr.ok);
    assert.equal(fr.type, REC_COMMIT);
    assert.equal(fr.end, enc.buf.length);
    assert.deepEqual(decodeCommit(enc.buf, fr.start, fr.end), { putCount: puts.length, takes: [{ f: 3, o: 8, l: 100 }], markers });
  });

  it('writes long header values right however many different ones alternate', () => {
    const values = Array.from({ length: 7 }, (_, i) => `value-${i}-${'z'.repeat(10 + i * 20)}${i % 2 ? 'é' : ''}`);
    const puts: Event[] = Array.from({ length: 40 }, (_, i) => ({
      headers: { path: values[i % values.length]!, other: values[(i * 3) % values.length]!, seq: String(i) },
      body: Buffer.from(String(i)),
    }));
    const enc = encodeTx(puts, [], {});
    for (let i = 0; i < puts.length; i++) {
      const fr = frameAt(enc.buf, enc.offsets[i]!);
      assert.ok(fr.ok);
      assert.deepEqual(decodeEvent(enc.buf, fr.start, fr.end).headers, puts[i]!.headers);
    }
  });

  it('detects a changed byte in any record through its checksum', () => {
    const enc = encodeTx([{ headers: { a: 'b' }, body: Buffer.from('hello') }], [], {});
    for (let i = 8; i < enc.lengths[0]!; i++) {
      const copy = Buffer.from(enc.buf);
      copy[i] = copy[i]! ^ 0x01;
      assert.deepEqual(frameAt(copy, 0), { ok: false, reason: 'checksum' }, `byte ${i}`);
    }
  });
});
