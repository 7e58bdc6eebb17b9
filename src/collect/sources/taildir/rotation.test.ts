import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import { resolveComponent, validateComponent } from '../../../core/config/component.js';
import type { ChannelProcessor, Source } from '../../contracts.js';
import { RecordingProcessor, sourceContext, waitUntil } from '../../testkit.js';
import './source.js';

/** A logger that keeps the messages it is given at `level` or above. */
function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: pino({ level: 'info' }, { write: (m: string) => void lines.push(m) }) };
}

function build(props: Record<string, string>, proc: ChannelProcessor, log?: Logger): Source {
  const r = resolveComponent('source', 'TAILDIR');
  if ('error' in r) throw new Error(r.error);
  const v = validateComponent(r.spec, { backoffSleepIncrement: '20', maxBackoffSleep: '100', ...props }, 'a1.sources.r1');
  assert.deepEqual(v.errors, []);
  const ctx = sourceContext('r1', proc);
  return r.spec.create(v.config, log ? { ...ctx, log } : ctx) as Source;
}

/** Lets `limit` events in, then refuses everything (a full channel), like an agent that dies under backpressure. */
class Gate extends RecordingProcessor {
  constructor(private readonly limit: number) {
    super();
  }
  override async process(events: Parameters<RecordingProcessor['process']>[0], markers?: Readonly<Record<string, string>>): Promise<void> {
    if (this.events.length + events.length > this.limit) this.failNext = 1;
    return super.process(events, markers);
  }
}

describe('TAILDIR rotation edge cases', () => {
  it('after a restart, reads the unread rest of a file renamed out of the pattern while stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monsoon-taildir-'));
    try {
      let s = '';
      for (let i = 0; i < 100; i++) s += `line-${i}\n`;
      writeFileSync(join(dir, 'app.log'), s);
      const p1 = new Gate(10);
      const props = { filegroups: 'f1', 'filegroups.f1': `${dir}/app\\.log`, batchSize: '10', idleTimeout: '200', positionFile: join(dir, 'pos.json') };
      const a = build(props, p1);
      await a.start();
      await waitUntil(() => p1.events.length === 10, 3000, '10 lines');
      await a.stop(); // (kill -9 would do the same: 10 lines committed, 90 unread)
      renameSync(join(dir, 'app.log'), join(dir, 'app.log-20261121')); // logrotate, dateext
      appendFileSync(join(dir, 'app.log'), 'new-0\n');
      const p2 = new RecordingProcessor();
      for (const [k, v] of p1.markers) p2.markers.set(k, v); // the channel's committed marker
      const b = build(props, p2);
      await b.start();
      try {
        await waitUntil(() => p2.bodies().includes('new-0') && p2.bodies().includes('line-99'), 3000, 'the new file and the rest of the rotated one');
        // Once read to its end and idle, the rotated file is forgotten.
        const table = (b as unknown as { table: { files: Map<string, unknown> } }).table;
        await waitUntil(() => table.files.size === 1, 3000, 'the rotated file to be forgotten');
      } finally {
        await b.stop();
      }
      assert.ok(!readFileSync(join(dir, 'pos.json'), 'utf8').includes('app.log-20261121'));
      const got = [...p1.bodies(), ...p2.bodies()];
      assert.deepEqual(got.filter((l) => l.startsWith('line-')), s.trimEnd().split('\n'));
      assert.deepEqual(p2.bodies().filter((l) => l.startsWith('new-')), ['new-0']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });


  it('logs an error naming a tracked file gone while stopped and its read position', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monsoon-taildir-'));
    try {
      writeFileSync(join(dir, 'app.log'), 'a\nb\nc\n');
      const p1 = new Gate(2);
      const props = { filegroups: 'f1', 'filegroups.f1': `${dir}/app\\.log`, batchSize: '2', positionFile: join(dir, 'pos.json') };
      const a = build(props, p1);
      await a.start();
      await waitUntil(() => p1.events.length === 2, 3000, '2 lines');
      await a.stop();
      rmSync(join(dir, 'app.log'));
      const p2 = new RecordingProcessor();
      for (const [k, v] of p1.markers) p2.markers.set(k, v);
      const c = capture();
      const b = build(props, p2, c.log);
      await b.start();
      await b.stop();
      const errors = c.lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50);
      assert.equal(errors.length, 1, JSON.stringify(c.lines));
      assert.match(errors[0]!.msg, new RegExp(`cannot find ${join(dir, 'app.log').replace(/[.]/g, '\\.')} \\(inode \\d+\\).*at least 2 bytes after byte 4 are not read`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a new file that starts like the rotated one (a CSV header) is read from its start once the rotated one is closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monsoon-taildir-'));
    const header = 'msisdn,imsi,cell,start,duration\n';
    try {
      let s = header;
      for (let i = 0; i < 200; i++) s += `old-${i},x,y,z,1\n`;
      writeFileSync(join(dir, 'cdr.csv'), s);
      const p = new RecordingProcessor();
      const src = build({ filegroups: 'f1', 'filegroups.f1': `${dir}/cdr\\.csv`, batchSize: '100', idleTimeout: '300', positionFile: join(dir, 'pos.json') }, p);
      await src.start();
      try {
        await waitUntil(() => p.events.length === 201, 3000, 'the old file');
        renameSync(join(dir, 'cdr.csv'), join(dir, 'cdr.csv.1')); // rotated out of the pattern
        writeFileSync(join(dir, 'cdr.csv'), header); // the writer reopens and writes its header
        // The old file idles out and is closed; the new one is then read as a file of its own.
        await waitUntil(() => p.bodies().filter((l) => l === header.trimEnd()).length === 2, 5000, 'the new file\'s header');
        appendFileSync(join(dir, 'cdr.csv'), 'new-0,x,y,z,1\nnew-1,x,y,z,1\n');
        await waitUntil(() => p.bodies().includes('new-1,x,y,z,1'), 3000, 'the new lines');
      } finally {
        await src.stop();
      }
      const got = p.bodies();
      assert.deepEqual(got.filter((l) => !l.startsWith('old-')), [header.trimEnd(), header.trimEnd(), 'new-0,x,y,z,1', 'new-1,x,y,z,1']);
      assert.equal(got.filter((l) => l.startsWith('old-')).length, 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
