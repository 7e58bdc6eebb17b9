import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { identityOf } from '../../core/event.js';
import type { Source } from '../contracts.js';
import type { ExecSource } from './exec.js';
import { RecordingProcessor, sourceContext, waitUntil } from '../testkit.js';
import './exec.js';

/** Refuses every batch (as a full channel) once `limit` events are in, until opened; counts refusals. */
class GatedProcessor extends RecordingProcessor {
  refused = 0;
  private closed = true;
  constructor(private readonly limit: number) {
    super();
  }
  open(): void {
    this.closed = false;
  }
  override async process(events: Parameters<RecordingProcessor['process']>[0]): Promise<void> {
    if (this.closed && this.events.length >= this.limit) {
      this.refused++;
      this.failNext = 1;
    }
    return super.process(events);
  }
}

function build(props: Record<string, string>, proc: RecordingProcessor): Source {
  const r = resolveComponent('source', 'org.apache.flume.source.ExecSource');
  if ('error' in r) throw new Error(r.error);
  const v = validateComponent(r.spec, props, 'a1.sources.r1');
  assert.deepEqual(v.errors, []);
  return r.spec.create(v.config, sourceContext('r1', proc)) as Source;
}

function numbers(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

describe('EXEC source', () => {
  it('turns each output line of a command into an event, with unique identities', async () => {
    const p = new RecordingProcessor();
    const src = build({ command: 'seq 1 1000' }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 1000, 5000, '1000 lines');
    } finally {
      await src.stop();
    }
    assert.deepEqual(p.bodies(), numbers(1, 1000));
    const ids = p.events.map((e) => identityOf(e));
    assert.deepEqual(
      ids.map((i) => i?.seq),
      numbers(0, 999).map(Number),
    );
    assert.equal(new Set(ids.map((i) => i?.origin)).size, 1);
    assert.ok(ids[0]!.origin.startsWith('test-host/a1/r1/'));
  });

  it('runs through a shell, strips CRLF and sends an unterminated last line', async () => {
    const p = new RecordingProcessor();
    const src = build({ command: "printf 'a\\r\\nb\\nc' | cat", shell: '/bin/sh -c' }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 3, 5000, 'three lines');
    } finally {
      await src.stop();
    }
    assert.deepEqual(p.bodies(), ['a', 'b', 'c']);
  });

  it('flushes a partial batch after batchTimeout while the command keeps running, and stop ends it', async () => {
    const p = new RecordingProcessor();
    const src = build({ command: 'echo first; sleep 30; echo never', shell: '/bin/sh -c', batchSize: '100', batchTimeout: '50' }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 1, 5000, 'the partial batch');
    } finally {
      await src.stop(); // returns promptly: the shell and its sleep are ended together
    }
    assert.deepEqual(p.bodies(), ['first']);
  });

  it('restarts the command after restartThrottle when restart is true', async () => {
    const p = new RecordingProcessor();
    const src = build({ command: 'echo run', restart: 'true', restartThrottle: '20', batchTimeout: '20' }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length >= 3, 5000, 'three runs');
    } finally {
      await src.stop();
    }
    assert.ok(p.bodies().every((b) => b === 'run'));
    const seqs = p.events.map((e) => identityOf(e)!.seq);
    assert.deepEqual(seqs, [...seqs.keys()], 'sequence numbers continue across restarts');
  });

  it('under backpressure keeps every line, in order', async () => {
    const p = new RecordingProcessor();
    p.failNext = 25;
    const src = build({ command: 'seq 1 20000', batchSize: '50' }, p);
    await src.start();
    try {
      await waitUntil(() => p.events.length === 20000, 10_000, '20000 lines');
    } finally {
      await src.stop();
    }
    assert.equal(p.failNext, 0);
    assert.deepEqual(p.bodies(), numbers(1, 20000));
  });

  it('stops reading while the channel is full, so the command blocks instead of lines piling up', async () => {
    const p = new GatedProcessor(100);
    const src = build({ command: 'seq 1 200000', batchSize: '100' }, p) as ExecSource;
    await src.start();
    try {
      await waitUntil(() => p.refused >= 30, 5000, 'the full channel to be retried many times');
      // 200000 lines are 1.3 MB; only what fits the pipe and one stream buffer may have been read.
      assert.ok(src.backlog() < 20_000, `backlog ${src.backlog()} must stay bounded`);
      p.open();
      await waitUntil(() => p.events.length === 200_000, 10_000, 'every line');
    } finally {
      await src.stop();
    }
    assert.deepEqual(p.bodies(), numbers(1, 200_000));
  });

  it('logs standard error lines when logStdErr is true', async () => {
    const logged: string[] = [];
    const p = new RecordingProcessor();
    const r = resolveComponent('source', 'exec');
    if ('error' in r) throw new Error(r.error);
    const v = validateComponent(r.spec, { command: 'echo out; echo oops >&2', shell: '/bin/sh -c', logStdErr: 'true', batchTimeout: '10' }, 'a1.sources.r1');
    const ctx = { ...sourceContext('r1', p), log: pino({ level: 'info' }, { write: (s: string) => void logged.push(s) }) };
    const src = r.spec.create(v.config, ctx) as Source;
    await src.start();
    try {
      await waitUntil(() => p.events.length === 1 && logged.some((l) => l.includes('StderrLogger: oops')), 5000, 'the output line and the logged error line');
    } finally {
      await src.stop();
    }
    assert.deepEqual(p.bodies(), ['out']);
  });

  it('refuses a charset whose newline is not the byte 0x0A', () => {
    const r = resolveComponent('source', 'exec');
    if ('error' in r) throw new Error(r.error);
    const v = validateComponent(r.spec, { command: 'true', charset: 'UTF-16LE' }, 'a1.sources.r1');
    assert.deepEqual(
      v.errors.map((e) => e.key),
      ['a1.sources.r1.charset'],
    );
  });
});
