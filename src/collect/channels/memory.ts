import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { ChannelFullError, ErrorCodes, MonsoonError } from '../../core/errors.js';
import { batchBytes, type Event } from '../../core/event.js';
import { defineChannel, type Channel, type ChannelContext, type ChannelTx } from '../contracts.js';
import { Deque } from './deque.js';
import { Signal } from './signal.js';

/**
 * Memory channel: fast, bounded in events and bytes, not durable (events are lost if the process dies).
 * Property names and defaults are Flume's MemoryChannel's; byteCapacity defaults to 128 MiB because a
 * Node process has no JVM heap size to take 80% of.
 */
export const memoryChannelSchema = z.object({
  capacity: prop.int(100, 1),
  transactionCapacity: prop.int(100, 1),
  byteCapacity: prop.int(128 * 1024 * 1024, 1),
  byteCapacityBufferPercentage: prop.int(20, 0, 99),
  'keep-alive': prop.int(3, 0),
});
export type MemoryChannelConfig = z.infer<typeof memoryChannelSchema>;

/** The bytes a memory channel of `cfg` holds at most: byteCapacity less its buffer percentage. */
export function memoryByteLimit(cfg: Pick<MemoryChannelConfig, 'byteCapacity' | 'byteCapacityBufferPercentage'>): number {
  return Math.floor((cfg.byteCapacity * (100 - cfg.byteCapacityBufferPercentage)) / 100);
}

export class MemoryChannel implements Channel {
  readonly durable = false;
  readonly capacity: number;
  readonly transactionCapacity: number;
  private readonly byteLimit: number;
  private readonly keepAliveMs: number;
  private readonly queue = new Deque<Event>();
  private queueBytes = 0;
  private inflightTakes = 0;
  private inflightBytes = 0;
  private readonly markers = new Map<string, string>();
  private readonly dataSignal = new Signal();
  private readonly spaceSignal = new Signal();
  private readonly counters;

  constructor(
    readonly name: string,
    cfg: MemoryChannelConfig,
    ctx?: ChannelContext,
  ) {
    this.capacity = cfg.capacity;
    this.transactionCapacity = cfg.transactionCapacity;
    this.byteLimit = memoryByteLimit(cfg);
    this.keepAliveMs = cfg['keep-alive'] * 1000;
    this.counters = ctx?.counters;
    this.counters?.gauge('ChannelSize', () => this.size());
    this.counters?.gauge('ChannelCapacity', () => this.capacity);
    this.counters?.gauge('ChannelFillPercentage', () => (this.size() * 100) / this.capacity);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.dataSignal.notify();
    this.spaceSignal.notify();
  }

  /** Bytes of the events size() counts. */
  heldBytes(): number {
    return this.queueBytes + this.inflightBytes;
  }

  size(): number {
    return this.queue.length + this.inflightTakes;
  }

  marker(key: string): string | undefined {
    return this.markers.get(key);
  }

  waitForData(ms: number): Promise<void> {
    return this.queue.length > 0 ? Promise.resolve() : this.dataSignal.wait(ms);
  }

  waitForSpace(ms: number): Promise<void> {
    return this.size() < this.capacity ? Promise.resolve() : this.spaceSignal.wait(ms);
  }

  transaction(): ChannelTx {
    return new MemoryTx(this);
  }

  /** @internal */ hasRoom(n: number, bytes: number): boolean {
    return this.size() + n <= this.capacity && this.queueBytes + this.inflightBytes + bytes <= this.byteLimit;
  }

