import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { errorMessage, isRetriable } from '../../core/errors.js';
import { SequenceStamper, type Event } from '../../core/event.js';
import { Signal } from '../channels/signal.js';
import { defineSource, type Source, type SourceContext } from '../contracts.js';

/**
 * EXEC source: runs a command and turns each line of its standard output into an event (Flume's
 * ExecSource). When the channel is full the source stops reading, so the pipe fills and the command
 * blocks on write: lines wait, none are dropped. Lines are kept as the command wrote them; `charset`
 * must be one in which a newline is the byte 0x0A (UTF-8, ISO-8859-x, windows-125x, Shift_JIS, …).
 */
const schema = z.object({
  command: prop.requiredString(),
  shell: prop.optionalString(),
  restart: prop.bool(false),
  restartThrottle: prop.int(10_000, 0),
  logStdErr: prop.bool(false),
  batchSize: prop.int(20, 1),
  batchTimeout: prop.int(3000, 1),
  charset: prop.string('UTF-8'),
});
export type ExecSourceConfig = z.infer<typeof schema>;

/** A line longer than this is cut so that a command writing no newlines cannot exhaust memory. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** How long stop() keeps offering the last lines to a full channel before giving them up. */
const STOP_GRACE_MS = 5000;
/** How long a command has to exit after SIGTERM before it is killed. */
const KILL_AFTER_MS = 5000;

