import { ChannelFullError, ErrorCodes, MonsoonError } from '../../../core/errors.js';
import type { Event } from '../../../core/event.js';
import type { ChannelTx } from '../../contracts.js';
import type { BusChannel } from '../bus.js';

/** A record handed to a take: its partition, offset and event. */
export interface Taken {
  p: number;
  o: number;
  e: Event;
}

/** A bus channel transaction: puts are staged in memory and produced at commit; takes hold records until commit or rollback. */
export class BusTx implements ChannelTx {
  private puts: Event[] = [];
  private takes: Taken[] = [];
  private state: 'open' | 'committing' | 'done' = 'open';

  constructor(private readonly ch: BusChannel) {}

  private open(): void {
    if (this.state !== 'open') throw new MonsoonError(ErrorCodes.CHANNEL_TX, `transaction on channel ${this.ch.name} is already closed`);
  }

  put(events: readonly Event[]): void {
    this.open();
    this.ch.ensureRunning();
    this.ch.count('EventPutAttemptCount', events.length);
    if (this.puts.length + events.length > this.ch.transactionCapacity) {
      throw new ChannelFullError(
        `put of ${events.length} event(s) exceeds transactionCapacity ${this.ch.transactionCapacity} of channel ${this.ch.name}; lower the batch size or raise transactionCapacity`,
      );
    }
    for (const e of events) this.puts.push(e);
  }

  async take(max: number): Promise<Event[]> {
    this.open();
    this.ch.ensureRunning();
    const room = this.ch.transactionCapacity - this.takes.length;
    if (room <= 0) throw new ChannelFullError(`take list of a transaction on channel ${this.ch.name} is full (transactionCapacity ${this.ch.transactionCapacity})`);
    const n = Math.min(max, room);
    this.ch.count('EventTakeAttemptCount', n);
    const got = await this.ch.takeEntries(n);
    const out: Event[] = new Array<Event>(got.length);
    for (let i = 0; i < got.length; i++) {
      this.takes.push(got[i]!);
      out[i] = got[i]!.e;
    }
    return out;
  }

  async commit(markers?: Readonly<Record<string, string>>): Promise<void> {
    this.open();
    const { puts, takes } = this;
    const hasMarkers = markers !== undefined && Object.keys(markers).length > 0;
    if (puts.length === 0 && takes.length === 0 && !hasMarkers) {
      this.state = 'done';
      return;
    }
    this.state = 'committing';
    try {
      this.ch.ensureRunning();
      await this.ch.track(this.apply(puts, takes, markers));
    } catch (e) {
      this.state = 'open';
      await this.rollback();
      throw e instanceof MonsoonError ? e : new MonsoonError(ErrorCodes.IO, `channel ${this.ch.name}: commit failed: ${(e as Error).message}`, { retriable: true, cause: e });
    }
    this.state = 'done';
    this.puts = [];
    this.takes = [];
  }

  private async apply(puts: Event[], takes: Taken[], markers: Readonly<Record<string, string>> | undefined): Promise<void> {
    if (puts.length > 0) {
      await this.ch.commitPuts(puts, markers);
      markers = undefined;
    }
    if (takes.length > 0) await this.ch.commitTakes(takes, markers);
    else if (markers !== undefined && puts.length === 0) await this.ch.commitMarkers(markers);
  }

  async rollback(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'done';
    this.ch.returnEntries(this.takes);
    this.takes = [];
    this.puts = [];
  }
}
