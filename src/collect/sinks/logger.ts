import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineSink, type Sink, type SinkContext, type SinkStatus } from '../contracts.js';
import { drainBatch } from './transaction.js';

/**
 * Logger sink: logs each event's headers and the first maxBytesToLog bytes of its body at INFO, as
 * Flume's LoggerSink does. Meant for testing and debugging.
 */
const schema = z.object({
  maxBytesToLog: prop.int(16, 0),
  batchSize: prop.int(100, 1),
});
export type LoggerSinkConfig = z.infer<typeof schema>;

/** `Event: { headers:{k=v} body: 68 69  hi }` — hex of the logged bytes, then their printable form. */
export function describeEvent(e: Event, maxBytes: number): string {
  const bytes = e.body.subarray(0, maxBytes);
  const hex = [...bytes].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
  const text = [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  const headers = Object.entries(e.headers).map(([k, v]) => `${k}=${v}`).join(', ');
  return `Event: { headers:{${headers}} body: ${bytes.length ? `${hex}  ${text} ` : ''}}`;
}

export class LoggerSink implements Sink {
  readonly name: string;
  constructor(
    private readonly cfg: LoggerSinkConfig,
    private readonly ctx: SinkContext,
  ) {
    this.name = ctx.name;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  process(): Promise<SinkStatus> {
    return drainBatch(this.ctx, this.cfg.batchSize, {
      write: async (events) => {
        for (const e of events) this.ctx.log.info({ sink: this.name }, describeEvent(e, this.cfg.maxBytesToLog));
        return undefined;
      },
    });
  }
}

defineSink({
  type: 'logger',
  aliases: ['org.apache.flume.sink.LoggerSink'],
  description: 'Logs event headers and a body preview at INFO; for testing and debugging.',
  schema,
  batchSize: (c) => c.batchSize,
  create: (cfg, ctx) => new LoggerSink(cfg, ctx),
});
