import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { prop } from '../core/config/props.js';
import { ChannelFullError } from '../core/errors.js';
import type { Event } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { Agent } from './agent.js';
import './builtins.js';
import { MemoryChannel, memoryChannelSchema, type MemoryChannelConfig } from './channels/memory.js';
import { defineChannel } from './contracts.js';
import { parseFlumeProperties } from './config/load.js';
import { planAgent } from './config/plan.js';
import { waitUntil } from './testkit.js';

describe('agent reload', () => {
  const props = (extra: string) =>
    `a1.sources = r1\na1.channels = c1\na1.sinks = k1\na1.sources.r1.channels = c1\na1.channels.c1.type = memory\na1.sinks.k1.type = null\na1.sinks.k1.channel = c1\n${extra}`;
  it('a failed apply (e.g. a reload whose spoolDir is missing) is reported and does not block the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review-agent-'));
    const good = planAgent(parseFlumeProperties(props('a1.sources.r1.type = seq\na1.sources.r1.totalEvents = 10\n')), 'a1').plan!;
    const bad = planAgent(parseFlumeProperties(props(`a1.sources.r1.type = spooldir\na1.sources.r1.spoolDir = ${join(dir, 'missing')}\n`)), 'a1').plan!;
    assert.ok(good && bad);
    const agent = new Agent({ name: 'a1', agentId: 'h/a1', dataDir: join(dir, 'data'), log: silentLogger });
    try {
      await agent.apply(good);
      await assert.rejects(agent.apply(bad));
      assert.match(agent.problems()[0] ?? '', /applying the configuration of agent a1 failed/);
      await agent.apply(good); // the operator fixes the file: this must work again
      assert.deepEqual(agent.problems(), []);
    } finally {
      await agent.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A memory channel whose commits fail once it would hold more than `failAbove` events (a successor that runs out of room mid-move). */
class PutLimitChannel extends MemoryChannel {
  constructor(name: string, cfg: MemoryChannelConfig & { failAbove: number }) {
    super(name, cfg);
    this.failAbove = cfg.failAbove;
  }
  private readonly failAbove: number;
  override async commitPuts(puts: Event[], bytes: number): Promise<void> {
    if (this.size() + puts.length > this.failAbove) throw new ChannelFullError(`test channel ${this.name} holds ${this.size()} events`);
    return super.commitPuts(puts, bytes);
  }
}
defineChannel({
  type: 'test-put-limit',
  description: 'test only',
  schema: memoryChannelSchema.extend({ failAbove: prop.int(0, 0) }),
  create: (cfg, ctx) => new PutLimitChannel(ctx.name, cfg),
});

describe('a memory channel changed again while its hand-over is pending', () => {
  const plan = (events: number, c1: string) =>
    planAgent(parseFlumeProperties(`a1.sources = r1\na1.channels = c1\na1.sources.r1.channels = c1\na1.sources.r1.type = seq\na1.sources.r1.totalEvents = ${events}\na1.sources.r1.batchSize = 10\n${c1}`), 'a1').plan!;

  /** Runs `fn` on an agent whose memory channel c1 holds events 0 … 49 (and `bytes` of them), then stops it. */
  async function withFiftyEvents(fn: (agent: Agent, bytes: number) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'review-agent-'));
    const agent = new Agent({ name: 'a1', agentId: 'h/a1', dataDir: join(dir, 'data'), log: silentLogger });
    try {
      await agent.apply(plan(50, 'a1.channels.c1.type = memory\na1.channels.c1.capacity = 100\na1.channels.c1.transactionCapacity = 10\n'));
      await waitUntil(() => agent.channel('c1')!.size() === 50, 2000, '50 events');
      await fn(agent, (agent.channel('c1') as MemoryChannel).heldBytes());
    } finally {
      await agent.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('moves the events of both predecessors, in order, and counts the bytes of both', () =>
    withFiftyEvents(async (agent, bytes) => {
      // the successor takes 20 events and then refuses: both channels hold events
      await assert.rejects(agent.apply(plan(0, 'a1.channels.c1.type = test-put-limit\na1.channels.c1.capacity = 200\na1.channels.c1.transactionCapacity = 10\na1.channels.c1.failAbove = 20\n')), /holds 20 events/);
      // the bytes of both count: the 20 moved ones alone would fit
      await assert.rejects(agent.apply(plan(0, `a1.channels.c1.type = memory\na1.channels.c1.capacity = 300\na1.channels.c1.byteCapacity = ${bytes - 1}\na1.channels.c1.byteCapacityBufferPercentage = 0\n`)), /byteCapacity: .* is below the \d+ bytes/);
      await agent.apply(plan(0, 'a1.channels.c1.type = memory\na1.channels.c1.capacity = 300\na1.channels.c1.transactionCapacity = 100\n'));
      assert.equal(agent.channel('c1')!.size(), 50);
      const tx = agent.channel('c1')!.transaction();
      const bodies = (await tx.take(100)).map((e) => e.body.toString());
      await tx.rollback();
      assert.deepEqual(bodies, Array.from({ length: 50 }, (_, i) => String(i)), 'the events in the order they were put');
    }));

  it('a successor with less byteCapacity than the bytes held is refused before anything stops', () =>
    withFiftyEvents(async (agent, bytes) => {
      await assert.rejects(
        agent.apply(plan(0, `a1.channels.c1.type = memory\na1.channels.c1.capacity = 200\na1.channels.c1.byteCapacity = ${bytes}\na1.channels.c1.byteCapacityBufferPercentage = 50\n`)),
        new RegExp(`a1\\.channels\\.c1\\.byteCapacity: \\(${bytes}, less 50% kept free: ${Math.floor(bytes / 2)} bytes\\) is below the ${bytes} bytes`),
      );
      assert.equal(agent.channel('c1')!.size(), 50);
    }));
});

describe('a failed apply with retries', () => {
  const props = (spool: string) =>
    `a1.sources = r1\na1.channels = c1\na1.sources.r1.channels = c1\na1.sources.r1.type = spooldir\na1.sources.r1.spoolDir = ${spool}\na1.channels.c1.type = memory\n`;
  const seq = planAgent(parseFlumeProperties('a1.sources = r1\na1.channels = c1\na1.sources.r1.channels = c1\na1.sources.r1.type = seq\na1.sources.r1.totalEvents = 0\na1.channels.c1.type = memory\n'), 'a1').plan!;

  it('is tried again until it applies: a spooling directory created after the reload is read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review-agent-'));
    const spool = join(dir, 'spool');
    const agent = new Agent({ name: 'a1', agentId: 'h/a1', dataDir: join(dir, 'data'), log: silentLogger });
    try {
      await agent.apply(seq);
      await assert.rejects(agent.apply(planAgent(parseFlumeProperties(props(spool)), 'a1').plan!, { retryAfterMs: 50 }));
      assert.match(agent.problems()[0] ?? '', /failed/);
      mkdirSync(spool);
      writeFileSync(join(spool, 'f.log'), 'one\ntwo\n');
      await waitUntil(() => agent.problems().length === 0 && agent.channel('c1')!.size() === 2, 5000, 'the retried plan to read the file');
    } finally {
      await agent.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops being tried once another apply is asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review-agent-'));
    const spool = join(dir, 'spool');
    const agent = new Agent({ name: 'a1', agentId: 'h/a1', dataDir: join(dir, 'data'), log: silentLogger });
    try {
      await assert.rejects(agent.apply(planAgent(parseFlumeProperties(props(spool)), 'a1').plan!, { retryAfterMs: 50 }));
      await agent.apply(seq);
      mkdirSync(spool);
      writeFileSync(join(spool, 'f.log'), 'one\n');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(agent.problems(), []);
      assert.ok(existsSync(join(spool, 'f.log')), 'the replaced plan was applied again and read the file');
      assert.equal(agent.channel('c1')!.size(), 0);
    } finally {
      await agent.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reload of a changed memory channel', () => {
  it('a reload that would shrink a memory channel below its fill is refused and loses nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review-agent-'));
    const props = (cap: number) =>
      `a1.sources = r1\na1.channels = c1\na1.sources.r1.channels = c1\na1.sources.r1.type = seq\na1.sources.r1.totalEvents = 50\na1.sources.r1.batchSize = 10\na1.channels.c1.type = memory\na1.channels.c1.capacity = ${cap}\na1.channels.c1.transactionCapacity = 10\na1.channels.c1.keep-alive = 0\n`;
    const agent = new Agent({ name: 'a1', agentId: 'h/a1', dataDir: join(dir, 'data'), log: silentLogger });
    try {
      await agent.apply(planAgent(parseFlumeProperties(props(100)), 'a1').plan!);
      await waitUntil(() => agent.channel('c1')!.size() === 50, 2000, '50 events');
      await assert.rejects(agent.apply(planAgent(parseFlumeProperties(props(20)), 'a1').plan!), /a1\.channels\.c1\.capacity: \(20\) is below the 50 event\(s\)/);
      const size = agent.channel('c1')?.size();
      assert.equal(size, 50, `events in c1 after the reload: ${size}`);
    } finally {
      await agent.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a reload that fails after a memory channel changed', () => {
  it('keeps the old channel\'s events for the next reload instead of orphaning them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review-agent-'));
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    // c2 comes first, so its failed start happens before c1's successor exists
    const props = (cap: number, c2Dir: string, events: number) =>
      `a1.sources = r1\na1.channels = c2 c1\na1.sources.r1.channels = c1\na1.sources.r1.type = seq\na1.sources.r1.totalEvents = ${events}\na1.sources.r1.batchSize = 10
a1.channels.c1.type = memory\na1.channels.c1.capacity = ${cap}\na1.channels.c1.transactionCapacity = 10\na1.channels.c1.keep-alive = 0
a1.channels.c2.type = file\na1.channels.c2.checkpointDir = ${c2Dir}/ck\na1.channels.c2.dataDirs = ${c2Dir}/data\na1.channels.c2.minimumRequiredSpace = 0\n`;
    // only the first plan's source sends events (a restarted sequence would send them again)
    const plan = (cap: number, c2Dir: string, events = 0) => planAgent(parseFlumeProperties(props(cap, c2Dir, events)), 'a1').plan!;
    const agent = new Agent({ name: 'a1', agentId: 'h/a1', dataDir: join(dir, 'data'), log: silentLogger });
    try {
      await agent.apply(plan(100, join(dir, 'c2'), 50));
      await waitUntil(() => agent.channel('c1')!.size() === 50, 2000, '50 events');
      // c1 grows and c2 moves under a regular file: c2 cannot start
      await assert.rejects(agent.apply(plan(200, join(dir, 'not-a-dir'))));
      // a smaller c1 than the events waiting is still refused
      await assert.rejects(agent.apply(plan(40, join(dir, 'c2'))), /a1\.channels\.c1\.capacity: \(40\) is below the 50 event\(s\)/);
      await agent.apply(plan(200, join(dir, 'c2'))); // the operator fixes the file
      const size = agent.channel('c1')?.size();
      assert.equal(size, 50, `events in c1 after the fixed reload: ${size}`);
    } finally {
      await agent.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('watchdog after a reload', () => {
  it('forgets the replaced pipeline, so a drained one is not flagged stuck', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'review-wd-'));
    const base = `a1.sources = r1\na1.channels = c1\na1.sources.r1.channels = c1\na1.sources.r1.type = seq\na1.sources.r1.totalEvents = 50\na1.sources.r1.batchSize = 10
a1.channels.c1.type = file\na1.channels.c1.checkpointDir = ${dir}/ck\na1.channels.c1.dataDirs = ${dir}/data\na1.channels.c1.minimumRequiredSpace = 0\n`;
    const agent = new Agent({ name: 'a1', agentId: 'h/a1', dataDir: join(dir, 'agent'), log: silentLogger, stuckAfterMs: 200 });
    try {
      await agent.apply(planAgent(parseFlumeProperties(base), 'a1').plan!); // no sink yet: 50 events wait
      await waitUntil(() => agent.channel('c1')!.size() === 50, 3000, '50 events');
      // The operator adds a sink and raises the capacity: the channel is replaced, its events recovered.
      const next = base + `a1.channels.c1.capacity = 2000000\na1.sinks = k1\na1.sinks.k1.type = null\na1.sinks.k1.channel = c1\n`;
      await agent.apply(planAgent(parseFlumeProperties(next), 'a1').plan!);
      await waitUntil(() => agent.channel('c1')!.size() === 0, 5000, 'the sink to drain c1');
      for (let i = 0; i < 3; i++) {
        agent.watchdog.check();
        await new Promise((r) => setTimeout(r, 150));
      }
      assert.deepEqual(agent.watchdog.stuck(), [], 'nothing waits anywhere, yet something is flagged stuck');
    } finally {
      await agent.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
