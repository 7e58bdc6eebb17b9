import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { makeEvent, type Event } from '../../core/event.js';
import type { Channel } from '../contracts.js';
import { memoryChannel, sinkContext } from '../testkit.js';
import { HdfsSink, type HdfsSinkConfig } from './hdfs.js';
import { failingCommits, JsonFileChannel, putAll, runChild, sinkContextIn } from './sink-testkit.js';

function config(props: Record<string, string>): { config?: HdfsSinkConfig; errors: string[] } {
  const r = resolveComponent('sink', 'org.apache.flume.sink.hdfs.HDFSEventSink');
  assert.ok('spec' in r);
  const v = validateComponent(r.spec, { 'hdfs.fileType': 'DataStream', ...props }, 'k');
  return { config: v.config as HdfsSinkConfig | undefined, errors: v.errors.map((e) => `${e.key}: ${e.message}`) };
}

function sink(props: Record<string, string>, ch: Channel, clock: { t: number }, dataDir?: string) {
  const { config: cfg, errors } = config(props);
  assert.deepEqual(errors, []);
  const ctx = dataDir ? sinkContextIn(dataDir, 'k1', ch) : sinkContext('k1', ch);
  return { sink: new HdfsSink(cfg!, ctx, () => clock.t), ctx };
}

const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');
const evs = (n: number, headers: Record<string, string> = {}, from = 0): Event[] => Array.from({ length: n }, (_, i) => makeEvent(`e${from + i}`, { ...headers }));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'monsoon-hdfs-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Child mode for the crash test: drain the JSON channel into two buckets, rolling every 5 events. */
async function child(): Promise<void> {
  const [state, out, dataDir, at, before] = JSON.parse(process.env.HDFS_CRASH_CHILD!) as [string, string, string, number, boolean];
  const ch = new JsonFileChannel(state, { at, before });
  const { sink: s } = sink({ 'hdfs.path': `file://${out}/%{k}`, 'hdfs.rollCount': '5', 'hdfs.batchSize': '7', 'hdfs.useLocalTimeStamp': 'true' }, ch, { t: Date.now() }, dataDir);
  await s.start();
  while ((await s.process()) === 'READY');
  await s.stop();
}

