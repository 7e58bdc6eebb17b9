import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineSource, type Source, type SourceContext } from '../contracts.js';
import { plainAddress } from './net/client-host.js';
import { TcpEventServer, type ChunkResult } from './net/tcp-server.js';
import { UdpEventServer } from './net/udp-server.js';

/**
 * Netcat source (Flume's NetcatSource): every '\n'-terminated line received on a TCP connection is
 * one event (the body keeps everything before the '\n', as Flume does, including a '\r'). The lines
 * of one received chunk are committed as one batch and only then acknowledged with "OK" each. A
 * line longer than max-line-length bytes (newline included) is refused with Flume's FAILED reply.
 */
const schema = z.object({
  bind: prop.requiredString(),
  port: prop.requiredInt(0, 65535),
  'max-line-length': prop.int(512, 1, 64 * 1024 * 1024),
  'ack-every-event': prop.bool(true),
});
export type NetcatConfig = z.infer<typeof schema>;

export class NetcatSource implements Source {
  private readonly server: TcpEventServer;

  constructor(cfg: NetcatConfig, ctx: SourceContext) {
    const max = cfg['max-line-length'];
    const ack = cfg['ack-every-event'];
    const failed = `FAILED: Event exceeds the maximum length (${max} chars, including newline)\n`;
    this.server = new TcpEventServer(ctx, cfg.bind, cfg.port, () => {
      let partial: Buffer[] = [];
      let partialLen = 0;
      let overlong = false;
      return (chunk: Buffer | null): ChunkResult => {
        // Like Flume, a last line without its newline is not an event.
        if (chunk === null) return { events: [] };
        const events: Event[] = [];
        let reply = '';
        let start = 0;
        for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
          const tail = chunk.subarray(start, nl);
          if (overlong || partialLen + tail.length + 1 > max) {
            ctx.counters.inc('EventReadFail', 1);
            reply += failed;
          } else {
            events.push({ headers: {}, body: partialLen > 0 ? Buffer.concat([...partial, tail]) : Buffer.from(tail) });
            if (ack) reply += 'OK\n';
          }
          partial = [];
          partialLen = 0;
          overlong = false;
          start = nl + 1;
        }
        if (start < chunk.length && !overlong) {
          partialLen += chunk.length - start;
          if (partialLen + 1 > max) {
            overlong = true;
            partial = [];
            partialLen = 0;
          } else partial.push(Buffer.from(chunk.subarray(start)));
        }
        return reply ? { events, reply } : { events };
      };
    });
  }

  get port(): number {
    return this.server.boundPort;
  }

  start(): Promise<void> {
    return this.server.start();
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

export const netcatSpec = defineSource({
  type: 'netcat',
  aliases: ['org.apache.flume.source.NetcatSource'],
  description: 'Listens on a TCP port; each line is an event, acknowledged with OK after it is committed.',
  schema,
  create: (cfg, ctx) => new NetcatSource(cfg, ctx),
});

/**
 * Netcat UDP source (Flume's NetcatUdpSource): each datagram is one event, without its trailing
 * newline; remoteAddressHeader names a header that receives the sender's address.
 */
const udpSchema = z.object({
  bind: prop.requiredString(),
  port: prop.requiredInt(0, 65535),
  remoteAddressHeader: prop.optionalString(),
});
export type NetcatUdpConfig = z.infer<typeof udpSchema>;

export class NetcatUdpSource implements Source {
  private readonly server: UdpEventServer;

  constructor(cfg: NetcatUdpConfig, ctx: SourceContext) {
    this.server = new UdpEventServer(ctx, cfg.bind, cfg.port, (msg, from) => {
      const end = msg.length > 0 && msg[msg.length - 1] === 0x0a ? msg.length - 1 : msg.length;
      const e: Event = { headers: {}, body: Buffer.from(msg.subarray(0, end)) };
      if (cfg.remoteAddressHeader) e.headers[cfg.remoteAddressHeader] = plainAddress(from.address);
      return e;
    });
  }

  get port(): number {
    return this.server.boundPort;
  }

  backlog(): number {
    return this.server.backlog();
  }

  start(): Promise<void> {
    return this.server.start();
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

export const netcatUdpSpec = defineSource({
  type: 'netcatudp',
  aliases: ['org.apache.flume.source.NetcatUdpSource'],
  description: 'Listens on a UDP port; each datagram is an event.',
  schema: udpSchema,
  create: (cfg, ctx) => new NetcatUdpSource(cfg, ctx),
});
