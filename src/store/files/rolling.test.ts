import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import '../../collect/builtins.js';
import { memoryChannel } from '../../collect/testkit.js';
import { JsonFileChannel, putAll, runChild, sinkContextIn } from '../../collect/sinks/sink-testkit.js';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { MonsoonError } from '../../core/errors.js';
import { makeEvent, type Event } from '../../core/event.js';
import { DelimitedRecordFormat, fileName, rotationOf } from './format.js';
import { RollingFileWriter } from './rolling-writer.js';
import { RolledFilesSink, type RolledFilesSinkConfig } from './sink.js';

function config(props: Record<string, string>): RolledFilesSinkConfig {
  const r = resolveComponent('sink', props.type ?? 'rolled_files');
  assert.ok('spec' in r);
  const v = validateComponent(r.spec, { type: 'rolled_files', ...props }, 'a1.sinks.k1');
  assert.deepEqual(v.errors, []);
  return v.config as RolledFilesSinkConfig;
}

/** Files of `dir` in rotation order, concatenated. */
function readRotations(dir: string): string {
  const name = { prefix: 'cdr-', extension: '.csv', componentId: 'k1', taskId: 3 };
  return readdirSync(dir)
    .map((n) => [rotationOf(name, n), n] as const)
    .sort((a, b) => a[0]! - b[0]!)
    .map(([, n]) => readFileSync(join(dir, n), 'utf8'))
    .join('');
}

/** Child mode: drain a JSON channel through a sink rotating every ~8 KB, killed where told. */
async function child(): Promise<void> {
  const [stateFile, dir, crashAt, before] = JSON.parse(process.env.ROLLED_FILES_CRASH_CHILD!) as [string, string, number, boolean];
  const ch = new JsonFileChannel(stateFile, { at: crashAt, before });
  let t = Date.now();
  const cfg = config({ path: join(dir, 'open'), moveTo: join(dir, 'done'), prefix: 'cdr-', extension: '.csv', taskId: '3', fields: 'header.n body', 'rotation.size': '8', 'rotation.sizeUnits': 'KB', batchSize: '4' });
  cfg['rotation.size'] = 40 / 1024; // 40 bytes, below what the property's integer allows
  const sink = new RolledFilesSink(cfg, sinkContextIn(dir, 'k1', ch), () => (t += 7));
  await sink.start();
  while ((await sink.process()) === 'READY');
  await sink.stop();
}

