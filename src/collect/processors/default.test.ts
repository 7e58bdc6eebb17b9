import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, resolveComponent, validateComponent } from '../../core/config/component.js';
import type { SinkProcessor } from '../contracts.js';
import { memoryChannel } from '../testkit.js';
import '../builtins.js';
import { FakeSink, fill, processorContext } from './testing.js';

describe('default sink processor', () => {
  const r = resolveComponent('processor', 'org.apache.flume.sink.DefaultSinkProcessor');
  assert.ok('spec' in r);
  const cfg = validateComponent(r.spec, {}, 'a1.sinkgroups.g1.processor').config;

  it('passes every call to its single sink', async () => {
    const ch = memoryChannel();
    const sink = new FakeSink('k1', ch);
    const p = r.spec.create(cfg, processorContext([sink])) as SinkProcessor;
    await p.start();
    await fill(ch, 10);
    assert.equal(await p.process(), 'READY');
    assert.equal(await p.process(), 'BACKOFF');
    sink.mode = 'fail';
    await fill(ch, 1);
    await assert.rejects(p.process(), /cannot reach its receiver/);
    await p.stop();
    assert.deepEqual([sink.started, sink.stopped, sink.delivered().length], [true, true, 10]);
  });

  it('rejects a group with more than one sink', () => {
    const ch = memoryChannel();
    assert.throws(
      () => r.spec.create(cfg, processorContext([new FakeSink('k1', ch), new FakeSink('k2', ch)])),
      (e: unknown) => e instanceof ConfigError && /a1\.sinkgroups\.g1\.processor\.type/.test(e.message) && /exactly one sink/.test(e.message),
    );
  });
});
