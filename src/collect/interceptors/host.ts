import { hostname, networkInterfaces } from 'node:os';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import type { Event } from '../../core/event.js';
import { defineInterceptor, type Interceptor } from '../contracts.js';

/** Host interceptor: sets `hostHeader` (default `host`) to this host's IP address, or its name when useIP is false. */
const schema = z.object({
  preserveExisting: prop.bool(false),
  useIP: prop.bool(true),
  hostHeader: prop.string('host'),
});
export type HostInterceptorConfig = z.infer<typeof schema>;

/** The first non-internal IPv4 address, else the first non-internal address, else loopback. */
export function localAddress(): string {
  const all = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => !a.internal);
  return (all.find((a) => a.family === 'IPv4') ?? all[0])?.address ?? '127.0.0.1';
}

export class HostInterceptor implements Interceptor {
  private readonly value: string;
  constructor(private readonly cfg: HostInterceptorConfig) {
    this.value = cfg.useIP ? localAddress() : hostname();
  }
  intercept(events: Event[]): Event[] {
    const { hostHeader, preserveExisting } = this.cfg;
    for (const e of events) if (!(preserveExisting && e.headers[hostHeader] !== undefined)) e.headers[hostHeader] = this.value;
    return events;
  }
}

defineInterceptor({
  type: 'host',
  aliases: ['org.apache.flume.interceptor.HostInterceptor$Builder'],
  description: "Sets a header to this host's IP address or host name.",
  schema,
  create: (cfg) => new HostInterceptor(cfg),
});
