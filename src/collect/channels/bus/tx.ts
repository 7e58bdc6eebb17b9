import type { Event } from '../../../core/event.js';
import type { ChannelTx } from '../../contracts.js';
import type { BusChannel } from '../bus.js';
import { StagedTx } from '../staged-tx.js';

/** A record handed to a take: its partition, offset and event. */
export interface Taken {
  p: number;
  o: number;
  e: Event;
}

/** A bus channel transaction: puts are staged in memory and produced at commit; takes hold records until commit or rollback. */
export class BusTx extends StagedTx implements ChannelTx {
  private takes: Taken[] = [];

  constructor(protected override readonly ch: BusChannel) {
    super(ch);
  }

  async take(max: number): Promise<Event[]> {
    const n = this.room(this.takes.length, max);
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
      throw await this.failed(e);
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
