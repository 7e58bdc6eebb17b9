import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineSelector, type Channel, type ChannelSelector, type SelectorContext } from '../contracts.js';
import { resolveChannels, splitNames } from './resolve.js';

/**
 * Multiplexing selector: routes each event by the value of one header. `mapping.<value>` names the
 * required channels for that value (`default` when no mapping matches) and `optional.<value>` the
 * channels written best effort.
 *
 *   selector.header = state
 *   selector.mapping.CA = c1
 *   selector.optional.CA = c3
 *   selector.default = c2
 */
const schema = z.object({
  header: prop.string('flume.selector.header'),
  default: prop.list(),
  mapping: z.record(z.string(), z.string()).default({}),
  optional: z.record(z.string(), z.string()).default({}),
});
export type MultiplexingSelectorConfig = z.infer<typeof schema>;

const NONE: readonly Channel[] = [];

export class MultiplexingSelector implements ChannelSelector {
  private readonly header: string;
  private readonly mapping = new Map<string, readonly Channel[]>();
  private readonly optionals = new Map<string, readonly Channel[]>();
  private readonly defaults: readonly Channel[];

  constructor(
    cfg: MultiplexingSelectorConfig,
    private readonly channels: readonly Channel[],
  ) {
    this.header = cfg.header;
    this.defaults = resolveChannels(cfg.default, channels, 'default');
    for (const [value, names] of Object.entries(cfg.mapping)) {
      if (value !== '') this.mapping.set(value, resolveChannels(splitNames(names), channels, `mapping.${value}`));
    }
    for (const [value, names] of Object.entries(cfg.optional)) {
      if (value === '') continue;
      const required = new Set(this.mapping.get(value) ?? this.defaults);
      // A channel that is required for a value is not also written a second time as optional.
      this.optionals.set(value, resolveChannels(splitNames(names), channels, `optional.${value}`).filter((c) => !required.has(c)));
    }
  }

  required(e: Event): readonly Channel[] {
    const v = e.headers[this.header];
    return (v !== undefined ? this.mapping.get(v) : undefined) ?? this.defaults;
  }
  optional(e: Event): readonly Channel[] {
    const v = e.headers[this.header];
    return (v !== undefined ? this.optionals.get(v) : undefined) ?? NONE;
  }
  all(): readonly Channel[] {
    return this.channels;
  }
}

defineSelector({
  type: 'multiplexing',
  aliases: ['org.apache.flume.channel.MultiplexingChannelSelector'],
  description: 'Routes each event to channels chosen by the value of one header.',
  schema,
  maps: ['mapping', 'optional'],
  create: (cfg, ctx: SelectorContext) => new MultiplexingSelector(cfg, ctx.channels),
});
