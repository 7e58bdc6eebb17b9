import type { Event } from '../core/event.js';
import type { Sink, SinkContext, SinkStatus } from '../collect/contracts.js';
import { drainBatch } from '../collect/sinks/transaction.js';
import type { StoreWriter } from './writer.js';

/**
 * An agent sink over a store writer: each channel take is written as one batch and committed only
 * after the writer resolved (the batch is durable in the store). A failed write rolls the take back;
 * the batch comes again and, the writers being idempotent by identity, lands once.
 */
export class StoreSink implements Sink {
  readonly name: string;
  private writer: StoreWriter<Event> | undefined;

  constructor(
    private readonly ctx: SinkContext,
    private readonly batchSize: number,
    private readonly openWriter: () => Promise<StoreWriter<Event>>,
  ) {
    this.name = ctx.name;
  }

  async start(): Promise<void> {
    this.writer = await this.openWriter();
  }

  async stop(): Promise<void> {
    const w = this.writer;
    this.writer = undefined;
    await w?.close();
  }

  async process(): Promise<SinkStatus> {
    const w = this.writer;
    if (!w) throw new Error(`sink ${this.name} is not started`);
    return drainBatch(this.ctx, this.batchSize, {
      write: async (events) => {
        await w.write(events);
        return undefined;
      },
    });
  }
}