export class ExecSource implements Source {
  private child: ChildProcess | undefined;
  private stopping = false;
  private stopDeadline = Infinity;
  private loop: Promise<void> | undefined;
  private readonly wake = new Signal();
  private stamper = new SequenceStamper('');
  private pending: Event[] = [];
  private partial: Buffer[] = [];
  private partialLen = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Deliveries run one at a time, in order: the batch-size path and the batchTimeout timer share it. */
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly cfg: ExecSourceConfig,
    private readonly ctx: SourceContext,
  ) {}

  async start(): Promise<void> {
    this.stopping = false;
    this.stopDeadline = Infinity;
    const bootId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    this.stamper = new SequenceStamper(`${this.ctx.agentId}/${this.ctx.name}/${bootId}`);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopDeadline = Date.now() + STOP_GRACE_MS;
    this.wake.notify();
    this.kill('SIGTERM');
    const killer = setTimeout(() => {
      this.kill('SIGKILL');
      this.child?.stdout?.destroy(); // a descendant outside the process group may hold the pipe open
    }, KILL_AFTER_MS);
    await this.loop;
    clearTimeout(killer);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.ctx.counters.stopTime = Date.now();
  }

  backlog(): number {
    return this.pending.length;
  }

  private kill(signal: NodeJS.Signals): void {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
    try {
      process.kill(-c.pid, signal); // the whole process group: a shell's children too
    } catch {
      c.kill(signal);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      await this.runOnce();
      if (!this.cfg.restart || this.stopping) break;
      await this.wake.wait(this.cfg.restartThrottle);
    }
  }

  private argv(): [string, string[]] {
    const words = this.cfg.shell ? [...this.cfg.shell.trim().split(/\s+/), this.cfg.command] : this.cfg.command.trim().split(/\s+/);
    return [words[0]!, words.slice(1)];
  }

  private async runOnce(): Promise<void> {
    const [file, args] = this.argv();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', this.cfg.logStdErr ? 'pipe' : 'ignore'], detached: true });
    this.child = child;
    const exited = new Promise<string>((resolve) => {
      child.once('error', (e) => resolve(`could not run: ${e.message}`));
      child.once('close', (code, signal) => resolve(signal ? `was ended by ${signal}` : `exited with code ${code}`));
    });
    if (child.stderr) {
      child.stderr.on('error', () => undefined); // a broken stderr pipe must not take the agent down
      const n = { i: 0 };
      createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => this.ctx.log.info({ source: this.ctx.name, line: n.i++ }, `StderrLogger: ${line}`));
    }
    try {
      // Pulling chunks one at a time is the backpressure: while a batch waits for the channel, the
      // stream is not read, the pipe fills and the command blocks.
      for await (const chunk of child.stdout!) {
        this.split(chunk as Buffer);
        while (this.pending.length >= this.cfg.batchSize) await this.send(this.cfg.batchSize);
        this.armTimer();
      }
    } catch (e) {
      this.ctx.counters.inc('EventReadFail', 1);
      this.ctx.log.error({ source: this.ctx.name, err: errorMessage(e) }, `EXEC source ${this.ctx.name} failed reading the output of "${this.cfg.command}".`);
    }
    const last = this.takePartial();
    if (last) this.push(last);
    const how = await exited;
    this.child = undefined;
    while (this.pending.length > 0) await this.send(this.cfg.batchSize);
    this.ctx.log.info({ source: this.ctx.name }, `EXEC source ${this.ctx.name}: command "${this.cfg.command}" ${how}.`);
  }

  private split(chunk: Buffer): void {
    let from = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, i);
      let body = this.partialLen > 0 ? Buffer.concat([...this.partial, piece]) : Buffer.from(piece);
      this.partial = [];
      this.partialLen = 0;
      if (body.length > 0 && body[body.length - 1] === 13) body = body.subarray(0, body.length - 1);
      this.push(body);
      from = i + 1;
    }
    if (from < chunk.length) {
      this.partial.push(Buffer.from(chunk.subarray(from)));
      this.partialLen += chunk.length - from;
      if (this.partialLen >= MAX_LINE_BYTES) {
        this.ctx.log.warn({ source: this.ctx.name }, `EXEC source ${this.ctx.name} cut a line longer than ${MAX_LINE_BYTES} bytes.`);
        this.push(this.takePartial()!);
      }
    }
  }

  private takePartial(): Buffer | undefined {
    if (this.partialLen === 0) return undefined;
    const body = Buffer.concat(this.partial, this.partialLen);
    this.partial = [];
    this.partialLen = 0;
    return body;
  }

  private push(body: Buffer): void {
    const e: Event = { headers: {}, body };
    this.stamper.stamp([e]);
    this.pending.push(e);
    this.ctx.counters.inc('EventReceivedCount', 1);
  }

  /** A partial batch goes out batchTimeout after it started waiting. */
  private armTimer(): void {
    if (this.timer || this.pending.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send(this.cfg.batchSize).then(() => this.armTimer());
    }, this.cfg.batchTimeout);
  }

  private send(max: number): Promise<void> {
    this.sending = this.sending.then(() => this.deliver(max));
    return this.sending;
  }

  /** Delivers up to `max` pending events, retrying until the channel takes them. */
  private async deliver(max: number): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.slice(0, max);
    this.ctx.counters.inc('AppendBatchReceivedCount', 1);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ctx.processor.process(batch);
        break;
      } catch (e) {
        if (this.stopping && Date.now() > this.stopDeadline) {
          this.ctx.log.error({ source: this.ctx.name, lost: this.pending.length }, `EXEC source ${this.ctx.name} stopped with ${this.pending.length} line(s) its channel did not take; they are lost.`);
          this.pending = [];
          return;
        }
        if (isRetriable(e)) {
          await this.ctx.processor.waitForSpace(1000);
        } else {
          this.ctx.counters.inc('GenericProcessingFail', 1);
          if (attempt === 1) this.ctx.log.error({ source: this.ctx.name, err: errorMessage(e) }, `EXEC source ${this.ctx.name} could not deliver a batch; it keeps it and retries.`);
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
    this.pending.splice(0, batch.length);
    this.ctx.counters.inc('EventAcceptedCount', batch.length);
    this.ctx.counters.inc('AppendBatchAcceptedCount', 1);
  }
}

/** Newlines must be the byte 0x0A: multi-byte-unit encodings are refused with a clear message. */
function checkCharset(c: ExecSourceConfig): Array<[string, string]> {
  const name = c.charset.trim().toLowerCase();
  if (/^(utf-?(16|32)|ucs-?[24])/.test(name)) return [['charset', `${c.charset} is not supported: lines are split on the byte 0x0A, which needs an ASCII-compatible charset such as UTF-8`]];
  try {
    new TextDecoder(name);
  } catch {
    return [['charset', `unknown charset ${JSON.stringify(c.charset)}`]];
  }
  return [];
}

defineSource({
  type: 'exec',
  aliases: ['org.apache.flume.source.ExecSource'],
  description: 'Runs a command and turns each line of its standard output into an event.',
  schema,
  batchSize: (c) => c.batchSize,
  check: checkCharset,
  create: (cfg, ctx) => new ExecSource(cfg, ctx),
});
