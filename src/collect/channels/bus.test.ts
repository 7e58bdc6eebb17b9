import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Bus, ConsumedRecord } from '../../bus/bus.js';
import { acquireBus, aliasBus } from '../../bus/shared.js';
import { openBus } from '../../bus/url.js';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { makeEvent, type Event } from '../../core/event.js';
import { encodeAvroEvent } from '../bus/avro-event.js';
import '../builtins.js';
import type { Channel } from '../contracts.js';
import { channelContext, scratchDir } from '../testkit.js';
import { BusChannel, type BusChannelOptions } from './bus.js';
import { MARKER_HEADER } from './bus/state.js';
import { channelConformance } from './conformance.js';

const options = (dir: string, o: Partial<BusChannelOptions> = {}): BusChannelOptions => ({
  url: join(dir, 'log'),
  topic: 'events',
  group: 'flume',
  parseAsFlumeEvent: false,
  pollTimeout: 500,
  from: 'earliest',
  partitions: 1,
  capacity: Number.MAX_SAFE_INTEGER,
  transactionCapacity: 10_000,
  checkpointDir: join(dir, 'state'),
  checkpointInterval: 30_000,
  checkpointBytes: 64 * 1024 * 1024,
  ...o,
});

/** A channel on a fresh embedded log in its own directory; `reopen` gives a new instance on the same storage and state. */
function harness(o: Partial<BusChannelOptions> = {}) {
  const dir = scratchDir('buschan-');
  const ctx = channelContext('c1');
  const opts = options(dir, o);
  return { dir, ctx, opts, open: () => new BusChannel('c1', opts, ctx) };
}

channelConformance(
  'bus (embedded log)',
  async ({ capacity, transactionCapacity }) => {
    const h = harness({ capacity, transactionCapacity });
    let channel = h.open();
    return {
      channel,
      reopen: async () => {
        await channel.stop();
        channel = h.open();
        return channel;
      },
      cleanup: async () => {},
    };
  },
  { durable: true },
);

const ev = (i: number, h: Record<string, string> = {}): Event => makeEvent(`event-${i}`, { i: String(i), ...h });

async function put(ch: Channel, events: Event[], markers?: Record<string, string>): Promise<void> {
  const tx = ch.transaction();
  tx.put(events);
  await tx.commit(markers);
}

async function takeAll(ch: Channel): Promise<Event[]> {
  const out: Event[] = [];
  for (let idle = 0; idle < 3; ) {
    const tx = ch.transaction();
    const got = await tx.take(1000);
    await tx.commit();
    if (got.length === 0) {
      idle++;
      await ch.waitForData(50);
    } else out.push(...got);
  }
  return out;
}

async function records(url: string, topic: string): Promise<ConsumedRecord[]> {
  const h = await acquireBus(url);
  try {
    const c = await h.bus.consumer(`check-${Math.random()}`, [topic], { from: 'earliest' });
    const out: ConsumedRecord[] = [];
    for (let idle = 0; idle < 3; ) {
      const got = await c.poll(10_000, 100);
      if (got.length === 0) idle++;
      for (const b of got) out.push(...b.records);
    }
    await c.close();
    return out;
  } finally {
    await h.release();
  }
}

