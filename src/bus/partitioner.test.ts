import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Partitioner, murmur2, partitionForKey, toPositive } from './partitioner.js';

/**
 * Expected hashes are published values, not computed here: Kafka's own UtilsTest.testMurmur2 cases,
 * and kafkajs's JavaCompatiblePartitioner table (generated there with the Java client's
 * Utils.murmur2). kafkajs's older "legacy" partitioner table differs — that partitioner was not
 * Java-compatible — so it is deliberately not used here.
 */
const kafkaUtilsTest: Array<[string, number]> = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];
const kafkajsJavaTable: Array<[string, number]> = [
  ['0', 971027396], ['1', -1993445489], ['128', -326012175], ['2187', -1508407203], ['16384', -325739742],
  ['78125', -1654490814], ['279936', 1462227128], ['823543', -2014198330], ['2097152', 607668903],
  ['4782969', -1182699775], ['10000000', -1830336757], ['19487171', -1603849305], ['35831808', -857013643],
  ['62748517', -1167431028], ['105413504', -381294639], ['170859375', -1658323481], ['100:48069', 1009543857],
];

describe('Kafka default partitioner', () => {
  it("murmur2 matches Kafka's Utils.murmur2 test cases", () => {
    for (const [k, h] of kafkaUtilsTest) assert.equal(murmur2(Buffer.from(k)), h, k);
  });

  it("murmur2 matches the Java client's values in kafkajs's table (every length mod 4)", () => {
    for (const [k, h] of kafkajsJavaTable) assert.equal(murmur2(Buffer.from(k)), h, k);
  });

  it('maps a key to toPositive(murmur2) % partitions, masking the sign bit rather than taking abs', () => {
    // -973932308 & 0x7fffffff = 1173551340; Math.abs would give 973932308 (a different partition).
    assert.equal(toPositive(-973932308), 1173551340);
    assert.equal(partitionForKey(Buffer.from('21'), 7), 1173551340 % 7);
    assert.notEqual(partitionForKey(Buffer.from('21'), 7), 973932308 % 7);
    for (const [k, h] of kafkaUtilsTest) assert.equal(partitionForKey(Buffer.from(k), 12), (h & 0x7fffffff) % 12);
    assert.equal(partitionForKey(Buffer.alloc(0), 5), toPositive(murmur2(Buffer.alloc(0))) % 5);
  });

  it('keeps a batch without keys on one partition and rotates between batches', () => {
    const p = new Partitioner();
    const recs = Array.from({ length: 10 }, () => ({ value: Buffer.from('x') }));
    const seen = [0, 1, 2, 3].map(() => new Set(p.assign('t', 3, recs)));
    for (const s of seen) assert.equal(s.size, 1);
    assert.deepEqual(seen.map((s) => [...s][0]), [0, 1, 2, 0]);
    const keyed = p.assign('t', 3, [{ key: Buffer.from('foobar'), value: Buffer.from('') }, { value: Buffer.from('') }]);
    assert.equal(keyed[0], partitionForKey(Buffer.from('foobar'), 3));
  });
});
