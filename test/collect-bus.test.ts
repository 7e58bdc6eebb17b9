/**
 * The agent's bus sinks and sources end to end: TAILDIR → Redis Streams → file_roll in one agent;
 * `monsoon agent` writing a file to the embedded log and `monsoon consume` reading every line once;
 * a bus source killed with SIGKILL mid-stream losing and repeating nothing on restart; `--check` of a
 * Flume Kafka configuration.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openBus, parseBusUrl } from '../src/bus/url.js';
import { Agent } from '../src/collect/agent.js';
import '../src/collect/builtins.js';
import { parseFlumeProperties } from '../src/collect/config/load.js';
import { planAgent } from '../src/collect/config/plan.js';
import { ORIGIN_HEADER, SEQ_HEADER } from '../src/core/event.js';
import { silentLogger } from '../src/core/log.js';
import { freePort, kill9, MONSOON_BIN, spawnMonsoon, type Proc } from './support/procs.js';
import { startRedis } from './support/redis.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-agentbus-'));
const procs = new Set<Proc>();
after(async () => {
  for (const p of procs) await kill9(p);
  if (!process.exitCode) rmSync(root, { recursive: true, force: true });
});

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, ms: number, what: string, p?: Proc): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${p ? `\n${p.tail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Lines of every file in `dir` (file_roll output), in no particular order. */
function outputLines(dir: string): string[] {
  let text = '';
  for (const f of readdirSync(dir)) text += readFileSync(join(dir, f), 'utf8');
  return text.split('\n').filter(Boolean);
}

function outputBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n;
}

function assertEachOnce(lines: string[], want: string[]): void {
  const seen = new Map<string, number>();
  for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
  const missing = want.filter((w) => !seen.has(w));
  const repeated = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual([missing.length, repeated.length, lines.length], [0, 0, want.length], `missing ${missing.slice(0, 5).join(', ')}; repeated ${repeated.slice(0, 5).join(', ')}`);
}

