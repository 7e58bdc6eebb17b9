import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { makeEvent, type Event } from '../../core/event.js';
import { memoryChannel } from '../testkit.js';
import './file_roll.js';
import { FileRollSink, markerKey, type FileRollSinkConfig } from './file_roll.js';
import { failingCommits, JsonFileChannel, putAll, runChild, sinkContextIn } from './sink-testkit.js';

/** Whether the sinks under test write with direct I/O (each describe below runs once with, once without). */
let directIo = process.env.FILE_ROLL_DIRECT !== '0';

const cfg = (dir: string, extra: Partial<FileRollSinkConfig> = {}): FileRollSinkConfig => ({
  'sink.directory': dir,
  'sink.rollInterval': 30,
  'sink.pathManager': 'DEFAULT',
  'sink.pathManager.extension': '',
  'sink.pathManager.prefix': '',
  'sink.serializer': 'TEXT',
  'sink.serializer.appendNewline': true,
  'sink.batchSize': 100,
  batchSize: undefined,
  'sink.directIo': directIo,
  ...extra,
});

/** Child mode: drain the JSON channel with a sink that rolls on every batch, crashing where told. */
async function child(): Promise<void> {
  const [stateFile, dir, crashAt, before] = JSON.parse(process.env.FILE_ROLL_CRASH_CHILD!) as [string, string, number, boolean];
  const ch = new JsonFileChannel(stateFile, { at: crashAt, before });
  let t = Date.now();
  const sink = new FileRollSink(cfg(dir, { 'sink.batchSize': 7, 'sink.rollInterval': 1, 'sink.pathManager.extension': 'log' }), sinkContextIn(dir, 'k1', ch), () => (t += 600));
  await sink.start();
  while ((await sink.process()) === 'READY');
  await sink.stop();
}

/** The files of a directory in roll order (series, then counter), concatenated. */
function readAll(dir: string): string {
  const key = (n: string) => n.match(/(\d+)-k1-(\d+)/)!.slice(1).map(Number) as [number, number];
  const names = readdirSync(dir).sort((a, b) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]);
  return names.map((n) => readFileSync(join(dir, n), 'utf8')).join('');
}

function allLines(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
}

