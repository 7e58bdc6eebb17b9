import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Thrift, type TProtocol } from './lib.js';
import type { Event } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import { encodeException, encodeReply, frameReader, readCall, Status, type Method, type StatusCode, type WireProtocol } from './codec.js';

/** Answers one decoded call; never throws (failures become Status.FAILED). */
export type CallHandler = (method: Method, events: Event[]) => Promise<StatusCode>;

export interface ThriftServerOptions {
  protocol: WireProtocol;
  maxFrameBytes: number;
  log: Logger;
}

/**
 * A ThriftSourceProtocol server over framed transport. Calls on one connection are answered in order,
 * one at a time (the socket is paused while a call is being handled, so input stays bounded);
 * connections are served concurrently.
 */
export class ThriftServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly opts: ThriftServerOptions,
    private readonly handler: CallHandler,
  ) {
    this.server = createServer((s) => this.serve(s));
  }

  get connections(): number {
    return this.sockets.size;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const queue: TProtocol[] = [];
    let busy = false;
    const { protocol, log } = this.opts;

    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      socket.pause();
      while (queue.length > 0 && !socket.destroyed) {
        const inp = queue.shift()!;
        let reply: Buffer;
        try {
          const call = readCall(inp);
          if ('unknown' in call) {
            reply = encodeException(protocol, call.method, call.seqid, Thrift.TApplicationExceptionType.UNKNOWN_METHOD, `unknown method ${call.method}`);
          } else {
            const status = await this.handler(call.method, call.events).catch(() => Status.FAILED);
            reply = encodeReply(protocol, call.method, call.seqid, status);
          }
        } catch (err) {
          log.warn({ remote: socket.remoteAddress, err: String(err) }, 'Closing a thrift connection that sent an undecodable call (check that both peers use the same protocol: compact or binary).');
          socket.destroy();
          return;
        }
        if (!socket.destroyed) socket.write(reply);
      }
      busy = false;
      if (!socket.destroyed) socket.resume();
    };

    const read = frameReader(protocol, this.opts.maxFrameBytes, (inp) => {
      queue.push(inp);
      void pump();
    });
    socket.on('data', (data: Buffer) => {
      try {
        read(data);
      } catch (err) {
        log.warn({ remote: socket.remoteAddress, err: String(err) }, 'Closing a thrift connection that sent an invalid frame.');
        socket.destroy();
      }
    });
    socket.on('error', (err) => log.debug({ remote: socket.remoteAddress, err: String(err) }, 'thrift connection error'));
    socket.on('close', () => this.sockets.delete(socket));
  }
}
