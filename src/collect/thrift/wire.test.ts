import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import thrift from 'thrift';
import { makeEvent, type Event } from '../../core/event.js';
import { encodeCall, encodeException, encodeReply, frameReader, libraryFramed, protocolClass, readCall, writeCall, writeException, writeReply, type WireProtocol } from './codec.js';
import { FrameWriter } from './frame-writer.js';
import { FastCompactProtocol } from './wire.js';

/**
 * The allocation-free writers and readers of wire.ts must produce and accept exactly the bytes of the
 * unmodified Apache Thrift library: every frame here is compared byte for byte with the library's.
 */
const PROTOCOLS: WireProtocol[] = ['compact', 'binary'];

function events(): Event[] {
  const long = 'x'.repeat(300);
  return [
    makeEvent(Buffer.alloc(0), {}),
    makeEvent(Buffer.from('plain'), { 'monsoon.origin': 'host-a/a1/r1/lmn0p4q5abcdef', 'monsoon.seq': '12345678901' }),
    makeEvent(Buffer.from([0, 0xff, 0xfe, 0x80]), { 'ü-key': 'välue ✓ 😀', empty: '', lone: '\ud800x' }),
    makeEvent(Buffer.alloc(70_000, 7), { [long]: long + 'é', short: 'y'.repeat(63), edge: 'z'.repeat(64) }),
    ...Array.from({ length: 40 }, (_, i) => makeEvent(Buffer.from(`line-${i}-`.padEnd(1023, 'x')), { 'monsoon.origin': 'o'.repeat(80), 'monsoon.seq': String(i * 1_000_003) })),
  ];
}

describe('thrift wire encoding matches the Apache library byte for byte', () => {
  for (const p of PROTOCOLS) {
    it(`appendBatch and append calls (${p})`, () => {
      const all = events();
      for (const seqid of [0, 1, 127, 128, 16_384, 0x7fffffff, -1, -2_000_000_000]) {
        for (const batch of [all, all.slice(0, 1), all.slice(0, 14), all.slice(0, 15), all.slice(1, 3)]) {
          const ours = encodeCall(p, 'appendBatch', seqid, batch);
          const lib = libraryFramed(p, (out) => writeCall(out, 'appendBatch', seqid, batch));
          assert.ok(ours.equals(lib), `appendBatch of ${batch.length} with seqid ${seqid}`);
        }
        const one = encodeCall(p, 'append', seqid, [all[2]!]);
        assert.ok(one.equals(libraryFramed(p, (out) => writeCall(out, 'append', seqid, [all[2]!]))));
      }
    });

    it(`replies and exceptions (${p})`, () => {
      for (const status of [0, 1, 2, 3] as const) {
        assert.ok(encodeReply(p, 'appendBatch', 99, status).equals(libraryFramed(p, (out) => writeReply(out, 'appendBatch', 99, status))));
      }
      const ex = encodeException(p, 'nope', 5, 1, 'unknown method nope — ü');
      assert.ok(ex.equals(libraryFramed(p, (out) => writeException(out, 'nope', 5, 1, 'unknown method nope — ü'))));
    });

    it(`reads back what the library wrote (${p})`, () => {
      const all = events();
      const frame = libraryFramed(p, (out) => writeCall(out, 'appendBatch', 4242, all));
      const calls: ReturnType<typeof readCall>[] = [];
      const read = frameReader(p, 1 << 24, (inp) => calls.push(readCall(inp)));
      // split across chunks, including inside the frame header
      read(frame.subarray(0, 2));
      read(frame.subarray(2, 1000));
      read(frame.subarray(1000));
      assert.equal(calls.length, 1);
      const call = calls[0]!;
      assert.ok(!('unknown' in call));
      assert.equal(call.seqid, 4242);
      assert.equal(call.events.length, all.length);
      for (const [i, e] of all.entries()) {
        assert.ok(call.events[i]!.body.equals(e.body), `body ${i}`);
        // a lone surrogate is not UTF-8: it travels as U+FFFD
        const want = 'lone' in e.headers ? { ...e.headers, lone: '\ufffdx' } : e.headers;
        assert.deepEqual(call.events[i]!.headers, want);
      }
    });
  }

  for (const p of PROTOCOLS) {
    it(`decodes frames split at every kind of boundary as the library's own transport does (${p})`, () => {
      const all = events();
      const frames = [libraryFramed(p, (out) => writeCall(out, 'appendBatch', 77, all)), libraryFramed(p, (out) => writeCall(out, 'append', 78, [all[2]!]))];
      const stream = Buffer.concat(frames);
      // the reference: the library's TFramedTransport over each whole frame
      const want = frames.map((f) => readCall(new (protocolClass(p))(new thrift.TFramedTransport(f.subarray(4)))));
      for (const size of [1, 2, 3, 5, 7, 64, 1000, 4096, stream.length]) {
        const got: ReturnType<typeof readCall>[] = [];
        const read = frameReader(p, 1 << 24, (inp) => got.push(readCall(inp)));
        for (let o = 0; o < stream.length; o += size) read(stream.subarray(o, o + size));
        assert.deepEqual(got, want, `chunks of ${size} bytes`);
      }
    });
  }

  it('refuses frames over the limit and reports frames that end early', () => {
    const read = frameReader('compact', 100, () => {});
    assert.throws(() => read(Buffer.from([0, 0, 1, 0])), /Frame size 256 larger than the maximum allowed 100/);
    const short = frameReader('binary', 100, (inp) => readCall(inp));
    assert.throws(() => short(Buffer.from([0, 0, 0, 3, 0x80, 0x01, 0x00])));
  });

  it('reads compact varints of every length as the library does', () => {
    const values = [0, 1, 127, 128, 300, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, -1, -64, -(2 ** 31), 2 ** 32 + 5, 2 ** 40, 2 ** 52, -(2 ** 40)];
    for (const v of values) {
      const lib = libraryFramed('compact', (out) => out.writeI64(v));
      const viaLib = new thrift.TCompactProtocol(new thrift.TFramedTransport(lib.subarray(4))) as unknown as { readVarint32(): number };
      const viaOurs = new FastCompactProtocol(new thrift.TFramedTransport(lib.subarray(4))) as unknown as { readVarint32(): number };
      assert.equal(viaOurs.readVarint32(), viaLib.readVarint32(), `varint of zigzag(${v})`);
    }
    const tooLong = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert.throws(() => new FastCompactProtocol(new thrift.TFramedTransport(tooLong)).readI32(), /over 10 bytes/);
  });

  it('grows its frame buffer and reuses it after reset', () => {
    const w = new FrameWriter(1);
    w.write('abc');
    w.write(Buffer.alloc(1000, 1));
    const first = w.frame();
    assert.equal(first.readInt32BE(0), 1003);
    assert.equal(first.subarray(4, 7).toString(), 'abc');
    w.reset();
    w.write('zz');
    const second = w.frame();
    assert.equal(second.readInt32BE(0), 2);
    assert.equal(second.subarray(4).toString(), 'zz');
    assert.equal(second.buffer, first.buffer);
    assert.throws(() => w.readByte(), /write-only/);
  });

  it('encodes consecutive calls through one reused writer exactly as the library does', () => {
    const w = new FrameWriter();
    const all = events();
    for (const p of PROTOCOLS) {
      for (const batch of [all, all.slice(0, 2), all.slice(3)]) {
        const ours = Buffer.from(encodeCall(p, 'appendBatch', 9, batch, w));
        assert.ok(ours.equals(libraryFramed(p, (out) => writeCall(out, 'appendBatch', 9, batch))));
      }
    }
  });
});
