import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { SinkProcessor } from '../contracts.js';
import { memoryChannel } from '../testkit.js';
import '../builtins.js';
import { type LoadBalanceOptions, LoadBalancingSinkProcessor } from './load-balance.js';
import { FakeSink, fill, manualClock, processorContext } from './testing.js';

const isCode = (code: string) => (e: unknown) => e instanceof MonsoonError && e.code === code && e.retriable;

function setup(cfg: { selector?: string; backoff?: boolean; maxTimeOut?: number } = {}, opts: LoadBalanceOptions = {}) {
  const ch = memoryChannel();
  const sinks = ['k1', 'k2', 'k3'].map((n) => new FakeSink(n, ch)) as [FakeSink, FakeSink, FakeSink];
  const clock = manualClock();
  const ctx = processorContext(sinks, opts.inflightAtStart);
  const p = new LoadBalancingSinkProcessor(
    sinks,
    { selector: cfg.selector ?? 'round_robin', backoff: cfg.backoff ?? false, 'selector.maxTimeOut': cfg.maxTimeOut ?? 30_000 },
    { now: clock.now, counters: ctx.counters, ...opts },
  );
  return { ch, sinks, clock, p, counters: ctx.counters };
}

describe('load_balance sink processor', () => {
  it('is registered under its Flume names and validates its selector', async () => {
    const r = resolveComponent('processor', 'org.apache.flume.sink.LoadBalancingSinkProcessor');
    assert.ok('spec' in r);
    const ok = validateComponent(r.spec, { selector: 'RANDOM', backoff: 'true', 'selector.maxTimeOut': '5000' }, 'a1.sinkgroups.g1.processor');
    assert.deepEqual(ok.errors, []);
    const ch = memoryChannel();
    const p = r.spec.create(ok.config, processorContext([new FakeSink('k1', ch)])) as SinkProcessor;
    assert.equal(await p.process(), 'BACKOFF');
    const custom = validateComponent(r.spec, { selector: 'com.example.MySelector' }, 'a1.sinkgroups.g1.processor');
    assert.equal(custom.errors[0]?.key, 'a1.sinkgroups.g1.processor.selector');
    assert.match(custom.errors[0]!.message, /custom selector class.*round_robin or random/);
    assert.equal(validateComponent(r.spec, { selector: 'weighted' }, 'p').errors.length, 1);
  });

  it('round_robin spreads 300 batches evenly over 3 sinks', async () => {
    const { ch, sinks, p } = setup();
    await fill(ch, 3000);
    for (let i = 0; i < 300; i++) assert.equal(await p.process(), 'READY');
    assert.deepEqual(sinks.map((s) => s.batches.length), [100, 100, 100]);
    assert.deepEqual(sinks[0]!.batches[1]![0], 'e30', 'k1 took the 1st and 4th batch');
    assert.equal(await p.process(), 'BACKOFF');
  });

  it('random reaches every sink', async () => {
    const { ch, sinks, p } = setup({ selector: 'random' });
    await fill(ch, 3000);
    for (let i = 0; i < 300; i++) await p.process();
    assert.equal(sinks.reduce((n, s) => n + s.batches.length, 0), 300);
    for (const s of sinks) assert.ok(s.batches.length > 30, `${s.name} took ${s.batches.length} of 300 batches`);
  });

  it('reports BACKOFF only after every sink found nothing', async () => {
    const { sinks, p } = setup();
    assert.equal(await p.process(), 'BACKOFF');
    assert.deepEqual(sinks.map((s) => s.calls), [1, 1, 1]);
  });

  it('without backoff a failing sink is tried in its turn and the next sink takes the batch', async () => {
    const { ch, sinks, p } = setup();
    await fill(ch, 300);
    sinks[0].mode = 'fail';
    for (let i = 0; i < 30; i++) assert.equal(await p.process(), 'READY');
    assert.equal(sinks[0].failures, 10);
    assert.equal(sinks[1].batches.length + sinks[2].batches.length, 30);
    assert.equal(ch.size(), 0, 'no batch lost');
  });

  it('with backoff a failed sink sits out 2 s, 4 s, … up to maxTimeOut, and is reset by a success', async () => {
    const { ch, sinks, clock, p } = setup({ backoff: true, maxTimeOut: 6000 });
    const [k1] = sinks;
    await fill(ch, 5000);
    k1.mode = 'fail';
    assert.equal(await p.process(), 'READY');
    for (const sitOut of [2000, 4000, 6000, 6000]) {
      const calls = k1.calls;
      for (let i = 0; i < 6; i++) await p.process();
      clock.advance(sitOut - 1);
      for (let i = 0; i < 6; i++) await p.process();
      assert.equal(k1.calls, calls, `k1 sits out ${sitOut} ms`);
      clock.advance(1);
      for (let i = 0; i < 3; i++) await p.process();
      assert.equal(k1.calls, calls + 1, `k1 is tried again after ${sitOut} ms`);
    }
    k1.mode = 'ok';
    clock.advance(6000);
    for (let i = 0; i < 3; i++) await p.process();
    assert.equal(k1.batches.length, 1, 'restored');
    k1.mode = 'fail';
    for (let i = 0; i < 3; i++) await p.process();
    const calls = k1.calls;
    clock.advance(2000);
    for (let i = 0; i < 3; i++) await p.process();
    assert.equal(k1.calls, calls + 1, 'the back-off started again at 2 s after the success');
  });

  it('throws PROCESSOR_ALL_FAILED when every sink fails, then while all are backed off, and recovers', async () => {
    const { ch, sinks, clock, p } = setup({ backoff: true });
    await fill(ch, 10);
    for (const s of sinks) s.mode = 'fail';
    await assert.rejects(p.process(), isCode(ErrorCodes.PROCESSOR_ALL_FAILED));
    await assert.rejects(p.process(), (e: unknown) => isCode(ErrorCodes.PROCESSOR_ALL_FAILED)(e) && /backed off/.test((e as Error).message));
    assert.deepEqual(sinks.map((s) => s.calls), [1, 1, 1]);
    assert.equal(ch.size(), 10);
    sinks[2].mode = 'ok';
    clock.advance(2000);
    assert.equal(await p.process(), 'READY');
    assert.equal(sinks[2].batches.length, 1);
  });

  it('offers the head batch first to the sink that held it in flight before a restart', async () => {
    const { ch, sinks, p, counters } = setup({}, { inflightAtStart: ['k3'] });
    await fill(ch, 30);
    assert.equal(await p.process(), 'READY');
    assert.deepEqual(sinks[2].batches[0]?.[0], 'e0');
    assert.equal(await p.process(), 'READY');
    assert.equal(sinks[0].batches.length, 1, 'then round_robin as usual');
    assert.equal(counters.get('PossibleDuplicateCount'), 0);
  });

  it('holds the group for the in-flight sink, with back-off, until it delivers', async () => {
    const { ch, sinks, clock, p, counters } = setup({ backoff: true }, { inflightAtStart: ['k2'], stickyMs: 10_000 });
    await fill(ch, 30);
    sinks[1].mode = 'fail';
    await assert.rejects(p.process(), (e: unknown) => isCode(ErrorCodes.SINK_CONNECT)(e) && /k2 held a batch in flight/.test((e as Error).message));
    clock.advance(1000);
    await assert.rejects(p.process(), isCode(ErrorCodes.SINK_CONNECT));
    assert.equal(sinks[1].calls, 1, 'not retried during its back-off');
    assert.equal(sinks[0].calls + sinks[2].calls, 0, 'no other sink takes the batch');
    sinks[1].mode = 'ok';
    clock.advance(1000);
    assert.equal(await p.process(), 'READY');
    assert.deepEqual(sinks[1].batches[0]?.[0], 'e0');
    assert.equal(counters.get('PossibleDuplicateCount'), 0);
  });

  it('moves on after the sticky window and counts a possible duplicate', async () => {
    const { ch, sinks, clock, p, counters } = setup({}, { inflightAtStart: ['k2'], stickyMs: 5000 });
    await fill(ch, 30);
    sinks[1].mode = 'fail';
    await assert.rejects(p.process(), isCode(ErrorCodes.SINK_CONNECT));
    clock.advance(4999);
    await assert.rejects(p.process(), isCode(ErrorCodes.SINK_CONNECT));
    assert.equal(sinks[1].calls, 2, 'retried on every call without back-off');
    clock.advance(1);
    assert.equal(await p.process(), 'READY');
    assert.deepEqual(sinks[0].batches[0]?.[0], 'e0', 'another sink took the head batch');
    assert.equal(counters.get('PossibleDuplicateCount'), 1);
  });

  it('drops stickiness when the in-flight batch is no longer in the channel', async () => {
    const { sinks, p, counters } = setup({}, { inflightAtStart: ['k2'] });
    assert.equal(await p.process(), 'BACKOFF');
    assert.equal(sinks[1].calls, 2, 'k2 probed once as sticky, once in turn');
    assert.equal(counters.get('PossibleDuplicateCount'), 0);
  });
});