  /** @internal */ async commitPuts(puts: Event[], bytes: number): Promise<void> {
    if (puts.length === 0) return;
    if (bytes > this.byteLimit) {
      // Waiting cannot help: the batch alone exceeds what the channel may ever hold.
      throw new MonsoonError(ErrorCodes.CHANNEL_FULL, `a batch of ${bytes} bytes can never fit channel ${this.name} (byteCapacity less its buffer: ${this.byteLimit} bytes); lower the batch size or raise byteCapacity`, { retriable: false });
    }
    const deadline = Date.now() + this.keepAliveMs;
    while (!this.hasRoom(puts.length, bytes)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new ChannelFullError(
          `channel ${this.name} is full: cannot commit ${puts.length} event(s) (${this.size()}/${this.capacity} events, byteCapacity ${this.byteLimit}); the sinks are not keeping up`,
        );
      }
      await this.spaceSignal.wait(left);
    }
    this.queue.pushAll(puts);
    this.queueBytes += bytes;
    this.counters?.inc('EventPutSuccessCount', puts.length);
    this.dataSignal.notify();
  }

  /** @internal */ takeFromQueue(max: number): { events: Event[]; bytes: number } {
    const events = this.queue.shiftMany(max);
    const bytes = batchBytes(events);
    this.queueBytes -= bytes;
    this.inflightTakes += events.length;
    this.inflightBytes += bytes;
    return { events, bytes };
  }

  /** @internal */ finishTakes(events: Event[], bytes: number, committed: boolean): void {
    this.inflightTakes -= events.length;
    this.inflightBytes -= bytes;
    if (committed) {
      this.counters?.inc('EventTakeSuccessCount', events.length);
      this.spaceSignal.notify();
    } else {
      this.queue.unshiftAll(events);
      this.queueBytes += bytes;
      this.dataSignal.notify();
    }
  }

  /** @internal */ setMarkers(markers: Readonly<Record<string, string>> | undefined): void {
    if (markers) for (const [k, v] of Object.entries(markers)) this.markers.set(k, v);
  }

  /** @internal */ count(name: string, n: number): void {
    this.counters?.inc(name, n);
  }
}

class MemoryTx implements ChannelTx {
  private puts: Event[] = [];
  private putBytes = 0;
  private takes: Event[] = [];
  private takeBytes = 0;
  private state: 'open' | 'done' = 'open';

  constructor(private readonly ch: MemoryChannel) {}

  private open(): void {
    if (this.state !== 'open') throw new MonsoonError(ErrorCodes.CHANNEL_TX, `transaction on channel ${this.ch.name} is already closed`);
  }

  put(events: readonly Event[]): void {
    this.open();
    this.ch.count('EventPutAttemptCount', events.length);
    if (this.puts.length + events.length > this.ch.transactionCapacity) {
      throw new ChannelFullError(
        `put of ${events.length} event(s) exceeds transactionCapacity ${this.ch.transactionCapacity} of channel ${this.ch.name}; lower the batch size or raise transactionCapacity`,
      );
    }
    for (const e of events) this.puts.push(e);
    this.putBytes += batchBytes(events);
  }

  async take(max: number): Promise<Event[]> {
    this.open();
    const room = this.ch.transactionCapacity - this.takes.length;
    if (room <= 0) {
      throw new ChannelFullError(`take list of a transaction on channel ${this.ch.name} is full (transactionCapacity ${this.ch.transactionCapacity})`);
    }
    const n = Math.min(max, room);
    this.ch.count('EventTakeAttemptCount', n);
    const { events, bytes } = this.ch.takeFromQueue(n);
    for (const e of events) this.takes.push(e);
    this.takeBytes += bytes;
    return events;
  }

  async commit(markers?: Readonly<Record<string, string>>): Promise<void> {
    this.open();
    try {
      await this.ch.commitPuts(this.puts, this.putBytes);
    } catch (e) {
      await this.rollback();
      throw e;
    }
    this.state = 'done';
    this.ch.finishTakes(this.takes, this.takeBytes, true);
    this.ch.setMarkers(markers);
  }

  async rollback(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'done';
    this.ch.finishTakes(this.takes, this.takeBytes, false);
    this.puts = [];
  }
}

defineChannel({
  type: 'memory',
  aliases: ['org.apache.flume.channel.MemoryChannel'],
  description: 'In-memory channel bounded in events and bytes; fast, not durable.',
  schema: memoryChannelSchema,
  check: (c) => (c.transactionCapacity > c.capacity ? [['transactionCapacity', `(${c.transactionCapacity}) must not exceed capacity (${c.capacity})`]] : []),
  create: (cfg, ctx) => new MemoryChannel(ctx.name, cfg, ctx),
});
