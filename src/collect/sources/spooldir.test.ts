import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorCodes } from '../../core/errors.js';
import { RecordingProcessor, sourceContext, waitUntil } from '../testkit.js';
import { configureSource } from './configure.js';
import { SPLIT_HEADER, SpoolDirSource, spoolDirSpec } from './spooldir.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fixture(props: Record<string, string> = {}, proc = new RecordingProcessor()) {
  const dir = mkdtempSync(join(tmpdir(), 'monsoon-spool-'));
  dirs.push(dir);
  const src = new SpoolDirSource(configureSource(spoolDirSpec, { spoolDir: dir, pollDelay: '20', ...props }), sourceContext('r1', proc));
  return { src, proc, dir };
}

/** Writes files, runs the source until `done`, stops it and returns what it delivered. */
async function run(files: Record<string, string | Buffer>, props: Record<string, string> = {}, done?: (dir: string, p: RecordingProcessor) => boolean) {
  const f = fixture(props);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(f.dir, name), content);
  await f.src.start();
  try {
    const all = () => Object.keys(files).every((n) => !existsSync(join(f.dir, n)));
    await waitUntil(() => (done ? done(f.dir, f.proc) : all()), 10_000, 'files to be consumed');
  } finally {
    await f.src.stop();
  }
  return f;
}

