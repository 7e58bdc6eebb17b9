import type { Event } from '../../../core/event.js';
import type { ChannelTx } from '../../contracts.js';
import type { FileChannel } from '../file.js';
import type { Pointer } from './records.js';
import { StagedTx } from '../staged-tx.js';

/** A file channel transaction: puts are staged in memory, takes hold pointers until commit or rollback. */
export class FileTx extends StagedTx implements ChannelTx {
  /** @internal Pointers taken and not yet committed, in the order taken. */
  takes: Pointer[] = [];

  constructor(protected override readonly ch: FileChannel) {
    super(ch);
  }

  async take(max: number): Promise<Event[]> {
    const n = this.room(this.takes.length, max);
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
      throw await this.failed(e);
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
