import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { BusRecord, ConsumedRecord } from '../bus.js';
import { decodeRecords, encodeBatch, readHeader, recordSize } from './batch.js';
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
});
