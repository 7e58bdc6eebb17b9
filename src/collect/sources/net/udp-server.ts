import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { errorMessage } from '../../../core/errors.js';
import { SequenceStamper, type Event } from '../../../core/event.js';
import type { SourceContext } from '../../contracts.js';
import { deliver } from '../delivery.js';
import { networkOrigin } from './tcp-server.js';

/** Turns one datagram into an event (with its remote address), or undefined to drop it. */
export type DatagramParser = (msg: Buffer, from: RemoteInfo) => Event | undefined;

const MAX_BATCH = 1000;
/** Datagrams waiting for a commit; UDP cannot push back, so beyond this they are dropped and counted. */
const MAX_PENDING = 20_000;

/**
 * A UDP listener that gathers datagrams into batches: whatever arrived while the previous batch was
 * being committed forms the next one. While the channel is full the pending queue grows up to a
 * bound; datagrams beyond it are dropped, counted and logged, as a UDP receiver has no other choice.
 */
export class UdpEventServer {
  private socket?: Socket;
  private pending: Event[] = [];
  private flushing?: Promise<void>;
  private stopping = false;
  private stamper?: SequenceStamper;
  private dropped = 0;

  constructor(
    private readonly ctx: SourceContext,
    private readonly host: string,
    private readonly port: number,
    private readonly parse: DatagramParser,
    /** Async work on a batch before it is committed (e.g. reverse DNS lookups). */
    private readonly before?: (batch: Event[]) => Promise<void>,
  ) {}

  get boundPort(): number {
    return this.socket?.address().port ?? 0;
  }

  backlog(): number {
    return this.pending.length;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.stamper = new SequenceStamper(networkOrigin(this.ctx));
    const socket = createSocket(isIP(this.host) === 6 ? 'udp6' : 'udp4');
    this.socket = socket;
    socket.on('message', (msg, from) => this.receive(msg, from));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.ctx.log.error({ source: this.ctx.name, err: errorMessage(err) }, 'The UDP listener failed.'));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await new Promise<void>((r) => (this.socket ? this.socket.close(() => r()) : r()));
    await this.flushing;
  }

  private receive(msg: Buffer, from: RemoteInfo): void {
    if (this.pending.length >= MAX_PENDING) {
      this.ctx.counters.inc('EventReadFail', 1);
      if (this.dropped++ % 1000 === 0) {
        this.ctx.log.error({ source: this.ctx.name, dropped: this.dropped }, 'Dropped UDP datagrams because the channel has been full for too long.');
      }
      return;
    }
    const e = this.parse(msg, from);
    if (e) this.pending.push(e);
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0 && !this.stopping) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        if (this.before) await this.before(batch);
        this.stamper!.stamp(batch);
        if (!(await deliver(this.ctx, batch, undefined, () => this.stopping))) return;
      } catch (err) {
        this.ctx.counters.inc('EventReadFail', batch.length);
        this.ctx.log.error({ source: this.ctx.name, err: errorMessage(err), events: batch.length }, 'Dropped UDP events the channel refused.');
      }
    }
  }
}
