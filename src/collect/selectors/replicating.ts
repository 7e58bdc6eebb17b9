import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineSelector, type Channel, type ChannelSelector, type SelectorContext } from '../contracts.js';
import { resolveChannels } from './resolve.js';

/**
 * Replicating selector (the default): every event goes to all of the source's channels. Channels
 * listed in `optional` are written best effort; a failure there does not fail the batch.
 */
const schema = z.object({
  optional: prop.list(),
});
export type ReplicatingSelectorConfig = z.infer<typeof schema>;

export class ReplicatingSelector implements ChannelSelector {
  private readonly req: readonly Channel[];
  private readonly opt: readonly Channel[];
  constructor(
    cfg: ReplicatingSelectorConfig,
    private readonly channels: readonly Channel[],
  ) {
    const optional = new Set(resolveChannels(cfg.optional, channels, 'optional'));
    this.opt = channels.filter((c) => optional.has(c));
    this.req = channels.filter((c) => !optional.has(c));
  }
  required(_e: Event): readonly Channel[] {
    return this.req;
  }
  optional(_e: Event): readonly Channel[] {
    return this.opt;
  }
  all(): readonly Channel[] {
    return this.channels;
  }
}

defineSelector({
  type: 'replicating',
  aliases: ['org.apache.flume.channel.ReplicatingChannelSelector'],
  description: "Copies every event to all of the source's channels; `optional` ones best effort.",
  schema,
  create: (cfg, ctx: SelectorContext) => new ReplicatingSelector(cfg, ctx.channels),
});
