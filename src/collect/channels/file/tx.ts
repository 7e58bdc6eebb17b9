import { ChannelFullError, ErrorCodes, MonsoonError } from '../../../core/errors.js';
import type { Event } from '../../../core/event.js';
import type { ChannelTx } from '../../contracts.js';
import type { FileChannel } from '../file.js';
import type { Pointer } from './records.js';

/** A file channel transaction: puts are staged in memory, takes hold pointers until commit or rollback. */
export class FileTx implements ChannelTx {
  private puts: Event[] = [];
  /** @internal Pointers taken and not yet committed, in the order taken. */
  takes: Pointer[] = [];
  private state: 'open' | 'committing' | 'done' = 'open';

  constructor(private readonly ch: FileChannel) {}

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
    if (room <= 0) {
      throw new ChannelFullError(`take list of a transaction on channel ${this.ch.name} is full (transactionCapacity ${this.ch.transactionCapacity})`);
    }
    const n = Math.min(max, room);
    this.ch.count('EventTakeAttemptCount', n);
    const ptrs = this.ch.takePointers(this, n);
    for (const p of ptrs) this.takes.push(p);
    return ptrs.length === 0 ? [] : this.ch.readEvents(ptrs);
  }

  async commit(markers?: Readonly<Record<string, string>>): Promise<void> {
    this.open();
    const puts = this.puts;
    if (puts.length === 0 && this.takes.length === 0 && (!markers || Object.keys(markers).length === 0)) {
      this.state = 'done';
      return;
    }
    this.state = 'committing';
    let reserved = 0;
    try {
      this.ch.ensureRunning();
      if (puts.length > 0) {
        await this.ch.checkSpace();
        await this.ch.reserve(puts.length);
        reserved = puts.length;
      }
      await this.ch.append(this, puts, this.takes, markers ?? {});
    } catch (e) {
      if (reserved > 0) this.ch.unreserve(reserved);
      this.state = 'open';
      await this.rollback();
      throw e instanceof MonsoonError ? e : new MonsoonError(ErrorCodes.IO, `channel ${this.ch.name}: commit failed: ${(e as Error).message}`, { retriable: true, cause: e });
    }
    this.state = 'done';
    this.puts = [];
    this.takes = [];
  }

  async rollback(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'done';
    this.ch.returnPointers(this, this.takes);
    this.takes = [];
    this.puts = [];
  }
}
