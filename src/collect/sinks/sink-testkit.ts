import type { Event } from '../../core/event.js';
import type { Channel, ChannelTx } from '../contracts.js';

/** Test helpers for sinks: fill a channel, and wrap one so its next commits fail. */
export async function putAll(ch: Channel, events: Event[]): Promise<void> {
  const tx = ch.transaction();
  tx.put(events);
  await tx.commit();
}

/** A channel whose next `failCommits` take commits throw (the take is rolled back, as a real failure would). */
export function failingCommits(ch: Channel, failCommits: { n: number }): Channel {
  return new Proxy(ch, {
    get(target, prop, receiver) {
      if (prop !== 'transaction') return Reflect.get(target, prop, receiver) as unknown;
      return (): ChannelTx => {
        const tx = target.transaction();
        return {
          put: (es) => tx.put(es),
          take: (n) => tx.take(n),
          rollback: () => tx.rollback(),
          commit: async (markers) => {
            if (failCommits.n > 0) {
              failCommits.n--;
              throw new Error('injected commit failure');
            }
            await tx.commit(markers);
          },
        };
      };
    },
  });
}