if (process.env.ROLLED_FILES_CRASH_CHILD) {
  await child();
} else {
  describe('rolled files (HdfsBolt layout)', () => {
    it("names files like Storm's DefaultFileNameFormat and writes delimited records", () => {
      const f = { prefix: 'p-', extension: '.txt', componentId: 'bolt', taskId: 2 };
      assert.equal(fileName(f, 5, 1700000000000), 'p-bolt-2-5-1700000000000.txt');
      assert.equal(rotationOf(f, 'p-bolt-2-5-1700000000000.txt'), 5);
      assert.equal(rotationOf(f, 'p-bolt-3-5-1700000000000.txt'), undefined);
      const fmt = new DelimitedRecordFormat(['a', 'b', 'c'], '|', '\r\n');
      assert.equal(fmt.format([{ a: 'x', b: 1, c: null }, { a: Buffer.from('y'), b: undefined, c: true }]).toString(), 'x|1|\r\ny||true\r\n');
    });

    it('writes each field as its own bytes would be (strings as UTF-8, bytes as they are, numbers, booleans and bigints as text)', () => {
      const fmt = new DelimitedRecordFormat(['id', 'name', 'raw', 'n'], ',', '\n');
      const values = ['ünï ☎', Buffer.from([0xc3, 0x28, 0x00, 0xff]), 12.5, -3n, false, null, undefined, '', Buffer.alloc(0), 'a,b', 'ascii then ☎', 'y'.repeat(200), 'é'.repeat(300), Buffer.alloc(5000, 0x41), '😀'.repeat(40)];
      const rows = Array.from({ length: 60 }, (_, i) => ({ id: `run-${i}`, name: values[i % values.length], raw: values[(i * 7) % values.length], n: i % 4 === 0 ? undefined : i }));
      const want = Buffer.concat(
        rows.flatMap((r) => [
          ...[r.id, r.name, r.raw, r.n].flatMap((v, i) => [...(i > 0 ? [Buffer.from(',')] : []), v === null || v === undefined ? Buffer.alloc(0) : Buffer.isBuffer(v) ? v : Buffer.from(String(v))]),
          Buffer.from('\n'),
        ]),
      );
      assert.deepEqual(fmt.format(rows), want);
      assert.deepEqual(fmt.format([]), Buffer.alloc(0));
    });

    it('writes to .tmp, rotates by size and by time, and moves finished files to moveTo', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-rolled-'));
      try {
        let now = 1_000;
        const w = new RollingFileWriter({
          path: `file://${join(dir, 'open')}`,
          moveTo: join(dir, 'done'),
          name: { prefix: '', extension: '.txt', componentId: 'etl', taskId: 0 },
          format: new DelimitedRecordFormat(['k', 'v'], '\t'),
          inUseSuffix: '.tmp',
          rotateBytes: 10,
          rotateMs: 60_000,
          now: () => now,
        });
        await w.open();
        await w.write([{ k: 'a', v: '1' }, { k: 'b', v: '2' }]);
        assert.deepEqual(readdirSync(join(dir, 'open')), ['etl-0-0-1000.txt.tmp']);
        assert.deepEqual(readdirSync(join(dir, 'done')), []);
        await w.write([{ k: 'c', v: '3' }]); // 8 bytes before it, under the size: same file, now 12 bytes
        now = 2_000;
        await w.write([{ k: 'd', v: '4' }]); // 12 bytes reached the size: rotated first
        await w.write([{ k: 'e', v: '5' }]);
        assert.deepEqual(readdirSync(join(dir, 'done')), ['etl-0-0-1000.txt']);
        assert.equal(readFileSync(join(dir, 'done', 'etl-0-0-1000.txt'), 'utf8'), 'a\t1\nb\t2\nc\t3\n');
        assert.deepEqual(readdirSync(join(dir, 'open')), ['etl-0-1-2000.txt.tmp']);
        now = 62_000;
        await w.rotateIfDue();
        assert.deepEqual(readdirSync(join(dir, 'open')), []);
        assert.deepEqual(readdirSync(join(dir, 'done')).sort(), ['etl-0-0-1000.txt', 'etl-0-1-2000.txt']);
        await w.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    for (const directIo of [true, false]) {
      it(`writes batches spanning many blocks whole and in order (${directIo ? 'direct I/O' : 'through the page cache'})`, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'monsoon-rolled-'));
        try {
          const w = new RollingFileWriter({ path: dir, name: { prefix: '', extension: '.txt', componentId: 'etl', taskId: 0 }, format: new DelimitedRecordFormat(['k', 'v']), inUseSuffix: '.tmp', rotateBytes: 0, rotateMs: 0, directIo });
          await w.open();
          assert.equal(w.directIo, directIo);
          const rows = Array.from({ length: 900 }, (_, i) => ({ k: String(i), v: 'v'.repeat((i * 131) % 2500) }));
          for (let i = 0; i < rows.length; i += 150) await w.write(rows.slice(i, i + 150));
          await w.close();
          assert.equal(readdirSync(dir).map((n) => readFileSync(join(dir, n), 'utf8')).join(''), rows.map((r) => `${r.k},${r.v}\n`).join(''));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }

    it('refuses hdfs:// and webhdfs:// with a clear "not available" error', () => {
      for (const url of ['hdfs://namenode:8020', 'webhdfs://namenode:9870']) {
        assert.throws(
          () => new RollingFileWriter({ path: `${url}/data`, name: { prefix: '', extension: '.txt', componentId: 'b', taskId: 0 }, format: new DelimitedRecordFormat(['x']), inUseSuffix: '.tmp', rotateBytes: 0, rotateMs: 0 }),
          (e: unknown) => e instanceof MonsoonError && e.code === 'MON_ERR_STORE_UNSUPPORTED' && /is not available/.test(e.message),
        );
        const r = resolveComponent('sink', 'org.apache.storm.hdfs.bolt.HdfsBolt');
        assert.ok('spec' in r);
        const v = validateComponent(r.spec, { type: 'rolled_files', fsUrl: url, path: '/data' }, 'a1.sinks.k1');
        assert.match(v.errors.map((e) => `${e.key}: ${e.message}`).join('\n'), /a1\.sinks\.k1\.fsUrl: .*is not available/);
      }
    });

    it('as an agent sink: chosen fields, escaped delimiters, replayed identities dropped, and a restart continues the open file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-rolled-'));
      try {
        const ch = memoryChannel();
        const cfg = config({ path: dir, fields: 'identity header.msisdn body', fieldDelimiter: '\\t', batchSize: '2' });
        let sink = new RolledFilesSink(cfg, sinkContextIn(dir, 'k1', ch), () => 5);
        await sink.start();
        const ev = (i: number) => makeEvent(`line ${i}`, { 'monsoon.origin': 'h/a', 'monsoon.seq': String(i), msisdn: `13${i}` });
        await putAll(ch, [ev(0), ev(1), ev(2)]);
        await putAll(ch, [ev(2), ev(1)]); // delivered again (a source re-read them): written once
        while ((await sink.process()) === 'READY');
        // An unclean stop: the .tmp file stays and the next start continues it.
        const abandoned = sink as unknown as { writer: { cur?: { file: { close(): Promise<void> } } } };
        await abandoned.writer.cur?.file.close(); // the handle only; a crash would drop it the same way
        sink = new RolledFilesSink(cfg, sinkContextIn(dir, 'k1', ch), () => 9);
        await sink.start();
        await putAll(ch, [ev(3)]);
        await sink.process();
        await sink.stop();
        assert.deepEqual(readdirSync(dir), ['k1-0-0-5.txt']);
        assert.equal(readFileSync(join(dir, 'k1-0-0-5.txt'), 'utf8'), [0, 1, 2, 3].map((i) => `h/a:${String(i).padStart(16, '0')}\t13${i}\tline ${i}\n`).join(''));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('keeps origins idle for 10 s out of each take marker, in a cold marker that still drops their replays after a restart', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-rolled-'));
      try {
        const ch = memoryChannel();
        const cfg = config({ path: dir, fields: 'body', batchSize: '10' });
        let clock = 1_000;
        let sink = new RolledFilesSink(cfg, sinkContextIn(dir, 'k1', ch), () => clock);
        await sink.start();
        const ev = (origin: string, i: number) => makeEvent(`${origin} ${i}`, { 'monsoon.origin': origin, 'monsoon.seq': String(i) });
        for (let f = 0; f < 5; f++) {
          await putAll(ch, [ev(`file-${f}`, 0), ev(`file-${f}`, 1)]);
          while ((await sink.process()) === 'READY');
          clock += 4_000; // one file every 4 s
        }
        const hot = Object.keys((JSON.parse((JSON.parse(ch.marker('rolled_files:k1')!) as { ids: string }).ids) as { o: object }).o);
        const cold = Object.keys((JSON.parse(ch.marker('rolled_files:k1#cold')!) as { o: object }).o);
        assert.ok(hot.length < 5 && cold.length > 0 && hot.every((o) => !cold.includes(o)), `hot ${hot.join(',')} / cold ${cold.join(',')}`);
        assert.deepEqual([...hot, ...cold].sort(), [0, 1, 2, 3, 4].map((f) => `file-${f}`));
        await sink.stop();
        sink = new RolledFilesSink(cfg, sinkContextIn(dir, 'k1', ch), () => clock);
        await sink.start();
        await putAll(ch, [ev('file-0', 1), ev('file-4', 0), ev('file-5', 0)]); // two replays, one new line
        while ((await sink.process()) === 'READY');
        await sink.stop();
        const lines = readdirSync(dir).map((n) => readFileSync(join(dir, n), 'utf8')).join('').split('\n').filter(Boolean).sort();
        assert.deepEqual(lines, [...[0, 1, 2, 3, 4].flatMap((f) => [`file-${f} 0`, `file-${f} 1`]), 'file-5 0'].sort());
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('writes every event exactly once across SIGKILLs between write and commit and after commit', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'monsoon-rolled-'));
      const stateFile = join(dir, 'channel.json');
      try {
        // bodies of up to 3 KB, so that batches span blocks and a kill can land in a direct write
        const events: Event[] = Array.from({ length: 40 }, (_, i) => makeEvent(`event-${i}-${'z'.repeat((i * 379) % 3000)}`, { n: String(i) }));
        JsonFileChannel.create(stateFile, events);
        let kills = 0;
        for (let round = 0; round < 60; round++) {
          const signal = await runChild(fileURLToPath(import.meta.url), { ROLLED_FILES_CRASH_CHILD: JSON.stringify([stateFile, dir, 1 + (round % 5), round % 3 !== 2]) });
          if (signal === null) break;
          assert.equal(signal, 'SIGKILL');
          kills++;
        }
        assert.ok(kills >= 10, `expected the child to be killed many times, got ${kills}`);
        assert.deepEqual(readdirSync(join(dir, 'open')), [], 'no file left open after the last clean stop');
        assert.ok(existsSync(join(dir, 'done')));
        assert.equal(readRotations(join(dir, 'done')), events.map((e, i) => `${i},${e.body.toString()}\n`).join(''));
        assert.ok(readdirSync(join(dir, 'done')).length > 5, 'the sink rotated along the way');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
