import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { makeEvent, type Event } from '../../core/event.js';
import type { Channel } from '../contracts.js';

/**
 * The Channel contract's conformance suite. Every channel implementation runs it from its own test
 * file; durable implementations also get the restart checks.
 */
export interface ChannelUnderTest {
  channel: Channel;
  /** Stops the channel and opens a new instance on the same storage (durable channels only). */
  reopen?: () => Promise<Channel>;
  cleanup: () => Promise<void>;
}

export type ChannelFactory = (opts: { capacity: number; transactionCapacity: number }) => Promise<ChannelUnderTest>;

const ev = (i: number): Event => makeEvent(`event-${i}`, { i: String(i) });
const bodies = (es: Event[]) => es.map((e) => e.body.toString());

async function putCommit(ch: Channel, events: Event[], markers?: Record<string, string>): Promise<void> {
  const tx = ch.transaction();
  tx.put(events);
  await tx.commit(markers);
}

async function takeCommit(ch: Channel, n: number): Promise<Event[]> {
  const tx = ch.transaction();
  const got = await tx.take(n);
  await tx.commit();
  return got;
}

async function withChannel(factory: ChannelFactory, opts: { capacity: number; transactionCapacity: number }, fn: (u: ChannelUnderTest) => Promise<void>) {
  const u = await factory(opts);
  await u.channel.start();
  try {
    await fn(u);
  } finally {
    await u.channel.stop().catch(() => {});
    await u.cleanup();
  }
}

export function channelConformance(label: string, factory: ChannelFactory, opts: { durable: boolean }): void {
  const small = { capacity: 10, transactionCapacity: 5 };
  const big = { capacity: 10_000, transactionCapacity: 1000 };

  describe(`Channel conformance: ${label}`, () => {
    it('delivers committed events in order, headers and bodies intact', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        const binary = makeEvent(Buffer.from([0, 255, 10, 13, 0xc3]), { k: 'v', 'empty': '' });
        await putCommit(channel, [ev(1), ev(2), binary, makeEvent('')]);
        assert.equal(channel.size(), 4);
        const got = await takeCommit(channel, 10);
        assert.deepEqual(bodies(got.slice(0, 2)), ['event-1', 'event-2']);
        assert.deepEqual(got[2]!.body, binary.body);
        assert.deepEqual(got[2]!.headers, { k: 'v', empty: '' });
        assert.equal(got[3]!.body.length, 0);
        assert.equal(channel.size(), 0);
      });
    });

    it('a take of more than is there returns what is there, and nothing from an empty channel', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        assert.deepEqual(await takeCommit(channel, 5), []);
        await putCommit(channel, [ev(1), ev(2)]);
        assert.equal((await takeCommit(channel, 5)).length, 2);
      });
    });

    it('a rolled-back take returns its events to the head in their original order', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        await putCommit(channel, [1, 2, 3, 4, 5].map(ev));
        const tx = channel.transaction();
        assert.deepEqual(bodies(await tx.take(2)), ['event-1', 'event-2']);
        assert.deepEqual(bodies(await tx.take(1)), ['event-3']);
        await tx.rollback();
        assert.deepEqual(bodies(await takeCommit(channel, 10)), ['event-1', 'event-2', 'event-3', 'event-4', 'event-5']);
      });
    });

    it('a rolled-back put leaves nothing behind', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        const tx = channel.transaction();
        tx.put([ev(1), ev(2)]);
        await tx.rollback();
        assert.equal(channel.size(), 0);
        assert.deepEqual(await takeCommit(channel, 10), []);
      });
    });

    it('uncommitted puts are invisible to takers', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        const tx = channel.transaction();
        tx.put([ev(1)]);
        assert.deepEqual(await takeCommit(channel, 10), []);
        await tx.commit();
        assert.equal((await takeCommit(channel, 10)).length, 1);
      });
    });

    it('a put beyond transactionCapacity is a retriable ChannelFull error', async () => {
      await withChannel(factory, small, async ({ channel }) => {
        const tx = channel.transaction();
        assert.throws(() => tx.put([1, 2, 3, 4, 5, 6].map(ev)), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_FULL && e.retriable);
        await tx.rollback();
      });
    });

    it('a commit beyond capacity fails with ChannelFull and leaves the channel unchanged', async () => {
      await withChannel(factory, small, async ({ channel }) => {
        await putCommit(channel, [1, 2, 3, 4, 5].map(ev));
        await putCommit(channel, [6, 7, 8, 9].map(ev));
        const tx = channel.transaction();
        tx.put([10, 11].map(ev));
        await assert.rejects(tx.commit(), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_FULL && e.retriable);
        assert.equal(channel.size(), 9);
        await takeCommit(channel, 5);
        await putCommit(channel, [10, 11].map(ev));
        assert.equal(channel.size(), 6);
      });
    });

    it('a closed transaction refuses further use', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        const tx = channel.transaction();
        tx.put([ev(1)]);
        await tx.commit();
        assert.throws(() => tx.put([ev(2)]), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.CHANNEL_TX);
      });
    });

    it('markers are visible after commit and not after rollback', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        await putCommit(channel, [ev(1)], { pos: '10' });
        assert.equal(channel.marker('pos'), '10');
        const tx = channel.transaction();
        tx.put([ev(2)]);
        await tx.rollback();
        assert.equal(channel.marker('pos'), '10');
        const t2 = channel.transaction();
        await t2.take(1);
        await t2.commit({ out: 'a:1' });
        assert.equal(channel.marker('out'), 'a:1');
        assert.equal(channel.marker('pos'), '10');
      });
    });

    it('waitForData wakes a waiting taker when a commit lands', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        const t0 = Date.now();
        const waiting = channel.waitForData(5000);
        setTimeout(() => void putCommit(channel, [ev(1)]), 20);
        await waiting;
        assert.ok(Date.now() - t0 < 4000);
      });
    });

    it('many small transactions keep FIFO order', async () => {
      await withChannel(factory, big, async ({ channel }) => {
        for (let i = 0; i < 200; i += 4) await putCommit(channel, [i, i + 1, i + 2, i + 3].map(ev));
        const seen: number[] = [];
        for (;;) {
          const got = await takeCommit(channel, 7);
          if (got.length === 0) break;
          for (const e of got) seen.push(Number(e.headers.i));
        }
        assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
      });
    });

    if (opts.durable) {
      it('committed events and markers survive a restart; uncommitted takes come back', async () => {
        const u = await factory(big);
        await u.channel.start();
        try {
          await putCommit(u.channel, [1, 2, 3, 4].map(ev), { pos: 'p4' });
          await takeCommit(u.channel, 1);
          const open = u.channel.transaction();
          await open.take(2);
          const reopened = await u.reopen!();
          await reopened.start();
          assert.equal(reopened.marker('pos'), 'p4');
          assert.deepEqual(bodies(await takeCommit(reopened, 10)), ['event-2', 'event-3', 'event-4']);
          await reopened.stop();
        } finally {
          await u.cleanup();
        }
      });
    }
  });
}