describe('agent with bus sinks and sources', () => {
  it('TAILDIR → redis sink → topic → redis source → file_roll: every line once, identities on the records', async () => {
    const redis = await startRedis();
    try {
      await redisPipeline(redis.url);
    } finally {
      await redis.stop();
    }
  });

  async function redisPipeline(url: string): Promise<void> {
    const redis = { url };
    const dir = join(root, 'redis');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    mkdirSync(join(dir, 'out'), { recursive: true });
    const lines = Array.from({ length: 3000 }, (_, i) => `redis line ${i}`);
    writeFileSync(join(dir, 'logs', 'app.log'), lines.join('\n') + '\n');
    const conf = `a1.sources = r1 r2\na1.channels = c1 c2\na1.sinks = k1 k2
a1.sources.r1.type = TAILDIR\na1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = ${dir}/logs/app\\\\.log\na1.sources.r1.channels = c1\na1.sources.r1.batchSize = 500
a1.channels.c1.type = memory\na1.channels.c1.capacity = 10000\na1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = redis\na1.sinks.k1.redis.url = ${redis.url}\na1.sinks.k1.topic = app\na1.sinks.k1.partitions = 3\na1.sinks.k1.batchSize = 500\na1.sinks.k1.channel = c1
a1.sources.r2.type = redis\na1.sources.r2.redis.url = ${redis.url}\na1.sources.r2.topics = app\na1.sources.r2.group = files\na1.sources.r2.from = earliest\na1.sources.r2.partitions = 3\na1.sources.r2.channels = c2
a1.channels.c2.type = memory\na1.channels.c2.capacity = 10000\na1.channels.c2.transactionCapacity = 1000
a1.sinks.k2.type = file_roll\na1.sinks.k2.sink.directory = ${dir}/out\na1.sinks.k2.sink.rollInterval = 0\na1.sinks.k2.batchSize = 500\na1.sinks.k2.channel = c2\n`;
    const r = planAgent(parseFlumeProperties(conf), 'a1');
    assert.deepEqual(r.errors, []);
    const agent = new Agent({ name: 'a1', agentId: 'h/a1', dataDir: join(dir, 'data'), log: silentLogger });
    try {
      await agent.apply(r.plan!);
      await until(() => outputLines(join(dir, 'out')).length >= lines.length || undefined, 30_000, 'every line in the file_roll output');
    } finally {
      await agent.stop(1000);
    }
    assertEachOnce(outputLines(join(dir, 'out')), lines);
    const bus = await openBus(redis.url);
    try {
      const c = await bus.consumer('check', ['app'], { from: 'earliest' });
      let n = 0;
      const seqs = new Set<string>();
      for (let polls = 0; n < lines.length && polls < 200; polls++) {
        for (const b of await c.poll(1000, 200)) {
          for (const rec of b.records) {
            assert.match(rec.headers[ORIGIN_HEADER] ?? '', /^h\/a1\/r1/);
            seqs.add(rec.headers[SEQ_HEADER]!);
            n++;
          }
        }
      }
      await c.close();
      assert.equal(n, lines.length);
      assert.equal(seqs.size, lines.length, 'every record has its own identity');
      const lag = await bus.lag('files');
      assert.deepEqual(lag.map((l) => l.lag), [0, 0, 0], 'the source committed every offset');
    } finally {
      await bus.close();
    }
  }

  it('monsoon agent writes a file to the embedded log; monsoon consume --bus <dir> prints every line once', async () => {
    const dir = join(root, 'cli');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const busDir = join(dir, 'bus');
    const lines = Array.from({ length: 5000 }, (_, i) => `cli line ${i}`);
    const port = await freePort();
    writeFileSync(
      join(dir, 'a.properties'),
      `a1.sources = r1\na1.channels = c1\na1.sinks = k1
a1.sources.r1.type = TAILDIR\na1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = ${dir}/logs/.*\\\\.log\na1.sources.r1.channels = c1
a1.channels.c1.type = file\na1.channels.c1.checkpointDir = ${dir}/cp\na1.channels.c1.dataDirs = ${dir}/data
a1.sinks.k1.type = embedded\na1.sinks.k1.path = ${busDir}\na1.sinks.k1.topic = lines\na1.sinks.k1.partitions = 2\na1.sinks.k1.channel = c1\n`,
    );
    const agent = spawnMonsoon(['agent', '-n', 'a1', '-f', join(dir, 'a.properties'), '--data-dir', join(dir, 'state'), '--monitor-port', String(port)]);
    procs.add(agent);
    appendFileSync(join(dir, 'logs', 'one.log'), lines.slice(0, 2500).join('\n') + '\n');
    appendFileSync(join(dir, 'logs', 'two.log'), lines.slice(2500).join('\n') + '\n');
    await until(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
        const m = res?.ok ? ((await res.json()) as Record<string, Record<string, string>>) : undefined;
        return m?.['SINK.k1']?.EventDrainSuccessCount === String(lines.length) || undefined;
      },
      30_000,
      'the bus sink to drain every line',
      agent,
    );
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.tail());
    procs.delete(agent);
    const r = spawnSync(process.execPath, [MONSOON_BIN, 'consume', '--bus', busDir, '--topic', 'lines', '--group', 'check', '--from', 'earliest', '--timeout-ms', '1000'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assertEachOnce(r.stdout.split('\n').filter(Boolean), lines);
  });

  it('a bus source killed with SIGKILL mid-stream resumes without loss and without repeats (file channel, file_roll)', async () => {
    const dir = join(root, 'kill');
    const busDir = join(dir, 'bus');
    mkdirSync(join(dir, 'out'), { recursive: true });
    const total = 30_000;
    const want = Array.from({ length: total }, (_, i) => `record ${String(i).padStart(8, '0')}`);
    const bus = await openBus(busDir);
    await bus.admin.createTopic('in', { partitions: 3 });
    for (let i = 0; i < total; i += 5000) await bus.produce('in', want.slice(i, i + 5000).map((v) => ({ value: Buffer.from(v) })));
    await bus.close();
    writeFileSync(
      join(dir, 'a.properties'),
      `a1.sources = r1\na1.channels = c1\na1.sinks = k1
a1.sources.r1.type = monsoon\na1.sources.r1.path = ${busDir}\na1.sources.r1.topics = in\na1.sources.r1.from = earliest\na1.sources.r1.batchSize = 300\na1.sources.r1.channels = c1
a1.channels.c1.type = file\na1.channels.c1.checkpointDir = ${dir}/cp\na1.channels.c1.dataDirs = ${dir}/data\na1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = file_roll\na1.sinks.k1.sink.directory = ${dir}/out\na1.sinks.k1.sink.rollInterval = 0\na1.sinks.k1.batchSize = 20\na1.sinks.k1.channel = c1\n`,
    );
    const args = ['agent', '-n', 'a1', '-f', join(dir, 'a.properties'), '--data-dir', join(dir, 'state')];
    const lineBytes = want[0]!.length + 1;
    for (const killAt of [0.1, 0.4]) {
      const agent = spawnMonsoon(args);
      procs.add(agent);
      await until(() => outputBytes(join(dir, 'out')) >= killAt * total * lineBytes || undefined, 60_000, `${killAt * 100}% of the output`, agent);
      await kill9(agent);
      procs.delete(agent);
      assert.ok(outputBytes(join(dir, 'out')) < total * lineBytes, 'the agent was killed before it finished');
    }
    const agent = spawnMonsoon(args);
    procs.add(agent);
    await until(() => outputBytes(join(dir, 'out')) >= total * lineBytes || undefined, 60_000, 'the whole output', agent);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.tail());
    procs.delete(agent);
    assertEachOnce(outputLines(join(dir, 'out')), want);
  });

  it('a bus the agent cannot open at start is reported as a start-up problem (exit status 1), not a crash', async () => {
    const dir = join(root, 'locked');
    const busDir = join(dir, 'bus');
    const held = await openBus(busDir); // the embedded log admits one process at a time
    try {
      writeFileSync(
        join(dir, 'a.properties'),
        `a1.sources = r1\na1.channels = c1\na1.sinks = k1\na1.sources.r1.type = seq\na1.sources.r1.channels = c1\na1.channels.c1.type = memory
a1.sinks.k1.type = bus\na1.sinks.k1.bus.url = ${busDir}\na1.sinks.k1.topic = t\na1.sinks.k1.channel = c1\n`,
      );
      const agent = spawnMonsoon(['agent', '-n', 'a1', '-f', join(dir, 'a.properties'), '--data-dir', join(dir, 'state')]);
      procs.add(agent);
      assert.equal(await agent.exited, 1, agent.tail());
      procs.delete(agent);
      assert.match(agent.output(), /the agent does not start: sink k1 cannot open bus .*: the bus at .* is open in process \d+.*\(MON_ERR_BUS_LOCKED\)/);
    } finally {
      await held.close();
    }
  });

  it("agent --check on Flume's Kafka channel without a sink: resolved under its class name, deprecated names warned", () => {
    const f = join(root, 'kafka-channel.properties');
    writeFileSync(
      f,
      `a1.sources = r1\na1.channels = c1
a1.sources.r1.type = netcat\na1.sources.r1.bind = 127.0.0.1\na1.sources.r1.port = 0\na1.sources.r1.channels = c1
a1.channels.c1.type = org.apache.flume.channel.kafka.KafkaChannel\na1.channels.c1.brokerList = 127.0.0.1:9\na1.channels.c1.kafka.topic = raw\na1.channels.c1.parseAsFlumeEvent = false\na1.channels.c1.migrateZookeeperOffsets = true\n`,
    );
    const r = spawnSync(process.execPath, [MONSOON_BIN, 'agent', '-n', 'a1', '-f', f, '--check'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: a1\.channels\.c1\.brokerList: is deprecated; use a1\.channels\.c1\.kafka\.bootstrap\.servers/);
    assert.match(r.stderr, /warning: a1\.channels\.c1\.migrateZookeeperOffsets: is ignored/);
    assert.match(r.stdout, /channel c1: kafka/);
  });

  it('agent --check on a Flume Kafka configuration: deprecated names warned, the kafka:// bus URL checked', () => {
    const f = join(root, 'kafka.properties');
    writeFileSync(
      f,
      `a1.sources = r1\na1.channels = c1\na1.sinks = k1
a1.sources.r1.type = org.apache.flume.source.kafka.KafkaSource\na1.sources.r1.kafka.bootstrap.servers = 127.0.0.1:9\na1.sources.r1.kafka.topics = in\na1.sources.r1.migrateZookeeperOffsets = true\na1.sources.r1.channels = c1
a1.channels.c1.type = memory\na1.channels.c1.capacity = 10000\na1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink\na1.sinks.k1.brokerList = 127.0.0.1:9\na1.sinks.k1.topic = out\na1.sinks.k1.requiredAcks = all\na1.sinks.k1.channel = c1\n`,
    );
    const r = spawnSync(process.execPath, [MONSOON_BIN, 'agent', '-n', 'a1', '-f', f, '--check'], { encoding: 'utf8', timeout: 30_000 });
    assert.match(r.stderr, /warning: a1\.sinks\.k1\.brokerList: is deprecated; use a1\.sinks\.k1\.kafka\.bootstrap\.servers/);
    assert.match(r.stderr, /warning: a1\.sinks\.k1\.topic: is deprecated; use a1\.sinks\.k1\.kafka\.topic/);
    assert.match(r.stderr, /warning: a1\.sinks\.k1\.requiredAcks: is deprecated; use a1\.sinks\.k1\.kafka\.producer\.acks/);
    assert.match(r.stderr, /warning: a1\.sources\.r1\.migrateZookeeperOffsets: is ignored/);
    let built = true;
    try {
      parseBusUrl('kafka://127.0.0.1:9?acks=all');
    } catch {
      built = false;
    }
    if (built) {
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /sink k1: kafka ← c1/);
      return;
    }
    assert.equal(r.status, 1);
    assert.match(r.stderr, /error: a1\.sinks\.k1\.kafka\.bootstrap\.servers: bus URL kafka:\/\/127\.0\.0\.1:9\?acks=all: the kafka:\/\/ bus \(Kafka\) is not available yet/);
    assert.match(r.stderr, /error: a1\.sources\.r1\.kafka\.bootstrap\.servers: bus URL kafka:\/\/127\.0\.0\.1:9: the kafka:\/\/ bus \(Kafka\) is not available yet/);
    // Run without --check: the same errors, and the agent does not start (no crash, exit status 1).
    const run = spawnSync(process.execPath, [MONSOON_BIN, 'agent', '-n', 'a1', '-f', f], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /kafka\.bootstrap\.servers: bus URL kafka:.*not available yet[\s\S]*the agent does not start/);
  });
});
