import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveComponent, validateComponent } from '../../../core/config/component.js';
import { identityOf, ORIGIN_HEADER, type Event } from '../../../core/event.js';
import type { ChannelProcessor, Source } from '../../contracts.js';
import { DefaultChannelProcessor } from '../../channel-processor.js';
import { silentLogger } from '../../../core/log.js';
import { memoryChannel, RecordingProcessor, sourceContext, waitUntil } from '../../testkit.js';
import './source.js';
import { TaildirSource } from './source.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'monsoon-taildir-'));
  dirs.push(d);
  return d;
}

/** Builds the source from Flume-style properties, through the config kit as an agent would. */
function build(props: Record<string, string>, proc: ChannelProcessor): Source {
  const r = resolveComponent('source', 'org.apache.flume.source.taildir.TaildirSource');
  if ('error' in r) throw new Error(r.error);
  const v = validateComponent(r.spec, { backoffSleepIncrement: '20', maxBackoffSleep: '100', ...props }, 'a1.sources.r1');
  assert.deepEqual(v.errors, []);
  return r.spec.create(v.config, sourceContext('r1', proc)) as Source;
}

function lines(prefix: string, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `${prefix}-${String(i).padStart(6, '0')}\n`;
  return s;
}

function expected(prefix: string, from: number, to: number): string[] {
  return lines(prefix, from, to).split('\n').filter(Boolean);
}

function assertUniqueIdentities(p: RecordingProcessor): void {
  const ids = p.events.map((e) => {
    const id = identityOf(e);
    assert.ok(id, 'every event has an identity');
    return `${id.origin}#${id.seq}`;
  });
  assert.equal(new Set(ids).size, ids.length, 'identities are unique');
}

