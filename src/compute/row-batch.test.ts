import assert from 'node:assert/strict';
import { deserialize, serialize } from 'node:v8';
import { describe, it } from 'node:test';
import { fieldText, isRowBatch, rowFieldIndex, RowBatchBuilder, type RowBatch } from './row-batch.js';

const rows = (b: RowBatch) => Array.from({ length: b.count }, (_, r) => b.fields.map((_, f) => fieldText(b, r, f)));

describe('RowBatchBuilder', () => {
  it('writes rows field by field, grows past its estimate, and leaves out a dropped or half-written row', () => {
    const out = new RowBatchBuilder(['id', 'text'], 1, 4);
    const src = Buffer.from('xx-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH-yy');
    for (let i = 0; i < 300; i++) {
      out.text(`id${i}`);
      out.endField();
      if (i % 7 === 3) {
        out.text('dropped');
        out.endField();
        out.dropRow();
        continue;
      }
      out.bytes(src, 3, 3 + (i % 46));
      out.text(i % 2 ? 'é' : '');
      out.endField();
      out.endRow();
    }
    out.text('half');
    out.endField();
    const b = out.finish();
    const want = Array.from({ length: 300 }, (_, i) => i)
      .filter((i) => i % 7 !== 3)
      .map((i) => [`id${i}`, src.toString('utf8', 3, 3 + (i % 46)) + (i % 2 ? 'é' : '')]);
    assert.deepEqual(rows(b), want);
    // plain data: a structured clone (the link between worker processes) reads the same
    const copy = deserialize(serialize(b)) as RowBatch;
    assert.ok(isRowBatch(copy));
    assert.deepEqual(rows(copy), want);
  });

  it('refuses a row with too few or too many fields, and names the fields a batch has', () => {
    const out = new RowBatchBuilder(['a', 'b'], 4);
    out.endField();
    assert.throws(() => out.endRow(), /ended with 1 of its 2 fields/);
    out.endField();
    assert.throws(() => out.endField(), /has 2 fields; one more was ended/);
    out.endRow();
    assert.equal(out.finish().count, 1);
    assert.throws(() => rowFieldIndex(out.finish(), 'c', 'the etl output'), /the etl output has no field "c"; its fields are "a", "b"/);
    assert.equal(isRowBatch({ fields: ['a'], count: 1, buf: new Uint8Array(1) }), false);
  });
});
