import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { BusRecord, ConsumedRecord } from '../bus.js';
import { BATCH_HEADER, decodeRecords, encodeBatch, MalformedBatch, readHeader, recordSize } from './batch.js';
import { checkRecord } from './produce.js';

/** The embedded log's record batches: headers as they are written and read back. */
describe('embedded log batches', () => {
  const roundTrip = (records: BusRecord[]): ConsumedRecord[] => {
    const sizes = records.map((r, i) => checkRecord('t', r, i, 1 << 20));
    const buf = encodeBatch(records, sizes, 1000);
    const out: ConsumedRecord[] = [];
    decodeRecords(buf, 0, readHeader(buf, 0), 't', 0, 0, records.length, out);
    return out;
  };

  it('writes header names and values of every length and script, sized exactly', () => {
    const origin = 'agent-7/landing/' + 'x'.repeat(60);
    const records: BusRecord[] = [];
    for (let i = 0; i < 40; i++) {
      const headers: Record<string, string> = { 'monsoon.origin': origin, 'monsoon.seq': String(i * 7919) };
      if (i % 3 === 0) headers['ünïcode'] = 'välue 😀 ' + '語'.repeat(i);
      if (i % 4 === 0) headers[`path-${i}`] = `/var/spool/${'ß'.repeat(i)}/file-${i}.cdr`;
      if (i % 5 === 0) headers[''] = '';
      records.push({ value: Buffer.from(`v${i}`), key: i % 2 ? Buffer.from(`k${i}`) : null, headers });
    }
    const got = roundTrip(records);
    assert.equal(got.length, records.length);
    for (let i = 0; i < records.length; i++) {
      assert.deepEqual(got[i]!.headers, records[i]!.headers);
      assert.equal(got[i]!.value.toString(), `v${i}`);
    }
    // encodeBatch checks that the records filled the batch exactly as recordSize said
    const sizes = records.map((r) => recordSize(r));
    assert.throws(() => encodeBatch(records, sizes.map((n, i) => (i === 7 ? n + 1 : n)), 0), /a record's size was wrong/);
  });

  it('refuses headers it cannot write, naming the record and the header', () => {
    const refused = (headers: Record<string, unknown>, text: RegExp) =>
      assert.throws(
        () => checkRecord('t', { value: Buffer.from('v'), headers: headers as Record<string, string> }, 3, 1 << 30),
        (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_INVALID_ARGUMENT && /record 3/.test(e.message) && text.test(e.message),
      );
    refused({ ok: 'x', count: 5 }, /header "count" whose value is not a string/);
    refused({ ['n'.repeat(0x10000)]: 'x' }, /header name longer than 65535 bytes/);
    // 21,846 three-byte characters: 65,538 bytes, where a length check on characters would pass
    refused({ ['語'.repeat(0x5556)]: 'x' }, /header name longer than 65535 bytes/);
    refused(Object.fromEntries(Array.from({ length: 0x10000 }, (_, i) => [`h${i}`, ''])), /65536 headers \(at most 65535\)/);
    assert.equal(typeof checkRecord('t', { value: Buffer.from('v'), headers: { ['語'.repeat(0x5555)]: 'x' } }, 0, 1 << 30), 'number');
  });

  it('refuses a record whose lengths run past its batch, at every length field', () => {
    const records: BusRecord[] = [0, 1].map((i) => ({ value: Buffer.from(`value-${i}`), key: Buffer.from(`k${i}`), headers: { h: `v${i}` } }));
    const sizes = records.map((r, i) => checkRecord('t', r, i, 1 << 20));
    const good = encodeBatch(records, sizes, 1000);
    // the second record's fields: timestamp(8) keyLength(4) key valueLength(4) value headerCount(2) nameLength(2) name valueLength(4) value
    const second = BATCH_HEADER + sizes[0]!;
    const fields: [string, number, (b: Buffer, at: number) => void][] = [
      ['key length', second + 8, (b, at) => b.writeInt32LE(1000, at)],
      ['value length', second + 14, (b, at) => b.writeUInt32LE(1000, at)],
      ['header count', second + 14 + 4 + 7, (b, at) => b.writeUInt16LE(9, at)],
      ['header name length', second + 14 + 4 + 7 + 2, (b, at) => b.writeUInt16LE(1000, at)],
      ['header value length', second + 14 + 4 + 7 + 2 + 2 + 1, (b, at) => b.writeUInt32LE(1000, at)],
    ];
    for (const [what, at, spoil] of fields) {
      const bad = Buffer.from(good);
      spoil(bad, at);
      assert.throws(() => decodeRecords(bad, 0, readHeader(bad, 0), 't', 0, 0, 2, []), (e: unknown) => e instanceof MalformedBatch && /runs past the end of batch 0/.test(e.message), what);
    }
    const out: ConsumedRecord[] = [];
    decodeRecords(good, 0, readHeader(good, 0), 't', 0, 0, 2, out);
    assert.deepEqual(out.map((r) => [r.key?.toString(), r.value.toString(), r.headers]), [['k0', 'value-0', { h: 'v0' }], ['k1', 'value-1', { h: 'v1' }]]);
  });
});