if (process.env.HDFS_CRASH_CHILD) {
  await child();
} else {
  describe('hdfs sink (local filesystem)', () => {
    it('rolls by count, names files <prefix>.<counter><suffix> and renames them from their in-use names', async () => {
      await withDir(async (dir) => {
        const ch = memoryChannel();
        const clock = { t: 1000 };
        const { sink: s, ctx } = sink({ 'hdfs.path': dir, 'hdfs.rollCount': '3', 'hdfs.rollSize': '0', 'hdfs.inUsePrefix': '_', 'hdfs.fileSuffix': '.log' }, ch, clock);
        await s.start();
        await putAll(ch, evs(7));
        assert.equal(await s.process(), 'READY');
        assert.deepEqual(readdirSync(dir).sort(), ['FlumeData.1000.log', 'FlumeData.1001.log', '_FlumeData.1002.log.tmp']);
        assert.equal(read(dir, 'FlumeData.1000.log'), 'e0\ne1\ne2\n');
        assert.equal(read(dir, 'FlumeData.1001.log'), 'e3\ne4\ne5\n');
        assert.equal(read(dir, '_FlumeData.1002.log.tmp'), 'e6\n');
        await s.stop();
        assert.deepEqual(readdirSync(dir).sort(), ['FlumeData.1000.log', 'FlumeData.1001.log', 'FlumeData.1002.log']);
        assert.equal(ctx.counters.get('ConnectionCreatedCount'), 3);
        assert.equal(ctx.counters.get('ConnectionClosedCount'), 3);
      });
    });

    it('rolls by size, and by interval and idle time on later process calls', async () => {
      await withDir(async (dir) => {
        const ch = memoryChannel();
        const clock = { t: 5000 };
        const { sink: s } = sink({ 'hdfs.path': `file://${dir}`, 'hdfs.rollCount': '0', 'hdfs.rollSize': '6', 'hdfs.rollInterval': '30', 'hdfs.idleTimeout': '10' }, ch, clock);
        await s.start();
        await putAll(ch, [makeEvent('ab'), makeEvent('cd'), makeEvent('e')]);
        await s.process();
        assert.deepEqual(readdirSync(dir).sort(), ['FlumeData.5000', 'FlumeData.5001.tmp']);
        assert.equal(read(dir, 'FlumeData.5000'), 'ab\ncd\n');
        clock.t += 9_000;
        assert.equal(await s.process(), 'BACKOFF');
        assert.ok(existsSync(join(dir, 'FlumeData.5001.tmp')), 'not idle for 10 s yet');
        clock.t += 1_000;
        await s.process();
        assert.deepEqual(readdirSync(dir).sort(), ['FlumeData.5000', 'FlumeData.5001']);
        await s.stop();
        // Interval: a file written every 5 s is still closed 30 s after it was opened.
        const sub = join(dir, 'interval');
        const { sink: t } = sink({ 'hdfs.path': sub, 'hdfs.rollCount': '0', 'hdfs.rollSize': '0', 'hdfs.rollInterval': '30' }, ch, clock);
        await t.start();
        await putAll(ch, [makeEvent('x')]);
        await t.process();
        for (let i = 0; i < 5; i++) {
          clock.t += 5_000;
          await putAll(ch, [makeEvent('y')]);
          await t.process();
        }
        assert.equal(readdirSync(sub).filter((n) => n.endsWith('.tmp')).length, 1);
        clock.t += 5_000;
        await t.process();
        assert.deepEqual(readdirSync(sub).map((n) => read(sub, n)), ['x\ny\ny\ny\ny\ny\n']);
        assert.ok(!readdirSync(sub)[0]!.endsWith('.tmp'));
        await t.stop();
      });
    });

    it('resolves header and time escapes into directories and prefixes', async () => {
      await withDir(async (dir) => {
        const ch = memoryChannel();
        const ts = String(Date.UTC(2024, 1, 29, 13, 5, 9));
        const { sink: s } = sink({ 'hdfs.path': `${dir}/%{app}/%Y-%m-%d`, 'hdfs.filePrefix': '%H%M/%{host}-log', 'hdfs.timeZone': 'UTC', 'hdfs.round': 'true', 'hdfs.roundValue': '10', 'hdfs.roundUnit': 'minute' }, ch, { t: 1 });
        await s.start();
        await putAll(ch, [makeEvent('a', { app: 'web', host: 'h1', timestamp: ts }), makeEvent('b', { app: 'db', host: 'h2', timestamp: ts })]);
        await s.process();
        await s.stop();
        assert.equal(read(join(dir, 'web/2024-02-29/1300'), 'h1-log.1'), 'a\n');
        assert.equal(read(join(dir, 'db/2024-02-29/1300'), 'h2-log.1'), 'b\n');
      });
    });

    it('needs a timestamp header for time escapes unless useLocalTimeStamp is set', async () => {
      await withDir(async (dir) => {
        const ch = memoryChannel();
        const { sink: s, ctx } = sink({ 'hdfs.path': `${dir}/%Y` }, ch, { t: Date.UTC(2030, 0, 1) });
        await s.start();
        await putAll(ch, [makeEvent('a', { timestamp: String(Date.UTC(2020, 5, 1)) }), makeEvent('b')]);
        await assert.rejects(s.process(), (e: Error & { code?: string; retriable?: boolean }) => e.code === 'MON_ERR_SINK_WRITE' && !e.retriable && /no "timestamp" header/.test(e.message));
        assert.equal(ch.size(), 2);
        assert.equal(ctx.counters.get('EventWriteFail'), 1);
        assert.deepEqual(readdirSync(join(dir, '2020')), [], 'the file opened for the first event was removed again');
        const { sink: local } = sink({ 'hdfs.path': `${dir}/%Y`, 'hdfs.useLocalTimeStamp': 'true', 'hdfs.timeZone': 'UTC' }, ch, { t: Date.UTC(2030, 0, 1) });
        await local.start();
        await local.process();
        await local.stop();
        assert.deepEqual(readdirSync(dir).sort(), ['2020', '2030']);
      });
    });

    it('never writes outside the root, whatever the headers say', async () => {
      await withDir(async (base) => {
        const root = join(base, 'root');
        mkdirSync(root);
        const ch = memoryChannel();
        const { sink: s } = sink({ 'hdfs.path': `${root}/%{a}/x`, 'hdfs.filePrefix': '%{p}' }, ch, { t: 7 });
        await s.start();
        await putAll(ch, [makeEvent('1', { a: '..', p: '../../evil' }), makeEvent('2', { a: '../..', p: '/etc/passwd' })]);
        await s.process();
        await s.stop();
        assert.deepEqual(readdirSync(base), ['root']);
        assert.deepEqual(readdirSync(join(root, '__', 'x')), ['.._.._evil.7']);
        assert.deepEqual(readdirSync(join(root, '.._..', 'x')), ['_etc_passwd.7']);

        // Sanitized values cannot combine into a parent reference either.
        const { sink: dots } = sink({ 'hdfs.path': `${root}/%{a}%{b}` }, ch, { t: 7 });
        await dots.start();
        await putAll(ch, [makeEvent('3', { a: '.', b: '.' })]);
        await dots.process();
        await dots.stop();
        assert.deepEqual(readdirSync(join(root, '__')).sort(), ['FlumeData.7', 'x']);
        // And a path that climbs out after its first escape is refused at write time.
        const { sink: up, ctx } = sink({ 'hdfs.path': `${root}/%{a}/../../out` }, ch, { t: 7 });
        await up.start();
        await putAll(ch, [makeEvent('4', { a: 'z' })]);
        await assert.rejects(up.process(), (e: Error & { code?: string }) => e.code === 'MON_ERR_PATH_ESCAPE');
        assert.equal(ch.size(), 1, 'the take was rolled back');
        assert.equal(ctx.counters.get('EventWriteFail'), 1);
        assert.deepEqual(readdirSync(base), ['root']);
      });
    });

    it('a failed commit removes the batch from every file it reached', async () => {
      await withDir(async (dir) => {
        const mem = memoryChannel();
        const fail = { n: 0 };
        const { sink: s } = sink({ 'hdfs.path': `${dir}/%{k}`, 'hdfs.rollCount': '3' }, failingCommits(mem, fail), { t: 100 });
        await s.start();
        await putAll(mem, evs(2, { k: 'a' }));
        await s.process();
        fail.n = 1;
        await putAll(mem, [...evs(3, { k: 'a' }, 2), ...evs(2, { k: 'b' }, 5)]);
        await assert.rejects(s.process(), /injected commit failure/);
        assert.deepEqual(readdirSync(join(dir, 'a')), ['FlumeData.100'], 'the first file holds only its committed events and was closed');
        assert.equal(read(join(dir, 'a'), 'FlumeData.100'), 'e0\ne1\n');
        assert.deepEqual(readdirSync(join(dir, 'b')), []);
        assert.equal(await s.process(), 'READY');
        await s.stop();
        const a = readdirSync(join(dir, 'a')).sort().map((n) => read(join(dir, 'a'), n)).join('');
        assert.equal(a, 'e0\ne1\ne2\ne3\ne4\n');
        assert.equal(read(join(dir, 'b'), readdirSync(join(dir, 'b'))[0]!), 'e5\ne6\n');
      });
    });

    it('two sinks writing to the same path and prefix at the same moment never share a file, so one\'s undo cannot cut the other\'s data', async () => {
      await withDir(async (dir) => {
        const out = join(dir, 'out');
        const { config: cfg } = config({ 'hdfs.path': out, 'hdfs.rollCount': '0' });
        const c1 = memoryChannel('c1');
        const c2 = memoryChannel('c2');
        const fail = { n: 0 };
        const k1 = new HdfsSink(cfg!, sinkContextIn(join(dir, 'd1'), 'k1', c1), () => 7000);
        const k2 = new HdfsSink(cfg!, sinkContextIn(join(dir, 'd2'), 'k2', failingCommits(c2, fail)), () => 7000);
        await k1.start();
        await k2.start();
        await putAll(c1, [makeEvent('from-k1')]);
        await putAll(c2, [makeEvent('from-k2')]);
        fail.n = 1;
        const [r1, r2] = await Promise.allSettled([k1.process(), k2.process()]);
        assert.equal(r1.status, 'fulfilled');
        assert.equal(r2.status, 'rejected', 'the second sink\'s commit fails and its batch is undone');
        assert.equal(await k2.process(), 'READY');
        await k1.stop();
        await k2.stop();
        const names = readdirSync(out).sort();
        assert.deepEqual(names, ['FlumeData.7000', 'FlumeData.7001']);
        assert.deepEqual(names.map((n) => read(out, n)).sort(), ['from-k1\n', 'from-k2\n']);
      });
    });

    it('on start removes an uncommitted journaled file only if it is still the one the sink created', async () => {
      await withDir(async (dir) => {
        const out = join(dir, 'out');
        mkdirSync(out);
        const state = join(dir, 'channel.json');
        JsonFileChannel.create(state, []);
        // The journal of a crashed run names two files; one has since been replaced by another writer's.
        writeFileSync(join(out, 'FlumeData.1.tmp'), 'uncommitted\n');
        writeFileSync(join(out, 'FlumeData.2.tmp'), 'another writer\n');
        const ino1 = String(statSync(join(out, 'FlumeData.1.tmp'), { bigint: true }).ino);
        const ino2 = String(statSync(join(out, 'FlumeData.2.tmp'), { bigint: true }).ino);
        writeFileSync(join(dir, 'hdfs-sink-k1.created'), `${join(out, 'FlumeData.1.tmp')}\t${join(out, 'FlumeData.1')}\t${ino1}\n${join(out, 'FlumeData.2.tmp')}\t${join(out, 'FlumeData.2')}\t${ino2}9\n`);
        const { sink: s } = sink({ 'hdfs.path': out }, new JsonFileChannel(state), { t: 10 }, dir);
        await s.start();
        await s.stop();
        assert.deepEqual(readdirSync(out), ['FlumeData.2.tmp']);
        assert.equal(read(out, 'FlumeData.2.tmp'), 'another writer\n');
      });
    });

    it('closes the least recently written file beyond hdfs.maxOpenFiles', async () => {
      await withDir(async (dir) => {
        const ch = memoryChannel();
        const clock = { t: 50 };
        const { sink: s } = sink({ 'hdfs.path': `${dir}/%{k}`, 'hdfs.maxOpenFiles': '2', 'hdfs.rollCount': '0' }, ch, clock);
        await s.start();
        await putAll(ch, [makeEvent('1', { k: 'a' }), makeEvent('2', { k: 'b' })]);
        await s.process();
        await putAll(ch, [makeEvent('3', { k: 'a' }), makeEvent('4', { k: 'c' })]);
        await s.process();
        assert.deepEqual(readdirSync(join(dir, 'b')), ['FlumeData.50'], 'b was written least recently and was closed');
        assert.deepEqual(readdirSync(join(dir, 'a')), ['FlumeData.50.tmp']);
        assert.deepEqual(readdirSync(join(dir, 'c')), ['FlumeData.50.tmp']);
        await s.stop();
        assert.equal(read(join(dir, 'a'), 'FlumeData.50'), '1\n3\n');
      });
    });

    it('explains unsupported settings at config time', () => {
      assert.deepEqual(config({ 'hdfs.path': 'hdfs://nn:8020/flume/%Y' }).errors, ['k.hdfs.path: hdfs:// URLs are not available yet; use a local path or file://']);
      assert.match(config({ 'hdfs.path': '/x', 'hdfs.fileType': 'SequenceFile' }).errors[0]!, /SequenceFile \(Flume's default\) is not supported yet; set hdfs.fileType = DataStream/);
      const r = resolveComponent('sink', 'hdfs');
      assert.ok('spec' in r);
      assert.match(validateComponent(r.spec, { 'hdfs.path': '/x' }, 'k').errors[0]!.message, /SequenceFile \(Flume's default\) is not supported yet/);
      assert.deepEqual(config({ 'hdfs.path': '/x/%q', 'hdfs.timeZone': 'Mars/Olympus', serializer: 'avro_event' }).errors, [
        'k.hdfs.path: unknown escape %q in "/x/%q"',
        'k.serializer: serializer "avro_event" is not supported yet; use TEXT',
        'k.hdfs.timeZone: unknown time zone "Mars/Olympus"; use an IANA name such as America/Los_Angeles',
      ]);
      assert.deepEqual(config({ 'hdfs.path': 'file:///data/%Y' }).errors, []);
    });

    it('writes every event exactly once across SIGKILLs between write and commit and after commit', async () => {
      await withDir(async (dir) => {
        const out = join(dir, 'out');
        const dataDir = join(dir, 'data');
        mkdirSync(dataDir);
        const state = join(dir, 'channel.json');
        const events = evs(90).map((e, i) => ({ ...e, headers: { k: i % 3 === 0 ? 'x' : 'y' } }));
        JsonFileChannel.create(state, events);
        let kills = 0;
        for (let round = 0; round < 40; round++) {
          const signal = await runChild(fileURLToPath(import.meta.url), { HDFS_CRASH_CHILD: JSON.stringify([state, out, dataDir, 1 + (round % 3), round % 3 !== 2]) });
          if (signal === null) break;
          kills++;
        }
        assert.ok(kills >= 10, `expected many kills, got ${kills}`);
        for (const k of ['x', 'y']) {
          const names = readdirSync(join(out, k)).sort((p, q) => Number(p.split('.')[1]) - Number(q.split('.')[1]));
          assert.deepEqual(names.filter((n) => !/^FlumeData\.\d+$/.test(n)), [], 'every file was closed and renamed');
          const expected = events.filter((e) => e.headers.k === k).map((e) => `${e.body.toString()}\n`).join('');
          assert.equal(names.map((n) => read(join(out, k), n)).join(''), expected);
        }
      });
    });
  });
}
