import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { errorMessage } from '../../../core/errors.js';
import { SequenceStamper, type Event } from '../../../core/event.js';
import type { SourceContext } from '../../contracts.js';
import { deliver } from '../delivery.js';

/** What one chunk of a connection turned into: events to commit, then bytes to send back. */
export interface ChunkResult {
  events: Event[];
  reply?: string;
  /** Async work on the events before they are committed (e.g. a reverse DNS lookup). */
  before?: () => Promise<void>;
}

/**
 * A fresh per-connection parser; it keeps the connection's partial frame between chunks and is
 * called with `null` when the client ends the connection, to hand over what is left.
 */
export type ConnectionParser = (socket: Socket) => (chunk: Buffer | null) => ChunkResult;

/** Origin for events minted by a network source: one per start, so sequences never collide. */
export function networkOrigin(ctx: SourceContext): string {
  return `${ctx.agentId}/${ctx.name}/${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/**
 * A TCP server that turns each received chunk into one batch. The connection is paused while its
 * batch is being committed (a full channel pushes back on the client through TCP), and the reply
 * for a chunk is written only after its commit, so an "OK" always means committed.
 */
export class TcpEventServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly pending = new Set<Promise<void>>();
  private stopping = false;
  private stamper?: SequenceStamper;

  constructor(
    private readonly ctx: SourceContext,
    private readonly host: string,
    private readonly port: number,
    private readonly parser: ConnectionParser,
  ) {}

  get boundPort(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.stamper = new SequenceStamper(networkOrigin(this.ctx));
    const server = createServer((s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.ctx.log.error({ source: this.ctx.name, err: errorMessage(err) }, 'The TCP listener failed.'));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    for (const s of this.sockets) s.destroy();
    await Promise.allSettled([...this.pending]);
    await closed;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    this.ctx.counters.inc('OpenConnectionCount', 1);
    const parse = this.parser(socket);
    let chain = Promise.resolve();
    const handle = (chunk: Buffer | null) => {
      let result: ChunkResult;
      try {
        result = parse(chunk);
      } catch (err) {
        this.ctx.counters.inc('EventReadFail', 1);
        this.ctx.log.warn({ source: this.ctx.name, err: errorMessage(err), remote: socket.remoteAddress }, 'Closed a connection that sent unreadable data.');
        socket.destroy();
        return;
      }
      if (result.events.length === 0) {
        if (result.reply) chain = chain.then(() => void (socket.writable && socket.write(result.reply!)));
        return;
      }
      socket.pause();
      const p = chain.then(() => this.commit(socket, result));
      chain = p;
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    };
    socket.on('data', handle);
    socket.on('end', () => handle(null));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.ctx.counters.inc('OpenConnectionCount', -1);
    });
  }

  private async commit(socket: Socket, r: ChunkResult): Promise<void> {
    try {
      if (r.before) await r.before();
      this.stamper!.stamp(r.events);
      // Keep retrying after the client left: it sent the data and may not be able to resend it.
      if (!(await deliver(this.ctx, r.events, undefined, () => this.stopping))) {
        socket.destroy();
        return;
      }
    } catch (err) {
      this.ctx.log.error({ source: this.ctx.name, err: errorMessage(err) }, 'Could not commit a batch from a connection; the connection is closed so the client resends.');
      socket.destroy();
      return;
    }
    if (r.reply && socket.writable) socket.write(r.reply);
    if (!socket.destroyed) socket.resume();
  }
}
