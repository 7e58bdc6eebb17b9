import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAvroEvent, encodeAvroEvent } from './avro-event.js';

describe('Flume Avro event (useFlumeEventFormat)', () => {
  it('encodes AvroFlumeEvent in Avro binary: map blocks of strings, end block, then the body as bytes', () => {
    // headers {a: "xy"}: count 1 (02), "a" (02 61), "xy" (04 78 79), end (00); body "hi" (04 68 69)
    assert.equal(encodeAvroEvent({ headers: { a: 'xy' }, body: Buffer.from('hi') }).toString('hex'), '0202610478790004' + '6869');
    // no headers: the map is only its end block
    assert.equal(encodeAvroEvent({ headers: {}, body: Buffer.alloc(0) }).toString('hex'), '0000');
    // a 200-byte body: length 400 as a zig-zag varint is 90 03
    assert.equal(encodeAvroEvent({ headers: {}, body: Buffer.alloc(200, 1) }).subarray(0, 3).toString('hex'), '009003');
  });

  it('round-trips headers with non-ASCII text and binary bodies', () => {
    const e = { headers: { 'monsoon.origin': 'h/a1/r1', 'monsoon.seq': '42', 'ü': 'ä'.repeat(100) }, body: Buffer.from([0, 255, 10, 13]) };
    assert.deepEqual(decodeAvroEvent(encodeAvroEvent(e), 'r'), e);
  });

  it('reads a map block written with a negative count and its byte size', () => {
    // count −1 (01), block size 4 (08), "k" (02 6b) "v" (02 76), end (00), body "b" (02 62)
    assert.deepEqual(decodeAvroEvent(Buffer.from('0108026b0276000262', 'hex'), 'r'), { headers: { k: 'v' }, body: Buffer.from('b') });
  });

  it('refuses a value that is not one event, naming the record', () => {
    assert.throws(() => decodeAvroEvent(Buffer.from('plain text line'), 'record t-0@7'), /record t-0@7 is not a Flume Avro event/);
    assert.throws(() => decodeAvroEvent(Buffer.from('000268ff', 'hex'), 'r'), /byte\(s\) after the event/);
  });
});
