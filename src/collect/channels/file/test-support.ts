import { rm } from 'node:fs/promises';
import type { Event } from '../../../core/event.js';
import { makeEvent } from '../../../core/event.js';
import { channelContext } from '../../testkit.js';
import type { Channel, ChannelContext } from '../../contracts.js';
import { FileChannel, type FileChannelConfig, type FileChannelOptions } from '../file.js';

/** Test support for the file channel: a channel on a fresh temp dir that can be reopened. */
export function fileConfig(over: Partial<FileChannelConfig> = {}): FileChannelConfig {
  return {
    useDualCheckpoints: false,
    capacity: 10_000,
    transactionCapacity: 1000,
    checkpointInterval: 60_000,
    maxFileSize: 2_146_435_071,
    minimumRequiredSpace: 0,
    'keep-alive': 0,
    checkpointOnClose: true,
    directIo: true,
    recentBytes: 128 * 1024 * 1024,
    checkpointDir: undefined,
    dataDirs: undefined,
    backupCheckpointDir: undefined,
    ...over,
  };
}

export class FileHarness {
  readonly ctx: ChannelContext = channelContext('c1');
  channel: FileChannel;
  constructor(
    readonly cfg: FileChannelConfig = fileConfig(),
    readonly opts: FileChannelOptions = {},
  ) {
    this.channel = new FileChannel('c1', cfg, this.ctx, opts);
  }
  /** A new instance on the same storage, started. The old one must be stopped or halted. */
  async reopen(): Promise<FileChannel> {
    this.channel = new FileChannel('c1', this.cfg, this.ctx, this.opts);
    await this.channel.start();
    return this.channel;
  }
  corrupt(): number {
    return this.ctx.counters.get('CorruptRecordCount');
  }
  async cleanup(): Promise<void> {
    await this.channel.stop().catch(() => {});
    await rm(this.ctx.dataDir, { recursive: true, force: true });
  }
}

export const numbered = (from: number, n: number): Event[] => Array.from({ length: n }, (_, i) => makeEvent(`event-${from + i}`, { n: String(from + i) }));

export async function putCommit(ch: Channel, events: Event[], markers?: Record<string, string>): Promise<void> {
  const tx = ch.transaction();
  tx.put(events);
  await tx.commit(markers);
}

/** Takes and commits everything, returning the `n` headers in order. */
export async function drain(ch: Channel, batch = 100): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const tx = ch.transaction();
    const got = await tx.take(batch);
    await tx.commit();
    if (got.length === 0) return out;
    for (const e of got) out.push(Number(e.headers.n));
  }
}
