import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, resolveComponent, validateComponent } from '../../core/config/component.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { SinkProcessor } from '../contracts.js';
import { memoryChannel } from '../testkit.js';
import '../builtins.js';
import { FailoverSinkProcessor } from './failover.js';
import { FakeSink, fill, manualClock, processorContext } from './testing.js';

function build(raw: Record<string, string>, sinks: FakeSink[], inflightAtStart: string[] = []): SinkProcessor {
  const r = resolveComponent('processor', raw.type ?? 'failover');
  assert.ok('spec' in r, 'error' in r ? r.error : '');
  const v = validateComponent(r.spec, raw, 'a1.sinkgroups.g1.processor');
  assert.deepEqual(v.errors, []);
  return r.spec.create(v.config, processorContext(sinks, inflightAtStart)) as SinkProcessor;
}

function setup(maxpenalty = 30_000) {
  const ch = memoryChannel();
  const [k1, k2, k3] = ['k1', 'k2', 'k3'].map((n) => new FakeSink(n, ch)) as [FakeSink, FakeSink, FakeSink];
  const clock = manualClock();
  const p = new FailoverSinkProcessor([k1, k2, k3], { priority: { k1: 5, k2: 10, k3: 1 }, maxpenalty }, { now: clock.now });
  return { ch, k1, k2, k3, clock, p };
}

describe('failover sink processor', () => {
  it('is registered under its Flume class name and starts and stops its sinks', async () => {
    const ch = memoryChannel();
    const sinks = [new FakeSink('k1', ch), new FakeSink('k2', ch)];
    const p = build({ type: 'org.apache.flume.sink.failoversinkprocessor', 'priority.k1': '1', 'priority.k2': '2' }, sinks);
    await p.start();
    assert.ok(sinks.every((s) => s.started));
    await fill(ch, 10);
    assert.equal(await p.process(), 'READY');
    assert.equal(sinks[1]!.batches.length, 1, 'k2 has the higher priority');
    await p.stop();
    assert.ok(sinks.every((s) => s.stopped));
  });

  it('rejects a priority for a sink that is not in the group, naming the key', () => {
    const ch = memoryChannel();
    assert.throws(
      () => build({ type: 'failover', 'priority.k1': '1', 'priority.k9': '2' }, [new FakeSink('k1', ch)]),
      (e: unknown) => e instanceof ConfigError && /a1\.sinkgroups\.g1\.processor\.priority\.k9/.test(e.message) && /k9/.test(e.message),
    );
    const r = resolveComponent('processor', 'failover');
    assert.ok('spec' in r);
    const v = validateComponent(r.spec, { 'priority.k1': 'high' }, 'a1.sinkgroups.g1.processor');
    assert.equal(v.errors[0]?.key, 'a1.sinkgroups.g1.processor.priority.k1');
  });

  it('sends every batch to the live sink with the highest priority', async () => {
    const { ch, k1, k2, k3, p } = setup();
    await fill(ch, 50);
    for (let i = 0; i < 5; i++) assert.equal(await p.process(), 'READY');
    assert.equal(k2.batches.length, 5);
    assert.equal(k1.calls + k3.calls, 0);
    assert.equal(await p.process(), 'BACKOFF');
  });

  it('fails over in the same call, doubles the penalty per failure and takes a recovered sink back', async () => {
    const { ch, k1, k2, clock, p } = setup(20_000);
    await fill(ch, 1000);
    k2.mode = 'fail';
    assert.equal(await p.process(), 'READY');
    assert.deepEqual([k2.failures, k1.batches.length], [1, 1], 'k1 delivered the batch k2 rolled back');
    assert.deepEqual(k1.batches[0], Array.from({ length: 10 }, (_, i) => `e${i}`));
    assert.deepEqual(p.liveSinks(), ['k1', 'k3']);

    // Penalties: 2 s, 4 s, 8 s, 16 s, then capped at maxpenalty (20 s).
    for (const penalty of [2000, 4000, 8000, 16_000, 20_000, 20_000]) {
      const failedAt = clock.now();
      assert.equal(p.failedSinks()[0]!.retryAt - failedAt, penalty);
      clock.advance(penalty - 1);
      const before = k2.calls;
      assert.equal(await p.process(), 'READY');
      assert.equal(k2.calls, before, 'not retried before its penalty is over');
      clock.advance(1);
      assert.equal(await p.process(), 'READY');
      assert.equal(k2.calls, before + 1, 'retried once its penalty is over');
    }
    k2.mode = 'ok';
    clock.advance(20_000);
    assert.equal(await p.process(), 'READY');
    assert.equal(k2.batches.length, 1);
    assert.deepEqual(p.liveSinks(), ['k2', 'k1', 'k3']);
    const k1Batches = k1.batches.length;
    assert.equal(await p.process(), 'READY');
    assert.deepEqual([k2.batches.length, k1.batches.length], [2, k1Batches]);
    // After recovering, the next failure starts again at 2 s.
    k2.mode = 'fail';
    assert.equal(await p.process(), 'READY');
    assert.equal(p.failedSinks()[0]!.retryAt - clock.now(), 2000);
  });

  it('throws a retriable PROCESSOR_ALL_FAILED when every sink has failed, keeping the events', async () => {
    const { ch, k1, k2, k3, clock, p } = setup();
    await fill(ch, 10);
    for (const s of [k1, k2, k3]) s.mode = 'fail';
    await assert.rejects(p.process(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.PROCESSOR_ALL_FAILED && e.retriable);
    assert.equal(ch.size(), 10);
    await assert.rejects(p.process(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.PROCESSOR_ALL_FAILED);
    assert.equal(k1.calls + k2.calls + k3.calls, 3, 'penalised sinks are not called');
    k3.mode = 'ok';
    clock.advance(2000);
    assert.equal(await p.process(), 'READY');
    assert.equal(k3.batches.length, 1);
    assert.equal(ch.size(), 0);
  });

  it('offers the first batch after a restart to the sink that held it in flight', async () => {
    const ch = memoryChannel();
    const sinks = [new FakeSink('k1', ch), new FakeSink('k2', ch)];
    const p = build({ type: 'failover', 'priority.k1': '1', 'priority.k2': '2' }, sinks, ['k1']);
    await fill(ch, 20);
    assert.equal(await p.process(), 'READY');
    assert.equal(sinks[0]!.batches.length, 1);
    assert.equal(await p.process(), 'READY');
    assert.equal(sinks[1]!.batches.length, 1, 'then priorities rule again');
  });

  it('counts a possible duplicate when the in-flight sink cannot take its batch back', async () => {
    const ch = memoryChannel();
    const sinks = [new FakeSink('k1', ch), new FakeSink('k2', ch)];
    const ctx = processorContext(sinks, ['k1']);
    const p = new FailoverSinkProcessor(sinks, { priority: { k1: 2, k2: 1 }, maxpenalty: 30_000 }, { counters: ctx.counters, inflightAtStart: ['k1'] });
    await fill(ch, 10);
    sinks[0]!.mode = 'fail';
    assert.equal(await p.process(), 'READY');
    assert.equal(sinks[1]!.batches.length, 1);
    assert.equal(ctx.counters.get('PossibleDuplicateCount'), 1);
  });
});
