import { ChannelFullError, ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Event } from '../../core/event.js';

/** What a durable channel's transactions need of their channel. */
export interface TxChannel {
  readonly name: string;
  readonly transactionCapacity: number;
  ensureRunning(): void;
  count(counter: string, n: number): void;
}

/**
 * The part of a channel transaction every durable channel shares: the open/committing/done states
 * and puts staged in memory up to transactionCapacity until commit.
 */
export abstract class StagedTx {
  protected puts: Event[] = [];
  protected state: 'open' | 'committing' | 'done' = 'open';

  constructor(protected readonly ch: TxChannel) {}

  protected open(): void {
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

  /** How many events a take of up to `max` may take, `taken` being already held: counts the attempt, throws when none fit. */
  protected room(taken: number, max: number): number {
    this.open();
    this.ch.ensureRunning();
    const room = this.ch.transactionCapacity - taken;
    if (room <= 0) throw new ChannelFullError(`take list of a transaction on channel ${this.ch.name} is full (transactionCapacity ${this.ch.transactionCapacity})`);
    const n = Math.min(max, room);
    this.ch.count('EventTakeAttemptCount', n);
    return n;
  }

  /** After a failed commit: rolls back, then gives the error to throw (coded; an uncoded one is a retriable IO error). */
  protected async failed(e: unknown): Promise<MonsoonError> {
    this.state = 'open';
    await this.rollback();
    return e instanceof MonsoonError ? e : new MonsoonError(ErrorCodes.IO, `channel ${this.ch.name}: commit failed: ${(e as Error).message}`, { retriable: true, cause: e });
  }

  abstract rollback(): Promise<void>;
}
