import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { isRetriable } from '../../core/errors.js';
import { makeEvent, SequenceStamper, type Event } from '../../core/event.js';
import { defineSource, type Source, type SourceContext } from '../contracts.js';

/** Sequence generator (Flume's `seq`): bodies 0, 1, 2, … up to totalEvents; for tests and load. */
const schema = z.object({
  batchSize: prop.int(1, 1),
  totalEvents: prop.int(Number.MAX_SAFE_INTEGER, 0),
});
type SeqConfig = z.infer<typeof schema>;

class SeqSource implements Source {
  private running = false;
  private loop: Promise<void> | undefined;
  private next = 0;
  private readonly stamper: SequenceStamper;

  constructor(
    private readonly cfg: SeqConfig,
    private readonly ctx: SourceContext,
  ) {
    this.stamper = new SequenceStamper(`${ctx.agentId}/${ctx.name}/${Date.now().toString(36)}`);
  }

  async start(): Promise<void> {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  backlog(): number {
    return this.cfg.totalEvents - this.next;
  }

  private async run(): Promise<void> {
    while (this.running && this.next < this.cfg.totalEvents) {
      const n = Math.min(this.cfg.batchSize, this.cfg.totalEvents - this.next);
      const batch: Event[] = [];
      for (let i = 0; i < n; i++) batch.push(makeEvent(String(this.next + i)));
      this.stamper.stamp(batch);
      this.ctx.counters.inc('EventReceivedCount', n);
      for (;;) {
        try {
          await this.ctx.processor.process(batch);
          break;
        } catch (e) {
          if (!isRetriable(e) || !this.running) {
            this.ctx.counters.inc('ChannelWriteFail', 1);
            if (!this.running) return;
          }
          await this.ctx.processor.waitForSpace(1000);
        }
      }
      this.next += n;
      this.ctx.counters.inc('EventAcceptedCount', n);
      if (this.next % (this.cfg.batchSize * 64) < this.cfg.batchSize) await new Promise((r) => setImmediate(r));
    }
  }
}

defineSource({
  type: 'seq',
  aliases: ['org.apache.flume.source.SequenceGeneratorSource'],
  description: 'Generates the bodies 0, 1, 2, … (for tests and load).',
  schema,
  batchSize: (c) => c.batchSize,
  create: (cfg, ctx) => new SeqSource(cfg, ctx),
});
