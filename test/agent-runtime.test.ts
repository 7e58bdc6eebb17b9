/**
 * The agent as users run it: `monsoon agent` processes, configured by files, observed over HTTP.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, kill9, spawnMonsoon, type Proc } from './support/procs.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-agent-'));
const procs: Proc[] = [];
after(async () => {
  for (const p of procs) await kill9(p);
  rmSync(root, { recursive: true, force: true });
});

async function until<T>(f: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string, p?: Proc): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${p ? `\n${p.tail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const get = async (url: string) => {
  try {
    const r = await fetch(url);
    return { status: r.status, text: await r.text() };
  } catch {
    return undefined;
  }
};

function outputLines(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
}

describe('monsoon agent', () => {
  it('flags a sink group that makes no progress, serves it over HTTP, and clears it when the collector appears', async () => {
    const dir = join(root, 'stuck');
    mkdirSync(dir, { recursive: true });
    const [collectorPort, monitorPort] = [await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'agent.properties'),
      `a1.sources = r1\na1.channels = c1\na1.sinks = k1
a1.sources.r1.type = seq\na1.sources.r1.totalEvents = 500\na1.sources.r1.batchSize = 50\na1.sources.r1.channels = c1
a1.channels.c1.type = memory\na1.channels.c1.capacity = 1000
a1.sinks.k1.type = thrift\na1.sinks.k1.channel = c1\na1.sinks.k1.hostname = 127.0.0.1\na1.sinks.k1.port = ${collectorPort}
a1.sinks.k1.connect-timeout = 200\na1.sinks.k1.replay-timeout = 500\n`,
    );
    writeFileSync(
      join(dir, 'collector.properties'),
      `c1.sources = r1\nc1.channels = ch\nc1.sinks = k1
c1.sources.r1.type = thrift\nc1.sources.r1.bind = 127.0.0.1\nc1.sources.r1.port = ${collectorPort}\nc1.sources.r1.channels = ch
c1.channels.ch.type = memory\nc1.channels.ch.capacity = 10000\nc1.sinks.k1.type = null\nc1.sinks.k1.channel = ch\n`,
    );
    const agent = spawnMonsoon(['agent', '-n', 'a1', '-f', join(dir, 'agent.properties'), '--data-dir', join(dir, 'a1'), '--monitor-port', String(monitorPort), '--stuck-after', '1']);
    procs.push(agent);
    const base = `http://127.0.0.1:${monitorPort}`;
    // Stuck can be flagged while the seq source is still filling the channel (a loaded machine), so
    // wait for all 500 events to be in the channel too.
    const health = await until(async () => {
      const h = await get(`${base}/health`);
      const m = h?.status === 503 ? await get(`${base}/metrics`) : undefined;
      const size = m ? (JSON.parse(m.text) as Record<string, Record<string, string>>)['CHANNEL.c1']?.ChannelSize : undefined;
      return size === '500' ? h : undefined;
    }, 15_000, 'the agent to report itself stuck with all 500 events queued', agent);
    assert.match(health.text, /channel c1/);
    const metrics = JSON.parse((await get(`${base}/metrics`))!.text) as Record<string, Record<string, string>>;
    assert.equal(metrics['CHANNEL.c1']!.Stuck, '1');
    assert.equal(metrics['CHANNEL.c1']!.ChannelSize, '500');
    assert.ok(Number(metrics['SINK.k1']!.ConnectionFailedCount) > 0);
    assert.match((await get(`${base}/prometheus`))!.text, /monsoon_channel_stuck\{agent="a1",component="c1"\} 1/);

    const collector = spawnMonsoon(['agent', '-n', 'c1', '-f', join(dir, 'collector.properties'), '--data-dir', join(dir, 'c1')]);
    procs.push(collector);
    await until(async () => (await get(`${base}/health`))?.status === 200, 20_000, 'the agent to recover once the collector listens', agent);
    // Health clears at the first delivered batch; the rest follows.
    const after = await until(async () => {
      const m = JSON.parse((await get(`${base}/metrics`))!.text) as Record<string, Record<string, string>>;
      return m['SINK.k1']!.EventDrainSuccessCount === '500' ? m : undefined;
    }, 20_000, 'all 500 events to be delivered', agent);
    assert.equal(after['CHANNEL.c1']!.Stuck, '0');
  });

  it('re-reads its file when it changes, losing and repeating nothing; an invalid change keeps the old pipeline', async () => {
    const dir = join(root, 'reload');
    const logs = join(dir, 'logs');
    const out = join(dir, 'out');
    mkdirSync(logs, { recursive: true });
    mkdirSync(out, { recursive: true });
    const conf = (capacity: number | string, batch: number) =>
      `a1.sources = r1\na1.channels = c1\na1.sinks = k1
a1.sources.r1.type = TAILDIR\na1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = ${logs}/app\\\\.log
a1.sources.r1.positionFile = ${dir}/pos.json\na1.sources.r1.batchSize = 100\na1.sources.r1.channels = c1
a1.channels.c1.type = memory\na1.channels.c1.capacity = ${capacity}\na1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = file_roll\na1.sinks.k1.channel = c1\na1.sinks.k1.sink.directory = ${out}\na1.sinks.k1.sink.rollInterval = 0\na1.sinks.k1.batchSize = ${batch}\n`;
    const file = join(dir, 'agent.properties');
    writeFileSync(file, conf(100_000, 100));
    const agent = spawnMonsoon(['agent', '-n', 'a1', '-f', file, '--data-dir', join(dir, 'state')], { MONSOON_LOG_LEVEL: 'info' });
    procs.push(agent);

    let n = 0;
    const write = (count: number) => {
      const lines: string[] = [];
      for (let i = 0; i < count; i++) lines.push(`line-${n++}`);
      appendFileSync(join(logs, 'app.log'), lines.join('\n') + '\n');
    };
    const phases: Array<() => void> = [
      () => writeFileSync(file, conf(50_000, 500)), // a changed channel and sink: rebuilt, events handed over
      () => writeFileSync(file, conf('lots', 500)), // invalid: reported, the running pipeline keeps going
      () => writeFileSync(file, conf(50_000, 200)),
    ];
    for (const phase of phases) {
      for (let i = 0; i < 10; i++) {
        write(500);
        await new Promise((r) => setTimeout(r, 30));
      }
      phase();
      await new Promise((r) => setTimeout(r, 1500)); // the file is polled every second
    }
    write(500);
    await until(() => outputLines(out).length >= n, 60_000, `${n} lines in the output`, agent);
    await new Promise((r) => setTimeout(r, 500));
    const got = outputLines(out);
    assert.equal(got.length, n, 'no line repeated');
    assert.deepEqual(new Set(got), new Set(Array.from({ length: n }, (_, i) => `line-${i}`)));
    const log = agent.output();
    assert.ok(/expected an integer, got "lots"/.test(log) || /invalid; the agent keeps running/.test(log), `the invalid change is reported:\n${log}`);
  });

  it('tries a changed configuration that cannot start again until it can: a spooling directory created later is read', async () => {
    const dir = join(root, 'retry');
    const out = join(dir, 'out');
    mkdirSync(join(dir, 'spool1'), { recursive: true });
    mkdirSync(out, { recursive: true });
    const conf = (spool: string) =>
      `a1.sources = r1\na1.channels = c1\na1.sinks = k1
a1.sources.r1.type = spooldir\na1.sources.r1.spoolDir = ${join(dir, spool)}\na1.sources.r1.channels = c1\na1.sources.r1.pollDelay = 50
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll\na1.sinks.k1.channel = c1\na1.sinks.k1.sink.directory = ${out}\na1.sinks.k1.sink.rollInterval = 0\n`;
    const file = join(dir, 'agent.properties');
    writeFileSync(file, conf('spool1'));
    const agent = spawnMonsoon(['agent', '-n', 'a1', '-f', file, '--data-dir', join(dir, 'state')], { MONSOON_LOG_LEVEL: 'info' });
    procs.push(agent);
    await until(() => /is running/.test(agent.output()), 20_000, 'the agent to start', agent);
    writeFileSync(file, conf('spool2')); // does not exist yet: the reload fails
    await until(() => /tried again every 3 s/.test(agent.output()), 10_000, 'the failed reload to be reported', agent);
    mkdirSync(join(dir, 'spool2'));
    writeFileSync(join(dir, 'spool2', 'late.log'), 'first\nsecond\n');
    await until(() => outputLines(out).length >= 2, 20_000, 'the lines of the late spooling directory', agent);
    assert.deepEqual(outputLines(out), ['first', 'second']);
    assert.match(agent.output(), /applied on a retry/);
  });
});
