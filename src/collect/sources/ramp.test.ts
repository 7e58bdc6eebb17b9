import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchRamp, RAMP_FIRST } from './ramp.js';

describe('BatchRamp', () => {
  it('starts at the first size and doubles up to the maximum, then stays there', () => {
    const r = new BatchRamp(2500);
    const seen: number[] = [];
    for (let i = 0; i < 9; i++) {
      seen.push(r.size);
      r.grow();
    }
    assert.equal(seen[0], RAMP_FIRST);
    assert.deepEqual(seen, [64, 128, 256, 512, 1024, 2048, 2500, 2500, 2500]);
  });

  it('never exceeds a maximum below the first size', () => {
    const r = new BatchRamp(10);
    assert.equal(r.size, 10);
    r.grow();
    assert.equal(r.size, 10);
    assert.equal(new BatchRamp(1).size, 1);
  });
});
