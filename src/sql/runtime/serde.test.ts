import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Column } from '../rexpr.js';
import { createSerDe } from './serde.js';
import { randomGen } from './sources.js';

const cols: Column[] = [{ name: 'id', type: 'INT' }, { name: 'name', type: 'STRING' }, { name: 'v', type: 'DOUBLE' }, { name: 'ok', type: 'BOOLEAN' }];

test('SimpleSerDe splits by its separator and converts as CAST does (bad values and empty fields are NULL)', () => {
  const s = createSerDe('SimpleSerDe', { separator: '|' }, cols, 0);
  assert.deepEqual(s.read('7|a,b|1.5|true'), [7, 'a,b', 1.5, true]);
  assert.deepEqual(s.read('x||nope'), [null, null, null, null]);
  assert.equal(s.write([7, 'a', null, false]), '7|a||false');
});

test('CsvSerDe quotes and unquotes RFC 4180 fields', () => {
  const s = createSerDe('CsvSerDe', {}, cols, 0);
  assert.deepEqual(s.read('1,"say ""hi"", ok",2,false'), [1, 'say "hi", ok', 2, false]);
  assert.equal(s.write([1, 'a,"b"', 2, null]), '1,"a,""b""",2,');
});

test('KeyValueSerDe and JSON map values by column name', () => {
  const kv = createSerDe('KeyValueSerDe', { separator: ';', kvSeparator: ':' }, cols, 0);
  assert.deepEqual(kv.read('name:x;ID:3;other:1'), [3, 'x', null, null]);
  assert.equal(kv.write([3, 'x', null, true]), 'id:3;name:x;v:;ok:true');
  const j = createSerDe('JSON', {}, cols, 0);
  assert.deepEqual(j.read('{"id": 2, "name": "n", "v": "2.5", "ok": true}'), [2, 'n', 2.5, true]);
  assert.deepEqual(j.read('not json'), [null, null, null, null]);
  assert.equal(j.write([2, 'n', null, true]), '{"id":2,"name":"n","v":null,"ok":true}');
});

test('RandomGen with a seed repeats its rows and follows period, eventNumPerPeriod, totalNumber and delayTime', async () => {
  let now = 0;
  const make = () => randomGen({ timeUnit: 'MILLISECONDS', period: '100', eventNumPerPeriod: '3', totalNumber: '7', delayTime: '50' }, cols, 42, () => now);
  const a = make();
  await a.open();
  assert.deepEqual(a.poll(100, 49), []);
  const first = a.poll(100, 50);
  assert.equal(first.length, 3);
  assert.equal(a.poll(100, 120).length, 0);
  assert.equal(a.poll(100, 250).length, 4); // bursts due at 150 and 250 owe 6; 4 are left of 7
  assert.equal(a.poll(100, 1000).length, 0);
  assert.ok(a.done());
  const b = make();
  await b.open();
  assert.deepEqual(b.poll(100, 50), first);
});
