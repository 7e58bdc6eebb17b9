import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { makeEvent } from '../../core/event.js';
import { memoryChannel } from '../testkit.js';
import { ThriftClient } from './client.js';
import { Status } from './codec.js';
import { drain, identified, makeSink, put, RecordingInFlight, startCollector, type Collector } from './testing.js';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});
async function collector(...args: Parameters<typeof startCollector>): Promise<Collector> {
  const c = await startCollector(...args);
  cleanups.push(() => c.source.stop());
  return c;
}
function listen(server: Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}
async function send(port: number, protocol: 'compact' | 'binary', events: ReturnType<typeof identified>): Promise<number> {
  const client = new ThriftClient('127.0.0.1', port, protocol);
  await client.connect(2000);
  try {
    return await client.appendBatch(events, 5000);
  } finally {
    client.close();
  }
}

describe('thrift sink → thrift source', () => {
  for (const protocol of ['compact', 'binary'] as const) {
    it(`delivers headers and binary bodies intact (${protocol})`, async () => {
      const col = await collector(memoryChannel('c1'), { protocol });
      const src = memoryChannel('k');
      const inflight = new RecordingInFlight();
      const events = [...identified('up/a1/r1/boot', 0, 7), makeEvent(Buffer.alloc(0), {}), makeEvent(Buffer.from([0, 1, 2, 255]), { 'ü-key': 'välue', empty: '' })];
      await put(src, events);
      const { sink, ctx } = makeSink(src, { port: col.port, protocol, 'batch-size': 4 }, inflight);
      await sink.start();
      cleanups.push(() => sink.stop());
      assert.equal(await sink.process(), 'READY');
      assert.equal(await sink.process(), 'READY');
      assert.equal(await sink.process(), 'READY');
      assert.equal(await sink.process(), 'BACKOFF');
      const got = await drain(col.channel);
      assert.equal(got.length, events.length);
      for (const [i, e] of events.entries()) {
        assert.deepEqual(got[i]!.body, e.body);
        for (const [k, v] of Object.entries(e.headers)) assert.equal(got[i]!.headers[k], v);
      }
      // the two events without identity were stamped by the collector
      assert.match(got[7]!.headers['monsoon.origin']!, /^test-host\/a1\/r1\//);
      assert.equal(Number(got[8]!.headers['monsoon.seq']), Number(got[7]!.headers['monsoon.seq']) + 1);
      assert.deepEqual(
        [ctx.counters.get('BatchCompleteCount'), ctx.counters.get('BatchUnderflowCount'), ctx.counters.get('BatchEmptyCount'), ctx.counters.get('EventDrainSuccessCount')],
        [2, 1, 1, 9],
      );
      assert.equal(ctx.counters.get('ConnectionCreatedCount'), 1);
      assert.deepEqual(inflight.log, ['begin k1', 'end k1', 'begin k1', 'end k1', 'begin k1', 'end k1']);
      const sc = col.ctx.counters;
      assert.deepEqual([sc.get('AppendBatchReceivedCount'), sc.get('AppendBatchAcceptedCount'), sc.get('EventReceivedCount'), sc.get('EventAcceptedCount')], [3, 3, 9, 9]);
    });
  }
});

describe('thrift source dedup', () => {
  it('stores a batch sent twice once, also after a restart on the same channel', async () => {
    const channel = memoryChannel('c1');
    const first = await collector(channel);
    const batch = identified('up/a1/r1/b', 0, 5);
    assert.equal(await send(first.port, 'compact', batch), Status.OK);
    assert.equal(await send(first.port, 'compact', batch), Status.OK);
    assert.equal(channel.size(), 5);
    assert.equal(first.ctx.counters.get('DuplicateEventCount'), 5);
    await first.source.stop();

    const second = await collector(channel);
    const overlap = identified('up/a1/r1/b', 3, 4); // seq 3..6: 3 and 4 already stored
    assert.equal(await send(second.port, 'compact', overlap), Status.OK);
    assert.equal(second.ctx.counters.get('DuplicateEventCount'), 2);
    assert.deepEqual(
      (await drain(channel)).map((e) => e.headers['monsoon.seq']),
      ['0', '1', '2', '3', '4', '5', '6'],
    );
  });

  it('serialises concurrent batches from several connections', async () => {
    const col = await collector(memoryChannel('c1'));
    const batch = identified('up/a1/r1/c', 0, 50);
    const statuses = await Promise.all([1, 2, 3, 4, 5].map(() => send(col.port, 'compact', batch)));
    assert.deepEqual(statuses, [0, 0, 0, 0, 0]);
    assert.equal(col.channel.size(), 50);
    assert.equal(col.ctx.counters.get('DuplicateEventCount'), 200);
  });

  it('answers FAILED when the channel is full, and the sink re-sends until it fits', async () => {
    const full = memoryChannel('c1', 10, 10);
    await put(full, identified('other', 0, 10));
    const col = await collector(full);
    const src = memoryChannel('k');
    await put(src, identified('up/a1/r1/d', 0, 5));
    const { sink, ctx } = makeSink(src, { port: col.port, 'replay-timeout': 20_000 });
    cleanups.push(() => sink.stop());
    const result = sink.process();
    await waitFor(() => col.ctx.counters.get('GenericProcessingFail') > 0, 'a FAILED answer');
    await drain(full);
    assert.equal(await result, 'READY');
    assert.equal(full.size(), 5);
    assert.equal(ctx.counters.get('ConnectionCreatedCount'), 1, 'FAILED keeps the connection');
  });
});

describe('thrift source with concurrent connections', () => {
  it('commits calls from several connections at once and stores every identity once', async () => {
    const col = await collector(memoryChannel('c1', 100_000, 10_000), { threads: '3' });
    // five connections, each sending ranges that other connections also send (as replays would)
    const sends = Array.from({ length: 5 }, async (_, c) => {
      const client = new ThriftClient('127.0.0.1', col.port, 'compact');
      await client.connect(2000);
      try {
        for (let b = 0; b < 6; b++) {
          const first = ((c + b) % 8) * 50;
          assert.equal(await client.appendBatch(identified('up/a1/r1/cc', first, 100), 5000), Status.OK);
        }
      } finally {
        client.close();
      }
    });
    await Promise.all(sends);
    const seqs = (await drain(col.channel)).map((e) => Number(e.headers['monsoon.seq']));
    assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 450 }, (_, i) => i));
    assert.equal(col.ctx.counters.get('EventAcceptedCount'), 450);
    assert.equal(col.ctx.counters.get('DuplicateEventCount'), 5 * 6 * 100 - 450);
  });
});

