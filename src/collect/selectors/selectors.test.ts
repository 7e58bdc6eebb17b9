import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { ChannelFullError } from '../../core/errors.js';
import { makeEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { DefaultChannelProcessor } from '../channel-processor.js';
import type { Channel, ChannelSelector } from '../contracts.js';
import { memoryChannel, testContext } from '../testkit.js';
import './multiplexing.js';
import './replicating.js';

function selector(type: string, props: Record<string, string>, channels: Channel[]): ChannelSelector {
  const r = resolveComponent('selector', type);
  assert.ok('spec' in r, `selector ${type} is registered`);
  const v = validateComponent(r.spec, props, 'a1.sources.r1.selector');
  assert.deepEqual(v.errors, []);
  return r.spec.create(v.config, { ...testContext('r1'), channels }) as ChannelSelector;
}

function processor(sel: ChannelSelector): DefaultChannelProcessor {
  const ctx = testContext('r1');
  return new DefaultChannelProcessor(sel, [], ctx.metrics.component('SOURCE', 'r1'), silentLogger);
}

async function drain(ch: Channel): Promise<string[]> {
  const tx = ch.transaction();
  const es = await tx.take(1000);
  await tx.commit();
  return es.map((e) => e.body.toString());
}

describe('channel selectors', () => {
  it('replicating copies every event to every channel, optional ones best effort', async () => {
    const [c1, c2, c3] = [memoryChannel('c1'), memoryChannel('c2'), memoryChannel('c3', 1, 1)];
    const p = processor(selector('org.apache.flume.channel.ReplicatingChannelSelector', { optional: 'c3' }, [c1!, c2!, c3!]));
    await p.process([makeEvent('a'), makeEvent('b')]);
    assert.deepEqual(await drain(c1!), ['a', 'b']);
    assert.deepEqual(await drain(c2!), ['a', 'b']);
    assert.equal(c3!.size(), 0, 'the optional channel was too small and was skipped without failing the batch');
    const full = memoryChannel('c4', 1, 1);
    const strict = processor(selector('replicating', {}, [c1!, full]));
    await assert.rejects(strict.process([makeEvent('x'), makeEvent('y')]), ChannelFullError);
  });

  it('multiplexing routes by header value, with default and optional channels', async () => {
    const [c1, c2, c3] = [memoryChannel('c1'), memoryChannel('c2'), memoryChannel('c3')];
    const chans = [c1, c2, c3];
    const sel = selector(
      'multiplexing',
      { header: 'state', 'mapping.CA': 'c1', 'mapping.NY': 'c1 c2', 'optional.NY': 'c3 c2', default: 'c2' },
      chans,
    );
    assert.deepEqual(sel.optional(makeEvent('', { state: 'NY' })).map((c) => c.name), ['c3']);
    const p = processor(sel);
    await p.process([makeEvent('ca', { state: 'CA' })]);
    await p.process([makeEvent('ny', { state: 'NY' })]);
    await p.process([makeEvent('tx', { state: 'TX' }), makeEvent('none')]);
    assert.deepEqual(await drain(c1), ['ca', 'ny']);
    assert.deepEqual(await drain(c2), ['ny', 'tx', 'none']);
    assert.deepEqual(await drain(c3), ['ny']);
    assert.deepEqual(sel.all().map((c) => c.name), ['c1', 'c2', 'c3']);
    // In one batch, an event that only optionally goes to c3 still gets there beside one requiring it.
    const sel2 = selector('multiplexing', { header: 's', 'mapping.A': 'c3', 'mapping.B': 'c1', 'optional.B': 'c3' }, chans);
    await processor(sel2).process([makeEvent('a', { s: 'A' }), makeEvent('b', { s: 'B' })]);
    assert.deepEqual(await drain(c3), ['a', 'b']);
    assert.deepEqual(await drain(c1), ['b']);
  });

  it('multiplexing reads flume.selector.header by default and sends unmapped events nowhere without a default', () => {
    const c1 = memoryChannel('c1');
    const sel = selector('org.apache.flume.channel.MultiplexingChannelSelector', { 'mapping.a': 'c1' }, [c1]);
    assert.deepEqual(sel.required(makeEvent('', { 'flume.selector.header': 'a' })), [c1]);
    assert.deepEqual(sel.required(makeEvent('', { 'flume.selector.header': 'b' })), []);
  });

  it('an unknown channel name fails creation with a message naming the key', () => {
    const chans = [memoryChannel('c1'), memoryChannel('c2')];
    assert.throws(() => selector('multiplexing', { 'mapping.CA': 'c1 c9' }, chans), /selector\.mapping\.CA: unknown channel "c9"; the source's channels are c1, c2/);
    assert.throws(() => selector('multiplexing', { default: 'cx' }, chans), /selector\.default: unknown channel "cx"/);
    assert.throws(() => selector('replicating', { optional: 'c3' }, chans), /selector\.optional: unknown channel "c3"/);
  });
});