/** Refuses (as a full channel) every batch once `limit` events are in, until opened. */
class GatedProcessor extends RecordingProcessor {
  private closed = true;
  constructor(private readonly limit: number) {
    super();
  }
  open(): void {
    this.closed = false;
  }
  override async process(events: Parameters<RecordingProcessor['process']>[0], markers?: Readonly<Record<string, string>>): Promise<void> {
    if (this.closed && this.events.length >= this.limit) this.failNext = 1;
    return super.process(events, markers);
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('TAILDIR source', () => {
  it('rejects a filegroup without a path and a relative path', () => {
    const r = resolveComponent('source', 'TAILDIR');
    if ('error' in r) throw new Error(r.error);
    const v = validateComponent(r.spec, { filegroups: 'f1 f2', 'filegroups.f2': 'logs/x.log' }, 'a1.sources.r1');
    assert.deepEqual(
      v.errors.map((e) => e.key),
      ['a1.sources.r1.filegroups.f1', 'a1.sources.r1.filegroups.f2'],
    );
  });

  it('tails two filegroups with their headers and follows appends', async () => {
    const d1 = tmp();
    const d2 = tmp();
    writeFileSync(join(d1, 'a.log'), 'a1\na2\n');
    writeFileSync(join(d1, 'ignored.txt'), 'no\n');
    writeFileSync(join(d2, 'x.txt'), 'x1\n');
    const p = new RecordingProcessor();
    const src = build(
      { filegroups: 'f1 f2', 'filegroups.f1': join(d1, 'a\\.log'), 'filegroups.f2': join(d2, '.*\\.txt'), 'headers.f1.topic': 't1', 'headers.f2.topic': 't2', fileHeader: 'true' },
      p,
    );
    await src.start();
    try {
      await waitUntil(() => p.events.length === 3, 5000, 'the first three lines');
      appendFileSync(join(d1, 'a.log'), 'a3\n');
      writeFileSync(join(d2, 'y.txt'), 'y1\n');
      await waitUntil(() => p.events.length === 5, 5000, 'appended lines and a new file');
    } finally {
      await src.stop();
    }
    const got = p.events.map((e) => `${e.headers.topic}:${e.body}:${e.headers.file}`).sort();
    assert.deepEqual(got, [`t1:a1:${join(d1, 'a.log')}`, `t1:a2:${join(d1, 'a.log')}`, `t1:a3:${join(d1, 'a.log')}`, `t2:x1:${join(d2, 'x.txt')}`, `t2:y1:${join(d2, 'y.txt')}`]);
    assertUniqueIdentities(p);
    assert.ok(p.events.every((e) => e.headers[ORIGIN_HEADER]!.startsWith('test-host/a1/r1/')));
  });

  it('holds back a partial last line until its newline arrives, and strips CRLF', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.log'), 'one\r\ntw');
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, '.*\\.log') }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 1, 5000, 'the complete line');
      // A later line in another file proves that further passes ran while "tw" stayed held.
      writeFileSync(join(d, 'b.log'), 'other\n');
      await waitUntil(() => p.bodies().includes('other'), 5000, 'the other file');
      assert.deepEqual(p.bodies(), ['one', 'other']);
      appendFileSync(join(d, 'a.log'), 'o\r\nthree\n');
      await waitUntil(() => p.events.length === 4, 5000, 'the completed line');
    } finally {
      await src.stop();
    }
    assert.deepEqual(p.bodies(), ['one', 'other', 'two', 'three']);
  });

  it('reads a backlog in batches that start small and double up to batchSize', async () => {
    const d = tmp();
    writeFileSync(join(d, 'app.log'), lines('b', 0, 1000));
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, 'app\\.log'), batchSize: '300' }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length >= 1000, 5000, 'every line');
    } finally {
      await src.stop();
    }
    assert.deepEqual(p.sizes, [64, 128, 256, 300, 252]);
    assert.deepEqual(p.bodies(), expected('b', 0, 1000));
  });

  it('resumes from the committed marker without loss or duplicates, keeping identities stable', async () => {
    const d = tmp();
    const file = join(d, 'app.log');
    writeFileSync(file, lines('r', 0, 2000));
    const p = new GatedProcessor(100);
    const props = { filegroups: 'f1', 'filegroups.f1': join(d, 'app\\.log'), batchSize: '10', positionFile: join(d, 'pos.json') };
    const first = build(props, p);
    await first.start();
    await waitUntil(() => p.events.length >= 100, 5000, 'some lines');
    const stopped = first.stop(); // stops while a batch waits at the gate, uncommitted
    p.open();
    await stopped;
    assert.ok(p.events.length < 2000, 'stopped part way');
    appendFileSync(file, lines('r', 2000, 2500));
    const second = build(props, p);
    await second.start();
    try {
      await waitUntil(() => p.events.length >= 2500, 5000, 'every line');
    } finally {
      await second.stop();
    }
    assert.deepEqual(p.bodies(), expected('r', 0, 2500));
    assertUniqueIdentities(p);
    assert.equal(new Set(p.events.map((e) => e.headers[ORIGIN_HEADER])).size, 1, 'one origin for one file across restarts');
    const pos = JSON.parse(readFileSync(join(d, 'pos.json'), 'utf8')) as Array<{ inode: number; pos: number; file: string }>;
    assert.deepEqual(
      pos.map((x) => [x.pos, x.file]),
      [[statSync(file).size, file]],
    );
  });

  it('rotation by rename: every line exactly once, in order per file', async () => {
    const d = tmp();
    const file = join(d, 'app.log');
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, 'app\\.log.*'), batchSize: '50', idleTimeout: '200' }, p);
    await src.start();
    const total = 6000;
    try {
      let rotations = 0;
      for (let i = 0; i < total; i += 20) {
        appendFileSync(file, lines('n', i, i + 20));
        if (i % 1000 === 980) renameSync(file, join(d, `app.log.${++rotations}`));
        if (i % 100 === 0) await tick();
      }
      await waitUntil(() => p.events.length >= total, 10_000, 'every line');
    } finally {
      await src.stop();
    }
    assert.deepEqual([...p.bodies()].sort(), expected('n', 0, total));
    assertUniqueIdentities(p);
    const perFile = new Map<string, number[]>();
    for (const e of p.events) {
      const o = e.headers[ORIGIN_HEADER]!;
      perFile.set(o, [...(perFile.get(o) ?? []), Number(e.body.toString().slice(2))]);
    }
    assert.equal(perFile.size, 6, 'six generations of the file');
    for (const ns of perFile.values()) assert.deepEqual(ns, [...ns].sort((a, b) => a - b));
  });

  it('keeps reading a file renamed out of the pattern through its open handle', async () => {
    const d = tmp();
    const file = join(d, 'app.log');
    writeFileSync(file, 'g1-1\n');
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, 'app\\.log'), idleTimeout: '100' }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 1, 5000, 'the first line');
      appendFileSync(file, 'g1-2\ng1-partial');
      renameSync(file, join(d, 'old-app'));
      writeFileSync(file, 'g2-1\n');
      await waitUntil(() => p.events.length === 4, 5000, 'the rotated file drained, its partial line flushed, then the new file');
    } finally {
      await src.stop();
    }
    assert.deepEqual([...p.bodies()].sort(), ['g1-1', 'g1-2', 'g1-partial', 'g2-1']);
  });

  it('rotation by copytruncate: exactly once, the copy is not read again', async () => {
    const d = tmp();
    const file = join(d, 'app.log');
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, 'app\\.log.*'), batchSize: '25', idleTimeout: '200' }, p);
    await src.start();
    const total = 4000;
    try {
      let copies = 0;
      for (let i = 0; i < total; i += 20) {
        appendFileSync(file, lines('c', i, i + 20));
        if (i % 800 === 780) {
          copyFileSync(file, join(d, `app.log.${++copies}`));
          truncateSync(file, 0);
        }
        if (i % 100 === 0) await tick();
      }
      await waitUntil(() => p.events.length >= total, 10_000, 'every line');
      // One more line after everything settled: nothing extra may appear with it.
      appendFileSync(file, lines('c', total, total + 1));
      await waitUntil(() => p.bodies().includes(expected('c', total, total + 1)[0]!), 5000, 'the last line');
    } finally {
      await src.stop();
    }
    assert.deepEqual([...p.bodies()].sort(), expected('c', 0, total + 1));
    assertUniqueIdentities(p);
  });

  it('copytruncate while stopped: the copy is read from the saved position only', async () => {
    const d = tmp();
    const file = join(d, 'app.log');
    writeFileSync(file, lines('s', 0, 300));
    const p = new RecordingProcessor();
    const props = { filegroups: 'f1', 'filegroups.f1': join(d, 'app\\.log.*') };
    const one = build(props, p);
    await one.start();
    await waitUntil(() => p.events.length === 300, 5000, 'the first lines');
    await one.stop();
    appendFileSync(file, lines('s', 300, 400)); // written after the stop: only in the copy
    copyFileSync(file, join(d, 'app.log.1'));
    truncateSync(file, 0);
    appendFileSync(file, lines('s', 400, 450));
    const two = build(props, p);
    await two.start();
    try {
      await waitUntil(() => p.events.length >= 450, 5000, 'the rest of the copy and the new content');
      appendFileSync(file, lines('s', 450, 451));
      await waitUntil(() => p.events.length >= 451, 5000, 'a final line');
    } finally {
      await two.stop();
    }
    assert.deepEqual([...p.bodies()].sort(), expected('s', 0, 451));
  });

  it('reads files that start alike in different directories (no false copy detection)', async () => {
    const d1 = tmp();
    const d2 = tmp();
    writeFileSync(join(d1, 'a.log'), 'starting\n');
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1 f2', 'filegroups.f1': join(d1, 'a\\.log'), 'filegroups.f2': join(d2, 'a\\.log') }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 1, 5000, 'the first file');
      writeFileSync(join(d2, 'a.log'), 'starting\n');
      await waitUntil(() => p.events.length === 2, 5000, 'the second file');
    } finally {
      await src.stop();
    }
    assert.deepEqual(p.bodies(), ['starting', 'starting']);
  });

  it('skipToEnd starts existing files at their end, new files at the start', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.log'), 'old1\nold2\npar');
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, '.*\\.log'), skipToEnd: 'true' }, p);
    await src.start();
    try {
      appendFileSync(join(d, 'a.log'), 'tial\nnew\n');
      writeFileSync(join(d, 'b.log'), 'b1\n');
      await waitUntil(() => p.events.length === 3, 5000, 'lines written after start');
    } finally {
      await src.stop();
    }
    assert.deepEqual([...p.bodies()].sort(), ['b1', 'new', 'partial']);
  });

  it('byteOffsetHeader gives each line start; the identity sequence is the line number', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.log'), 'a\nbb\nccc\n');
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, 'a\\.log'), byteOffsetHeader: 'true' }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 3, 5000, 'three lines');
    } finally {
      await src.stop();
    }
    assert.deepEqual(
      p.events.map((e) => [e.headers.byteoffset, identityOf(e)?.seq]),
      [
        ['0', 0],
        ['2', 1],
        ['5', 2],
      ],
    );
  });

  it('reads a Flume position file, and restarts at 0 when its position is past the end', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.log'), 'a1\na2\n');
    writeFileSync(join(d, 'b.log'), 'b1\nb2\n');
    const pos = join(d, 'state', 'pos.json');
    const inode = (f: string) => statSync(join(d, f)).ino;
    mkdirSync(join(d, 'state'));
    writeFileSync(
      pos,
      JSON.stringify([
        { inode: inode('a.log'), pos: 3, file: join(d, 'a.log') },
        { inode: inode('b.log'), pos: 1000, file: join(d, 'b.log') },
      ]),
    );
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, '.*\\.log'), positionFile: pos }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 3, 5000, 'a2, b1 and b2');
    } finally {
      await src.stop();
    }
    assert.deepEqual([...p.bodies()].sort(), ['a2', 'b1', 'b2']);
  });

  it('treats the same inode with different content as a new file', async () => {
    const d = tmp();
    const file = join(d, 'a.log');
    writeFileSync(file, 'first-generation-1\nfirst-generation-2\n');
    const p = new RecordingProcessor();
    const props = { filegroups: 'f1', 'filegroups.f1': join(d, 'a\\.log') };
    const one = build(props, p);
    await one.start();
    await waitUntil(() => p.events.length === 2, 5000, 'two lines');
    await one.stop();
    writeFileSync(file, 'SECOND-generation-1\nSECOND-generation-2\nSECOND-generation-3\n'); // same inode, longer
    const two = build(props, p);
    await two.start();
    try {
      await waitUntil(() => p.events.length === 5, 5000, 'the new content from the start');
    } finally {
      await two.stop();
    }
    assert.deepEqual(p.bodies().slice(2), ['SECOND-generation-1', 'SECOND-generation-2', 'SECOND-generation-3']);
    assertUniqueIdentities(p);
  });

  it('reads a 5 MB line whole', async () => {
    const d = tmp();
    const big = 'x'.repeat(5 * 1024 * 1024);
    writeFileSync(join(d, 'a.log'), `${big}\nafter\n`);
    const p = new RecordingProcessor();
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, 'a\\.log') }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 2, 5000, 'two lines');
    } finally {
      await src.stop();
    }
    assert.equal(p.events[0]!.body.length, big.length);
    assert.ok(p.events[0]!.body.equals(Buffer.from(big)));
    assert.equal(p.events[1]!.body.toString(), 'after');
  });

  it('through a real channel: waits while it is full, and resumes from its marker after a restart', async () => {
    const d = tmp();
    const file = join(d, 'a.log');
    writeFileSync(file, lines('m', 0, 3000));
    const ch = memoryChannel('c1', 200, 100);
    const ctx = sourceContext('r1');
    const proc = new DefaultChannelProcessor({ required: () => [ch], optional: () => [], all: () => [ch] }, [], ctx.counters, silentLogger);
    const taken: Event[] = [];
    const drain = async (n: number) => {
      const tx = ch.transaction();
      taken.push(...(await tx.take(n)));
      await tx.commit();
    };
    const props = { filegroups: 'f1', 'filegroups.f1': join(d, 'a\\.log'), batchSize: '50' };
    const one = build(props, proc);
    await one.start();
    await waitUntil(() => ch.size() === 200, 5000, 'a full channel');
    await drain(120);
    await waitUntil(() => ch.size() === 200, 5000, 'the channel full again');
    await one.stop();
    appendFileSync(file, lines('m', 3000, 3100));
    const two = build(props, proc);
    await two.start();
    try {
      await waitUntil(
        async () => {
          await drain(100);
          return taken.length >= 3100;
        },
        10_000,
        'every line through the channel',
      );
      await waitUntil(() => two.backlog!() === 0, 5000, 'an empty backlog');
      await drain(100);
    } finally {
      await two.stop();
    }
    assert.deepEqual(
      taken.map((e) => e.body.toString()),
      expected('m', 0, 3100),
    );
  });

  it('keeps a refused batch and retries it: nothing lost, nothing repeated; backlog drains to 0', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.log'), lines('b', 0, 500));
    const p = new RecordingProcessor();
    p.failNext = 7;
    const src = build({ filegroups: 'f1', 'filegroups.f1': join(d, 'a\\.log'), batchSize: '40' }, p) as TaildirSource;
    await src.start();
    try {
      await waitUntil(() => p.events.length === 500, 5000, 'every line');
      await waitUntil(() => src.backlog() === 0, 5000, 'an empty backlog');
    } finally {
      await src.stop();
    }
    assert.deepEqual(p.bodies(), expected('b', 0, 500));
    assert.equal(p.failNext, 0);
  });
});
