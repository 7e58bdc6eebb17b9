import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineSource, type Source, type SourceContext } from '../contracts.js';
import { hostnameOf, plainAddress } from './net/client-host.js';
import { TcpEventServer } from './net/tcp-server.js';
import { UdpEventServer } from './net/udp-server.js';
import { SyslogFramer } from './syslog/framer.js';
import { STATUS_HEADER, parseKeepFields, parseSyslog, type KeepField } from './syslog/parse.js';

/**
 * Syslog sources (Flume's SyslogTcpSource, SyslogUDPSource and MultiportSyslogTCPSource). Messages
 * in RFC 3164 or RFC 5424 become events with Flume's headers (see syslog/parse.ts); unparsable
 * messages are still delivered, flagged flume.syslog.status = Invalid. TCP accepts newline framing
 * and RFC 6587 octet counting on the same connection; each received chunk is committed as a batch.
 */
const common = {
  keepFields: prop.string('none'),
  clientIPHeader: prop.optionalString(),
  clientHostnameHeader: prop.optionalString(),
};
const tcpSchema = z.object({ host: prop.requiredString(), port: prop.requiredInt(0, 65535), eventSize: prop.int(2500, 1, 64 * 1024 * 1024), ...common });
const udpSchema = z.object({ host: prop.requiredString(), port: prop.requiredInt(0, 65535), ...common });
const multiSchema = z.object({
  host: prop.requiredString(),
  ports: prop.list(),
  eventSize: prop.int(2500, 1, 64 * 1024 * 1024),
  portHeader: prop.optionalString(),
  ...common,
});
export type SyslogTcpConfig = z.infer<typeof tcpSchema>;
export type SyslogUdpConfig = z.infer<typeof udpSchema>;
export type MultiportSyslogConfig = z.infer<typeof multiSchema>;
type Common = { keepFields: string; clientIPHeader?: string | undefined; clientHostnameHeader?: string | undefined };

function keepOf(cfg: Common): Set<KeepField> {
  const k = parseKeepFields(cfg.keepFields);
  return 'keep' in k ? k.keep : new Set();
}

const checkKeep = (c: Common): Array<[string, string]> => {
  const k = parseKeepFields(c.keepFields);
  return 'error' in k ? [['keepFields', k.error]] : [];
};

function tcpServer(ctx: SourceContext, cfg: Common & { eventSize: number }, host: string, port: number, extra: Record<string, string> = {}): TcpEventServer {
  const keep = keepOf(cfg);
  return new TcpEventServer(ctx, host, port, (socket) => {
    const ip = plainAddress(socket.remoteAddress);
    const hostname = cfg.clientHostnameHeader ? hostnameOf(ip) : undefined;
    let out: Event[] = [];
    const framer = new SyslogFramer(cfg.eventSize, (frame, piece) => {
      const e = parseSyslog(frame, keep);
      if (piece === 'first' && e.headers[STATUS_HEADER] === undefined) e.headers[STATUS_HEADER] = 'Incomplete';
      if (cfg.clientIPHeader) e.headers[cfg.clientIPHeader] = ip;
      Object.assign(e.headers, extra);
      out.push(e);
    });
    return (chunk) => {
      out = [];
      if (chunk === null) framer.end();
      else framer.push(chunk);
      const events = out;
      if (!hostname || events.length === 0) return { events };
      return {
        events,
        before: async () => {
          const h = await hostname;
          for (const e of events) e.headers[cfg.clientHostnameHeader!] = h;
        },
      };
    };
  });
}

export class SyslogTcpSource implements Source {
  private readonly server: TcpEventServer;
  constructor(cfg: SyslogTcpConfig, ctx: SourceContext) {
    this.server = tcpServer(ctx, cfg, cfg.host, cfg.port);
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

export class MultiportSyslogTcpSource implements Source {
  private readonly servers: TcpEventServer[];
  constructor(cfg: MultiportSyslogConfig, ctx: SourceContext) {
    this.servers = cfg.ports.map((p) => tcpServer(ctx, cfg, cfg.host, Number(p), cfg.portHeader ? { [cfg.portHeader]: p } : {}));
  }
  get ports(): number[] {
    return this.servers.map((s) => s.boundPort);
  }
  async start(): Promise<void> {
    try {
      for (const s of this.servers) await s.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

export class SyslogUdpSource implements Source {
  private readonly server: UdpEventServer;
  constructor(cfg: SyslogUdpConfig, ctx: SourceContext) {
    const keep = keepOf(cfg);
    const senders = new WeakMap<Event, string>();
    const resolveHosts = async (batch: Event[]) => {
      const key = cfg.clientHostnameHeader!;
      const ips = [...new Set(batch.map((e) => senders.get(e) ?? ''))];
      const names = new Map(await Promise.all(ips.map(async (ip) => [ip, await hostnameOf(ip)] as const)));
      for (const e of batch) e.headers[key] = names.get(senders.get(e) ?? '') ?? '';
    };
    this.server = new UdpEventServer(ctx, cfg.host, cfg.port, (msg, from) => {
      let end = msg.length;
      while (end > 0 && (msg[end - 1] === 0x0a || msg[end - 1] === 0x0d)) end--;
      const e = parseSyslog(msg.subarray(0, end), keep);
      if (cfg.clientIPHeader) e.headers[cfg.clientIPHeader] = plainAddress(from.address);
      if (cfg.clientHostnameHeader) senders.set(e, plainAddress(from.address));
      return e;
    }, cfg.clientHostnameHeader ? resolveHosts : undefined);
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

export const syslogTcpSpec = defineSource({
  type: 'syslogtcp',
  aliases: ['org.apache.flume.source.SyslogTcpSource'],
  description: 'Receives syslog (RFC 3164/5424) over TCP, newline or octet-counting framed.',
  schema: tcpSchema,
  check: checkKeep,
  create: (cfg, ctx) => new SyslogTcpSource(cfg, ctx),
});

export const multiportSyslogSpec = defineSource({
  type: 'multiport_syslogtcp',
  aliases: ['org.apache.flume.source.MultiportSyslogTCPSource'],
  description: 'Receives syslog over TCP on several ports at once.',
  schema: multiSchema,
  check: (c) => [
    ...checkKeep(c),
    ...(c.ports.length === 0 ? [['ports', 'is required: list one or more ports separated by spaces'] as [string, string]] : []),
    ...c.ports.filter((p) => !/^\d{1,5}$/.test(p) || Number(p) > 65535).map((p) => ['ports', `"${p}" is not a port number`] as [string, string]),
  ],
  create: (cfg, ctx) => new MultiportSyslogTcpSource(cfg, ctx),
});

export const syslogUdpSpec = defineSource({
  type: 'syslogudp',
  aliases: ['org.apache.flume.source.SyslogUDPSource'],
  description: 'Receives syslog (RFC 3164/5424) datagrams over UDP.',
  schema: udpSchema,
  check: checkKeep,
  create: (cfg, ctx) => new SyslogUdpSource(cfg, ctx),
});