describe('bus channel', () => {
  it('is registered as Flume\'s KafkaChannel and as Monsoon bus types, with Flume\'s defaults', () => {
    for (const name of ['kafka', 'org.apache.flume.channel.kafka.KafkaChannel']) {
      const r = resolveComponent('channel', name);
      assert.ok('spec' in r, name);
      const v = validateComponent(r.spec, { 'kafka.bootstrap.servers': 'h1:9092,h2:9092' }, 'a1.channels.c1');
      assert.deepEqual(v.errors, []);
      assert.equal(v.config['kafka.topic'], 'flume-channel');
      assert.equal(v.config['kafka.consumer.group.id'], 'flume');
      assert.equal(v.config.parseAsFlumeEvent, true);
      assert.equal(v.config.pollTimeout, 500);
    }
    const r = resolveComponent('channel', 'kafka');
    assert.ok('spec' in r);
    const old = validateComponent(r.spec, { brokerList: 'h1:9092', topic: 't', groupId: 'g' }, 'a1.channels.c1');
    assert.deepEqual(old.errors, []);
    assert.equal(old.config['kafka.topic'], 't');
    assert.ok(old.warnings.some((w) => w.key === 'a1.channels.c1.brokerList' && /deprecated/.test(w.message)));
    const missing = validateComponent(r.spec, {}, 'a1.channels.c1');
    assert.equal(missing.errors[0]?.key, 'a1.channels.c1.kafka.bootstrap.servers');
    const e = resolveComponent('channel', 'embedded');
    assert.ok('spec' in e);
    const v = validateComponent(e.spec, { path: '/tmp/x', topic: 'raw', capacity: '10', transactionCapacity: '20' }, 'a1.channels.c1');
    assert.equal(v.errors[0]?.key, 'a1.channels.c1.transactionCapacity');
  });

  it('writes each put transaction to one partition, in turn, as records with the event headers', async () => {
    const h = harness({ partitions: 3 });
    const ch = h.open();
    await ch.start();
    for (let t = 0; t < 6; t++) await put(ch, [0, 1, 2, 3].map((i) => ev(t * 4 + i)));
    await ch.stop();
    const got = await records(h.opts.url, 'events');
    assert.equal(got.length, 24);
    const byTx = new Map<number, Set<number>>();
    for (const r of got) {
      const i = Number(r.headers.i);
      assert.equal(r.value.toString(), `event-${i}`);
      const s = byTx.get(Math.floor(i / 4)) ?? new Set<number>();
      s.add(r.partition);
      byTx.set(Math.floor(i / 4), s);
    }
    for (const [t, parts] of byTx) assert.equal(parts.size, 1, `transaction ${t} went to one partition`);
    assert.equal(new Set([...byTx.values()].map((s) => [...s][0])).size, 3, 'transactions spread over the partitions');
  });

  it('recovers markers from the topic after a crash that left no state file behind, the latest commit winning', async () => {
    const h = harness({ partitions: 4 });
    const ch = h.open();
    await ch.start();
    for (let t = 0; t < 9; t++) await put(ch, [ev(t)], { pos: `p${t}`, [`slot${t % 2}`]: `s${t}` });
    await ch.halt();
    const again = h.open();
    await again.start();
    try {
      assert.equal(again.marker('pos'), 'p8');
      assert.equal(again.marker('slot0'), 's8');
      assert.equal(again.marker('slot1'), 's7');
      const taken = await takeAll(again);
      assert.deepEqual(taken.map((e) => e.headers.i).sort(), ['0', '1', '2', '3', '4', '5', '6', '7', '8']);
      assert.ok(taken.every((e) => e.headers[MARKER_HEADER] === undefined), 'the marker header is not an event header');
    } finally {
      await again.stop();
    }
  });

  it('finds the markers of a write still unacknowledged when its state file was written', async () => {
    // the bus stores A's records at once but holds its acknowledgement until `release`
    const h = harness({ checkpointBytes: 1 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let real: Bus | undefined;
    aliasBus(h.opts.url, async () => {
      real = await openBus(join(h.dir, 'real'));
      const bus = real;
      return {
        admin: bus.admin,
        consumer: (group, topics, o) => bus.consumer(group, topics, o),
        lag: (group) => bus.lag(group),
        close: () => bus.close(),
        produce: async (topic, recs) => {
          const out = await bus.produce(topic, recs);
          if (recs.some((r) => r.headers?.i === 'A')) await held;
          return out;
        },
      } satisfies Bus;
    });
    const ch = h.open();
    await ch.start();
    const a = put(ch, [ev(0, { i: 'A' })], { slot0: 'A' });
    await new Promise((r) => setTimeout(r, 50));
    await put(ch, [ev(1, { i: 'B' })], { slot1: 'B' }); // its commit writes the state file while A is unacknowledged
    await new Promise((r) => setTimeout(r, 50));
    await ch.halt();
    release();
    await a.catch(() => {});
    const again = h.open();
    await again.start();
    try {
      assert.equal(again.marker('slot1'), 'B');
      assert.equal(again.marker('slot0'), 'A', 'A is in the log, so its marker must come back');
    } finally {
      await again.stop();
      await real?.close();
    }
  });

  it('keeps the markers of a take commit and the offsets it covered across a crash', async () => {
    const h = harness();
    const ch = h.open();
    await ch.start();
    await put(ch, [1, 2, 3, 4].map((i) => ev(i)));
    const tx = ch.transaction();
    assert.equal((await tx.take(2)).length, 2);
    await tx.commit({ out: 'file-a:2' });
    await ch.halt();
    const again = h.open();
    await again.start();
    try {
      assert.equal(again.marker('out'), 'file-a:2');
      assert.deepEqual((await takeAll(again)).map((e) => e.headers.i), ['3', '4']);
    } finally {
      await again.stop();
    }
  });

  it('keeps its markers when the host name changes between runs (the owner is kept in the state file)', async () => {
    const dir = scratchDir('buschan-');
    const o = options(dir);
    const first = new BusChannel('c1', o, { ...channelContext('c1'), agentId: 'old-host/a1' });
    await first.start();
    await put(first, [ev(1)], { pos: 'p1' });
    await first.halt();
    const again = new BusChannel('c1', o, { ...channelContext('c1'), agentId: 'new-host/a1' });
    await again.start();
    try {
      assert.equal(again.marker('pos'), 'p1');
    } finally {
      await again.stop();
    }
  });

  it('two channels of one group split the partitions, and the one left takes them all when the other stops', async () => {
    const dir = scratchDir('buschan-');
    const a = new BusChannel('c1', options(dir, { partitions: 2, checkpointDir: join(dir, 'a') }), channelContext('c1'));
    const b = new BusChannel('c1', options(dir, { partitions: 2, checkpointDir: join(dir, 'b') }), { ...channelContext('c1'), agentId: 'h2/a1' });
    await a.start();
    await b.start();
    for (let t = 0; t < 10; t++) await put(a, [ev(t * 2), ev(t * 2 + 1)]);
    const seen = [...(await takeAll(a)), ...(await takeAll(b))].map((e) => Number(e.headers.i));
    assert.deepEqual(seen.sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i), 'each event taken once between the two');
    await a.stop();
    for (let t = 10; t < 14; t++) await put(b, [ev(t * 2), ev(t * 2 + 1)]);
    const later = (await takeAll(b)).map((e) => Number(e.headers.i));
    await b.stop();
    assert.deepEqual(later.sort((x, y) => x - y), Array.from({ length: 8 }, (_, i) => 20 + i), 'b took every partition over, from the committed offsets');
  });

  it('ignores markers another channel wrote to the same topic', async () => {
    const dir = scratchDir('buschan-');
    const a = new BusChannel('c1', options(dir, { checkpointDir: join(dir, 'a') }), channelContext('c1'));
    const bCtx = { ...channelContext('c1'), agentId: 'other-host/a1' };
    const b = new BusChannel('c1', options(dir, { checkpointDir: join(dir, 'b') }), bCtx);
    await a.start();
    await b.start();
    await put(a, [ev(1)], { pos: 'mine' });
    await put(b, [ev(2)], { pos: 'theirs' });
    await a.halt();
    const again = new BusChannel('c1', options(dir, { checkpointDir: join(dir, 'a') }), channelContext('c1'));
    await again.start();
    try {
      assert.equal(again.marker('pos'), 'mine');
    } finally {
      await again.stop();
      await b.stop();
    }
  });

  it('sends routed events to their partitions with partitionIdHeader and refuses a header that names none', async () => {
    const h = harness({ partitions: 2, partitionIdHeader: 'p' });
    const ch = h.open();
    await ch.start();
    try {
      await put(ch, [ev(1, { p: '1' }), ev(2, { p: '0' }), ev(3, { p: '1' })], { pos: 'x' });
      const tx = ch.transaction();
      tx.put([ev(4, { p: '7' })]);
      await assert.rejects(tx.commit(), /header p \(partitionIdHeader\) is "7", not a partition of topic events/);
    } finally {
      await ch.stop();
    }
    const got = await records(h.opts.url, 'events');
    assert.deepEqual(got.map((r) => `${r.headers.i}@${r.partition}`).sort(), ['1@1', '2@0', '3@1']);
  });

  it('with parseAsFlumeEvent keeps events as Flume Avro datums and skips, counting, a record that is not one', async () => {
    const h = harness({ parseAsFlumeEvent: true });
    const ch = h.open();
    await ch.start();
    try {
      await put(ch, [ev(1, { k: 'v' })]);
      const bus = await acquireBus(h.opts.url);
      await bus.bus.produce('events', [{ value: Buffer.from('not avro') }]);
      await put(ch, [ev(2)]);
      const got = await records(h.opts.url, 'events');
      assert.deepEqual(got[0]!.value, encodeAvroEvent(ev(1, { k: 'v' })));
      const taken = await takeAll(ch);
      assert.deepEqual(taken.map((e) => [e.body.toString(), e.headers.i]), [['event-1', '1'], ['event-2', '2']]);
      assert.equal(h.ctx.counters.get('CorruptRecordCount'), 1);
      await bus.release();
    } finally {
      await ch.stop();
    }
  });

  it('reads its markers back from the whole topic when its state file is unreadable', async () => {
    const h = harness({ partitions: 2 });
    const ch = h.open();
    await ch.start();
    await put(ch, [ev(1)], { pos: 'a' });
    await put(ch, [ev(2)], { pos: 'b' });
    await ch.stop();
    await writeFile(join(h.opts.checkpointDir, 'bus-channel.json'), '{ torn');
    const again = h.open();
    await again.start();
    try {
      assert.equal(again.marker('pos'), 'b');
    } finally {
      await again.stop();
    }
  });
});
