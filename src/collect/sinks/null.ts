import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { defineSink, type Sink, type SinkContext, type SinkStatus } from '../contracts.js';
import { drainBatch } from './transaction.js';

/** Null sink: takes events and discards them (Flume's NullSink). Useful to measure the rest of a pipeline. */
const schema = z.object({
  batchSize: prop.int(100, 1),
});
export type NullSinkConfig = z.infer<typeof schema>;

export class NullSink implements Sink {
  readonly name: string;
  constructor(
    private readonly cfg: NullSinkConfig,
    private readonly ctx: SinkContext,
  ) {
    this.name = ctx.name;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  process(): Promise<SinkStatus> {
    return drainBatch(this.ctx, this.cfg.batchSize, { write: async () => undefined });
  }
}

defineSink({
  type: 'null',
  aliases: ['org.apache.flume.sink.NullSink'],
  description: 'Discards every event it takes.',
  schema,
  batchSize: (c) => c.batchSize,
  create: (cfg, ctx) => new NullSink(cfg, ctx),
});
