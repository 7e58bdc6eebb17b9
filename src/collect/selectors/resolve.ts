import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Channel } from '../contracts.js';

/** Resolves channel names given under selector.<key> against the source's channels. */
export function resolveChannels(names: readonly string[], channels: readonly Channel[], key: string): Channel[] {
  return names.map((n) => {
    const c = channels.find((ch) => ch.name === n);
    if (!c) {
      throw new MonsoonError(
        ErrorCodes.CONFIG_INVALID,
        `selector.${key}: unknown channel "${n}"; the source's channels are ${channels.map((ch) => ch.name).join(', ') || '(none)'}`,
      );
    }
    return c;
  });
}

export const splitNames = (s: string): string[] => s.split(/[\s,]+/).filter(Boolean);