if (process.env.FILE_ROLL_CRASH_CHILD) {
  await child();
} else {
  for (const mode of [true, false]) describe(`file_roll sink (${mode ? 'direct I/O' : 'through the page cache'})`, () => {
    before(() => {
      directIo = mode;
    });
    it('writes bodies one per line, names files like Flume (with the sink name) and rolls on the interval', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-roll-'));
      try {
        const ch = memoryChannel();
        let now = 1_000_000;
        const sink = new FileRollSink(cfg(dir, { 'sink.pathManager.prefix': 'web-', 'sink.pathManager.extension': 'txt', 'sink.batchSize': 2 }), sinkContextIn(dir, 'k1', ch), () => now);
        await sink.start();
        await putAll(ch, [makeEvent('a'), makeEvent('b'), makeEvent('c')]);
        assert.equal(await sink.process(), 'READY');
        assert.equal(await sink.process(), 'READY');
        now += 30_000;
        await putAll(ch, [makeEvent('d')]);
        assert.equal(await sink.process(), 'READY');
        assert.equal(await sink.process(), 'BACKOFF');
        await sink.stop();
        assert.deepEqual(readdirSync(dir).sort(), ['web-1000000-k1-1.txt', 'web-1000000-k1-2.txt']);
        assert.equal(readFileSync(join(dir, 'web-1000000-k1-1.txt'), 'utf8'), 'a\nb\nc\n');
        assert.equal(readFileSync(join(dir, 'web-1000000-k1-2.txt'), 'utf8'), 'd\n');
        const m = JSON.parse(ch.marker(markerKey('k1'))!) as { file: string; length: number };
        assert.deepEqual([m.file, m.length], [join(dir, 'web-1000000-k1-2.txt'), 2]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('batches spanning many blocks land whole and in order', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-roll-'));
      try {
        const ch = memoryChannel();
        const sink = new FileRollSink(cfg(dir, { 'sink.rollInterval': 0, 'sink.batchSize': 500 }), sinkContextIn(dir, 'k1', ch));
        await sink.start();
        const events = Array.from({ length: 1200 }, (_, i) => makeEvent(`line-${i}-${'x'.repeat((i * 97) % 3000)}`));
        await putAll(ch, events);
        assert.equal(await sink.process(), 'READY');
        const current = (sink as unknown as { current: { isDirect: boolean; direct?: { fh: { write: (...a: unknown[]) => Promise<unknown> } } } }).current;
        assert.equal(current.isDirect, mode, 'the output file is written direct exactly when sink.directIo is on');
        let directWrites = 0;
        if (mode) {
          const fh = current.direct!.fh;
          const write = fh.write.bind(fh);
          fh.write = (...a: unknown[]) => (directWrites++, write(...a));
        }
        while ((await sink.process()) === 'READY');
        await sink.stop();
        assert.equal(directWrites > 0, mode, `direct writes: ${directWrites}`);
        assert.equal(readAll(dir), events.map((e) => `${e.body.toString()}\n`).join(''));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('rollInterval 0 never rolls; a failed commit cuts the batch off again and it is redelivered once', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-roll-'));
      try {
        const mem = memoryChannel();
        const fail = { n: 0 };
        let now = 0;
        const ctx = sinkContextIn(dir, 'k1', failingCommits(mem, fail));
        const sink = new FileRollSink(cfg(dir, { 'sink.rollInterval': 0 }), ctx, () => now);
        await sink.start();
        await putAll(mem, [makeEvent('x')]);
        assert.equal(await sink.process(), 'READY');
        now += 1e9;
        fail.n = 1;
        await putAll(mem, [makeEvent('y'), makeEvent('z')]);
        await assert.rejects(sink.process(), /injected commit failure/);
        assert.equal(mem.size(), 2);
        assert.equal(await sink.process(), 'READY');
        await sink.stop();
        assert.equal(readdirSync(dir).length, 1);
        assert.equal(readAll(dir), 'x\ny\nz\n');
        assert.equal(ctx.counters.get('EventDrainSuccessCount'), 3);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a write failure rolls the take back and throws a retriable SINK_WRITE error', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-roll-'));
      try {
        const ch = memoryChannel();
        const ctx = sinkContextIn(dir, 'k1', ch);
        const sink = new FileRollSink(cfg(join(dir, 'out')), ctx);
        await sink.start();
        rmSync(join(dir, 'out'), { recursive: true });
        writeFileSync(join(dir, 'out'), 'now a file');
        await putAll(ch, [makeEvent('x')]);
        await assert.rejects(sink.process(), (e: Error & { code?: string }) => e.code === 'MON_ERR_SINK_WRITE');
        assert.equal(ch.size(), 1);
        assert.equal(ctx.counters.get('EventWriteFail'), 1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('rejects avro_event and unknown path managers at config time', () => {
      const r = resolveComponent('sink', 'org.apache.flume.sink.RollingFileSink');
      assert.ok('spec' in r);
      const v = validateComponent(r.spec, { 'sink.directory': '/tmp/x', 'sink.serializer': 'avro_event', 'sink.pathManager': 'ROLLTIME' }, 'a1.sinks.k1');
      assert.deepEqual(
        v.errors.map((e) => e.key),
        ['a1.sinks.k1.sink.serializer', 'a1.sinks.k1.sink.pathManager'],
      );
      assert.match(v.errors[0]!.message, /not supported yet; use TEXT/);
      assert.equal(validateComponent(r.spec, {}, 'a1.sinks.k1').errors[0]!.message, 'is required');
    });

    it('a batch written to a new series\' file after a restart and a quiet roll, but never committed, is removed on the next start', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-roll-'));
      const ch = memoryChannel(); // its markers stand in for a durable channel's: they survive the "crash"
      let now = 1_000_000;
      try {
        const a = new FileRollSink(cfg(dir), sinkContextIn(dir, 'k1', ch), () => now);
        await a.start();
        await putAll(ch, [makeEvent('a')]);
        assert.equal(await a.process(), 'READY');
        now += 60_000; // kill -9; restart later (a new series)
        const b = new FileRollSink(cfg(dir), sinkContextIn(dir, 'k1', ch), () => now);
        await b.start();
        now += 31_000; // a quiet rollInterval: process() rolls and commits nothing
        assert.equal(await b.process(), 'BACKOFF');
        await putAll(ch, [makeEvent('b')]);
        // The next batch is written and fsynced; the process dies before its take commits.
        const tx = ch.transaction();
        const events = await tx.take(100);
        await (b as unknown as { write(e: Event[]): Promise<unknown> }).write(events);
        await tx.rollback();
        now += 60_000;
        const c = new FileRollSink(cfg(dir), sinkContextIn(dir, 'k1', ch), () => now);
        await c.start();
        assert.equal(await c.process(), 'READY');
        await c.stop();
        assert.deepEqual(allLines(dir).sort(), ['a', 'b']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('two sinks sharing sink.directory and started in the same millisecond never write or remove each other\'s files', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-roll-'));
      const c1 = memoryChannel('c1');
      const c2 = memoryChannel('c2');
      let now = 2_000_000;
      try {
        const k1 = new FileRollSink(cfg(dir), sinkContextIn(dir, 'k1', c1), () => now);
        const k2 = new FileRollSink(cfg(dir), sinkContextIn(dir, 'k2', c2), () => now);
        await k1.start();
        await k2.start();
        await putAll(c1, [makeEvent('from-k1')]);
        await putAll(c2, [makeEvent('from-k2')]);
        assert.equal(await k1.process(), 'READY');
        assert.equal(await k2.process(), 'READY');
        await k1.stop();
        await k2.stop();
        now += 5_000;
        const k1b = new FileRollSink(cfg(dir), sinkContextIn(dir, 'k1', c1), () => now);
        await k1b.start();
        const k2b = new FileRollSink(cfg(dir), sinkContextIn(dir, 'k2', c2), () => now);
        await k2b.start();
        assert.deepEqual(allLines(dir).sort(), ['from-k1', 'from-k2']);
        assert.deepEqual(readdirSync(dir).sort(), ['2000000-k1-1', '2000000-k2-1']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('writes every event exactly once across SIGKILLs between write and commit and after commit', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-roll-'));
      const out = join(dir, 'out');
      const stateFile = join(dir, 'channel.json');
      try {
        // bodies of up to 3 KB, so that batches span blocks and a kill can land in a direct write
        const events: Event[] = Array.from({ length: 120 }, (_, i) => makeEvent(`event-${i}-${'y'.repeat((i * 379) % 3000)}`));
        JsonFileChannel.create(stateFile, events);
        let kills = 0;
        let beforeKills = 0;
        for (let round = 0; round < 40; round++) {
          const before = round % 3 !== 2;
          const signal = await runChild(fileURLToPath(import.meta.url), { FILE_ROLL_CRASH_CHILD: JSON.stringify([stateFile, out, 1 + (round % 4), before]), FILE_ROLL_DIRECT: directIo ? '1' : '0' });
          if (signal === null) break;
          assert.equal(signal, 'SIGKILL');
          kills++;
          if (before) beforeKills++;
        }
        assert.ok(kills >= 10, `expected the child to be killed many times, got ${kills}`);
        assert.ok(beforeKills >= 5);
        assert.equal(readAll(out), events.map((e) => `${e.body.toString()}\n`).join(''));
        assert.ok(readdirSync(out).length > 5, 'the sink rolled files along the way');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
