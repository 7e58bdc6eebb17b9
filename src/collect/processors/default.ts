import { z } from 'zod';
import { defineProcessor, type ProcessorContext, type Sink, type SinkProcessor, type SinkStatus } from '../contracts.js';
import { groupConfigError, startSinks, stopSinks } from './group.js';

/**
 * Default sink processor: exactly one sink, called directly. Flume uses it for every sink that is not
 * in a sink group; a sink group of type `default` must also hold a single sink.
 */
const schema = z.object({});
export type DefaultProcessorConfig = z.infer<typeof schema>;

export class DefaultSinkProcessor implements SinkProcessor {
  constructor(private readonly sink: Sink) {}
  start(): Promise<void> {
    return startSinks([this.sink]);
  }
  stop(): Promise<void> {
    return stopSinks([this.sink]);
  }
  process(): Promise<SinkStatus> {
    return this.sink.process();
  }
}

export function createDefaultProcessor(_cfg: DefaultProcessorConfig, ctx: ProcessorContext): DefaultSinkProcessor {
  const [sink, ...rest] = ctx.sinks;
  if (sink === undefined || rest.length > 0) {
    throw groupConfigError(ctx, 'type', `default takes exactly one sink, but sink group ${ctx.name} has ${ctx.sinks.length}; use failover or load_balance for several sinks`);
  }
  return new DefaultSinkProcessor(sink);
}

defineProcessor({
  type: 'default',
  aliases: ['org.apache.flume.sink.DefaultSinkProcessor'],
  description: 'Passes every call to the single sink of the group.',
  schema,
  create: createDefaultProcessor,
});
