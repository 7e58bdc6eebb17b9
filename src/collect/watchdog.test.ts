import assert from 'node:assert/strict';
import { it } from 'node:test';
import { silentLogger } from '../core/log.js';
import { ComponentCounters } from '../core/metrics.js';
import { Watchdog } from './watchdog.js';

it('flags a component whose input waits while progress stands still, and clears it on progress', () => {
  let now = 0;
  const dog = new Watchdog(silentLogger, 10_000, () => now);
  const counters = new ComponentCounters('CHANNEL', 'c1');
  let pending = 0;
  let progress = 0;
  dog.watch({ what: 'channel c1', counters, pending: () => pending, progress: () => progress });

  pending = 5;
  now = 9_000;
  dog.check();
  assert.equal(counters.get('Stuck'), 0, 'not yet: under the threshold');
  now = 10_500;
  dog.check();
  assert.equal(counters.get('Stuck'), 1);
  assert.deepEqual(dog.stuck(), ['channel c1']);

  progress = 1;
  now = 11_000;
  dog.check();
  assert.equal(counters.get('Stuck'), 0);
  assert.deepEqual(dog.stuck(), []);

  pending = 0; // idle with nothing waiting is not stuck
  now = 60_000;
  dog.check();
  assert.equal(counters.get('Stuck'), 0);
});