describe('spooldir source', () => {
  it('delivers lines with identity and headers, then renames the file', async () => {
    const { proc, dir } = await run({ 'a.log': 'l1\nl2\nl3\n' }, { fileHeader: 'true', basenameHeader: 'true', basenameHeaderKey: 'bn' });
    assert.deepEqual(proc.bodies(), ['l1', 'l2', 'l3']);
    assert.ok(existsSync(join(dir, 'a.log.COMPLETED')));
    assert.deepEqual(proc.events.map((e) => e.headers['monsoon.seq']), ['0', '1', '2']);
    const e = proc.events[0]!;
    assert.equal(e.headers.file, join(dir, 'a.log'));
    assert.equal(e.headers.bn, 'a.log');
    assert.match(e.headers['monsoon.origin']!, /^test-host\/a1\/r1\/\d+-9-[0-9a-f]{16}$/);
  });

  it('reads a file in batches that start small and double up to batchSize', async () => {
    const body = Array.from({ length: 700 }, (_, i) => `line-${i}`).join('\n') + '\n';
    const { proc } = await run({ 'big.log': body }, { batchSize: '200' });
    assert.deepEqual(proc.sizes, [64, 128, 200, 200, 108]);
    assert.equal(proc.events.length, 700);
  });

  it('finishes an empty file and retries batches the channel refused', async () => {
    const f = fixture({ batchSize: '2' });
    f.proc.failNext = 3;
    writeFileSync(join(f.dir, 'empty.log'), '');
    writeFileSync(join(f.dir, 'five.log'), '1\n2\n3\n4\n5\n');
    await f.src.start();
    try {
      await waitUntil(() => existsSync(join(f.dir, 'empty.log.COMPLETED')) && existsSync(join(f.dir, 'five.log.COMPLETED')), 10_000, 'both files');
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(f.proc.bodies(), ['1', '2', '3', '4', '5']);
  });

  it('deletes the file with deletePolicy = immediate', async () => {
    const { proc, dir } = await run({ 'b.txt': 'x\ny\n' }, { deletePolicy: 'immediate' });
    assert.deepEqual(proc.bodies(), ['x', 'y']);
    assert.ok(!existsSync(join(dir, 'b.txt')) && !existsSync(join(dir, 'b.txt.COMPLETED')));
  });

  it('ignores a file matching ignorePattern until it is renamed', async () => {
    const f = fixture({ ignorePattern: '^.*\\.tmp$' });
    writeFileSync(join(f.dir, 'big.tmp'), 'later\n');
    writeFileSync(join(f.dir, 'now.log'), 'now\n');
    await f.src.start();
    try {
      await waitUntil(() => existsSync(join(f.dir, 'now.log.COMPLETED')), 10_000, 'now.log');
      assert.deepEqual(f.proc.bodies(), ['now']);
      assert.ok(existsSync(join(f.dir, 'big.tmp')));
      renameSync(join(f.dir, 'big.tmp'), join(f.dir, 'big.log'));
      await waitUntil(() => existsSync(join(f.dir, 'big.log.COMPLETED')), 10_000, 'big.log');
      assert.deepEqual(f.proc.bodies(), ['now', 'later']);
    } finally {
      await f.src.stop();
    }
  });

  it('decodes ISO-8859-1 exactly (0x80-0x9f are C1 controls, not windows-1252) and GBK', async () => {
    const latin = await run({ 'l.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x80, 0x0a]) }, { inputCharset: 'ISO-8859-1' });
    assert.equal(latin.proc.events[0]!.body.toString('utf8'), 'café\u0080');
    const kept = await run({ 'k.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x80, 0x0a, 0x5a, 0x6f, 0xeb]) }, { inputCharset: 'ISO-8859-1', 'deserializer.outputCharset': 'ISO-8859-1' });
    assert.deepEqual(
      kept.proc.events.map((e) => e.body.toString('hex')),
      ['636166e980', '5a6feb'],
      'ISO-8859-1 bodies keep the input bytes (not UTF-8)',
    );
    const gbk = await run({ 'g.txt': Buffer.from([0xc4, 0xe3, 0xba, 0xc3, 0x0a, 0x41, 0x0a]) }, { inputCharset: 'GBK' });
    assert.deepEqual(gbk.proc.bodies(), ['你好', 'A']);
  });

  it('handles invalid UTF-8 per decodeErrorPolicy', async () => {
    const bad = Buffer.concat([Buffer.from('ok1\nbad'), Buffer.from([0xff, 0xfe]), Buffer.from('X\nok2\n')]);
    const replace = await run({ 'r.txt': bad }, { decodeErrorPolicy: 'REPLACE' });
    assert.deepEqual(replace.proc.bodies(), ['ok1', 'bad\ufffd\ufffdX', 'ok2']);
    const ignore = await run({ 'i.txt': bad }, { decodeErrorPolicy: 'IGNORE' });
    assert.deepEqual(ignore.proc.bodies(), ['ok1', 'badX', 'ok2']);

    const fail = await run({ 'f.txt': bad, 'good.txt': 'fine\n' }, {}, (dir, p) => existsSync(join(dir, 'good.txt.COMPLETED')) && p.events.length >= 2);
    assert.deepEqual(fail.proc.bodies().sort(), ['fine', 'ok1']);
    const err = fail.src.failures[0]!;
    assert.equal(err.code, ErrorCodes.SOURCE_DECODE);
    assert.match(err.message, /f\.txt/);
    assert.match(err.message, /byte offset 7\b/);
    assert.ok(existsSync(join(fail.dir, 'f.txt')), 'the undecodable file is left in place');
  });

  it('keeps NUL bytes, strips CR of CRLF and emits a partial last line', async () => {
    const { proc } = await run({ 'n.txt': Buffer.from('a\0b\r\nc\r\nlast') });
    assert.deepEqual(proc.events.map((e) => e.body), [Buffer.from('a\0b'), Buffer.from('c'), Buffer.from('last')]);
  });

  it('splits a 5 MB line into pieces without losing a byte', async () => {
    const unit = 'abcdé你好😀xyz\u0000';
    const line = unit.repeat(Math.ceil((5 * 1024 * 1024) / Buffer.byteLength(unit)));
    const { proc } = await run({ 'big.txt': line + '\nafter\n' }, { batchSize: '500' });
    const pieces = proc.events.filter((e) => e.headers[SPLIT_HEADER] !== undefined);
    const total = Number(pieces[0]!.headers[SPLIT_HEADER]!.split('/')[1]);
    assert.equal(pieces.length, total);
    assert.deepEqual(pieces.map((e) => e.headers[SPLIT_HEADER]), pieces.map((_, i) => `${i + 1}/${total}`));
    for (const p of pieces) assert.ok([...p.body.toString('utf8')].length <= 2048);
    assert.ok(Buffer.concat(pieces.map((e) => e.body)).equals(Buffer.from(line)));
    assert.equal(new Set(proc.events.map((e) => e.headers['monsoon.seq'])).size, proc.events.length);
    assert.equal(proc.bodies().at(-1), 'after');
  });

  it('reports a file that changes after pickup and goes on with the others', async () => {
    const proc = new (class extends RecordingProcessor {
      grown = false;
      override async process(events: Parameters<RecordingProcessor['process']>[0], markers?: Readonly<Record<string, string>>) {
        await super.process(events, markers);
        if (!this.grown && events.some((e) => e.body.toString() === 'c1')) {
          this.grown = true;
          writeFileSync(join(f.dir, 'changing.log'), 'c1\nc2\nc3\nmore\n');
        }
      }
    })();
    const f = fixture({ batchSize: '1' }, proc);
    writeFileSync(join(f.dir, 'changing.log'), 'c1\nc2\nc3\n');
    writeFileSync(join(f.dir, 'other.log'), 'o1\n');
    utimesSync(join(f.dir, 'changing.log'), new Date(1_000_000), new Date(1_000_000));
    await f.src.start();
    try {
      await waitUntil(() => existsSync(join(f.dir, 'other.log.COMPLETED')), 10_000, 'other.log');
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(proc.bodies(), ['c1', 'o1']);
    assert.equal(f.src.failures[0]!.code, ErrorCodes.SOURCE_FILE_CHANGED);
    assert.match(f.src.failures[0]!.message, /changing\.log/);
    assert.ok(existsSync(join(f.dir, 'changing.log')));
  });

  it('skips a failed file only while it is the same file: a new file under that name is read, also after a restart', async () => {
    const f = fixture({ decodeErrorPolicy: 'FAIL' });
    writeFileSync(join(f.dir, 'cdr.csv'), Buffer.from([0x61, 0x0a, 0xff, 0xfe, 0x0a])); // bad UTF-8: fails
    await f.src.start();
    try {
      await waitUntil(() => f.src.failures.length > 0, 5000, 'the bad file to fail');
      // The operator moves the bad file away; the next export arrives under the same name.
      unlinkSync(join(f.dir, 'cdr.csv'));
      writeFileSync(join(f.dir, 'cdr.csv'), 'good1\ngood2\n');
      await waitUntil(() => existsSync(join(f.dir, 'cdr.csv.COMPLETED')), 5000, 'the new cdr.csv to be consumed');
    } finally {
      await f.src.stop();
    }
    assert.deepEqual(f.proc.bodies(), ['a', 'good1', 'good2']);
    assert.equal(f.src.failures.length, 1);

    // After a restart (the failed list is read back) the same holds.
    rmSync(join(f.dir, 'cdr.csv.COMPLETED'));
    writeFileSync(join(f.dir, 'bad.csv'), Buffer.from([0x62, 0x0a, 0xff, 0x0a]));
    const p2 = new RecordingProcessor();
    for (const [k, v] of f.proc.markers) p2.markers.set(k, v);
    const again = () => new SpoolDirSource(configureSource(spoolDirSpec, { spoolDir: f.dir, pollDelay: '20', decodeErrorPolicy: 'FAIL' }), sourceContext('r1', p2));
    const s2 = again();
    await s2.start();
    try {
      await waitUntil(() => s2.failures.length > 0, 5000, 'bad.csv to fail');
    } finally {
      await s2.stop();
    }
    unlinkSync(join(f.dir, 'bad.csv'));
    writeFileSync(join(f.dir, 'bad.csv'), 'fixed\n');
    const s3 = again();
    await s3.start();
    try {
      await waitUntil(() => existsSync(join(f.dir, 'bad.csv.COMPLETED')), 5000, 'the new bad.csv to be consumed');
    } finally {
      await s3.stop();
    }
    assert.deepEqual(p2.bodies(), ['b', 'fixed']);
    assert.deepEqual(s3.failures, []);
  });

  it('keeps skipping a failed file that is still the same file, across restarts', async () => {
    const f = fixture({ decodeErrorPolicy: 'FAIL' });
    writeFileSync(join(f.dir, 'x.csv'), Buffer.from([0x61, 0x0a, 0xff, 0x0a]));
    await f.src.start();
    try {
      await waitUntil(() => f.src.failures.length > 0, 5000, 'x.csv to fail');
    } finally {
      await f.src.stop();
    }
    writeFileSync(join(f.dir, 'y.csv'), 'y\n');
    const p2 = new RecordingProcessor();
    for (const [k, v] of f.proc.markers) p2.markers.set(k, v);
    const s2 = new SpoolDirSource(configureSource(spoolDirSpec, { spoolDir: f.dir, pollDelay: '20', decodeErrorPolicy: 'FAIL' }), sourceContext('r1', p2));
    await s2.start();
    try {
      await waitUntil(() => existsSync(join(f.dir, 'y.csv.COMPLETED')), 5000, 'y.csv');
    } finally {
      await s2.stop();
    }
    assert.deepEqual(p2.bodies(), ['y']);
    assert.deepEqual(s2.failures, []);
    assert.ok(existsSync(join(f.dir, 'x.csv')));
  });
});