describe('thrift sink replay', () => {
  it('re-sends a batch whose reply was lost to the same collector, which stores it once', async () => {
    const col = await collector(memoryChannel('c1'));
    // A proxy that swallows the collector's first reply and cuts that connection.
    let dropped = false;
    const proxy = createServer((down: Socket) => {
      const up = connect(col.port, '127.0.0.1');
      down.pipe(up);
      up.on('data', (d: Buffer) => {
        if (!dropped) {
          dropped = true;
          down.destroy();
          up.destroy();
        } else down.write(d);
      });
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
      down.on('close', () => up.destroy());
    });
    const port = await listen(proxy);
    cleanups.push(() => new Promise<void>((r) => proxy.close(() => r())));
    const src = memoryChannel('k');
    await put(src, identified('up/a1/r1/e', 0, 20));
    const { sink, ctx } = makeSink(src, { port, 'batch-size': 20 });
    cleanups.push(() => sink.stop());
    assert.equal(await sink.process(), 'READY');
    assert.equal(dropped, true);
    assert.equal(src.size(), 0);
    assert.deepEqual(
      (await drain(col.channel)).map((e) => e.headers['monsoon.seq']),
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
    assert.equal(col.ctx.counters.get('DuplicateEventCount'), 20);
    assert.equal(ctx.counters.get('ConnectionCreatedCount'), 2);
    assert.equal(ctx.counters.get('PossibleDuplicateCount'), 0);
  });

  it('rolls back after replay-timeout with a retriable connect error when the collector is down', async () => {
    const probe = createServer();
    const port = await listen(probe);
    await new Promise<void>((r) => probe.close(() => r()));
    const src = memoryChannel('k');
    await put(src, identified('up/a1/r1/f', 0, 3));
    const { sink, ctx } = makeSink(src, { port, 'replay-timeout': 300 });
    await assert.rejects(sink.process(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.SINK_CONNECT && e.retriable);
    assert.equal(src.size(), 3, 'the batch is back in the channel');
    assert.ok(ctx.counters.get('ConnectionFailedCount') >= 2);
    assert.equal(ctx.counters.get('PossibleDuplicateCount'), 0);
  });

  it('counts possible duplicates when it gives up on a batch with unknown outcome', async () => {
    const silent = createServer((s) => s.on('data', () => {}));
    const port = await listen(silent);
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    const src = memoryChannel('k');
    await put(src, identified('up/a1/r1/g', 0, 4));
    const { sink, ctx } = makeSink(src, { port, 'request-timeout': 100, 'replay-timeout': 250 });
    await assert.rejects(sink.process(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.SINK_TIMEOUT && e.retriable);
    assert.equal(src.size(), 4);
    assert.equal(ctx.counters.get('PossibleDuplicateCount'), 4);
    await sink.stop();
  });
});

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('avro', () => {
  it('is named as unavailable, pointing at thrift', async () => {
    await import('../builtins.js');
    const { resolveComponent } = await import('../../core/config/component.js');
    for (const [kind, type] of [['source', 'avro'], ['sink', 'org.apache.flume.sink.AvroSink']] as const) {
      const r = resolveComponent(kind, type);
      assert.ok('error' in r && /not available yet.*type = thrift/.test(r.error), JSON.stringify(r));
    }
  });
});

describe('thrift config', () => {
  it('uses Flume names, aliases and defaults, and refuses TLS it cannot do', async () => {
    const { resolveComponent, validateComponent } = await import('../../core/config/component.js');
    const sink = resolveComponent('sink', 'org.apache.flume.sink.ThriftSink');
    const source = resolveComponent('source', 'ORG.APACHE.FLUME.SOURCE.THRIFTSOURCE');
    assert.ok('spec' in sink && 'spec' in source);
    const k = validateComponent(sink.spec, { hostname: 'h', port: '4141' }, 'a1.sinks.k1');
    assert.deepEqual(k.errors, []);
    assert.equal(k.config.protocol, 'compact');
    assert.equal(sink.spec.batchSize?.(k.config), 100);
    assert.deepEqual([k.config['connect-timeout'], k.config['request-timeout'], k.config['replay-timeout']], [20_000, 20_000, 30_000]);
    const r = validateComponent(source.spec, { bind: '0.0.0.0', port: '4141', threads: '8', ssl: 'true' }, 'a1.sources.r1');
    assert.deepEqual(
      r.errors.map((e) => e.key),
      ['a1.sources.r1.ssl'],
    );
    const bad = validateComponent(source.spec, { bind: '0.0.0.0', port: '4141', protocol: 'json' }, 'a1.sources.r1');
    assert.match(bad.errors[0]!.message, /compact, binary/);
  });
});

describe('thrift source with a small transactionCapacity', () => {
  it('commits a batch larger than the channel transactionCapacity in chunks, once, also when re-sent', async () => {
    const col = await startCollector(memoryChannel('c1', 10_000, 100));
    const agentCh = memoryChannel('a', 10_000, 1000);
    await put(agentCh, identified('o', 0, 150));
    const { sink } = makeSink(agentCh, { hostname: '127.0.0.1', port: col.port, 'batch-size': 150, 'replay-timeout': 300 });
    await sink.start();
    try {
      assert.equal(await sink.process(), 'READY', 'a 150-event batch must be accepted by a collector whose channel takes 100 per transaction');
      assert.equal(col.channel.size(), 150);
      await put(agentCh, identified('o', 0, 150)); // the same identities again: a replay
      assert.equal(await sink.process(), 'READY');
      assert.equal(col.channel.size(), 150);
    } finally {
      await sink.stop();
      await col.source.stop();
    }
  });
});
