import { validateComponent, resolveComponent } from '../../core/config/component.js';
import { makeEvent, type Event } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { DefaultChannelProcessor } from '../channel-processor.js';
import type { Channel, InFlightLog, Sink, SinkContext, Source, SourceContext } from '../contracts.js';
import { memoryChannel, sinkContext, sourceContext } from '../testkit.js';
import type { ThriftSource } from '../sources/thrift.js';
import '../sources/thrift.js';
import '../sinks/thrift.js';

/** Test fixtures for the thrift source and sink: components built through the registry, as the agent does. */

function build<T>(kind: 'source' | 'sink', raw: Record<string, unknown>, ctx: unknown): T {
  const r = resolveComponent(kind, 'thrift');
  if ('error' in r) throw new Error(r.error);
  const v = validateComponent(r.spec, raw, `a1.${kind}s.x`);
  if (!v.config) throw new Error(v.errors.map((e) => `${e.key}: ${e.message}`).join('; '));
  return r.spec.create(v.config, ctx) as T;
}

export interface Collector {
  source: ThriftSource;
  ctx: SourceContext;
  channel: Channel;
  port: number;
}

/** A thrift source on 127.0.0.1 (port 0) committing into `channel` through the real ChannelProcessor. */
export async function startCollector(channel: Channel = memoryChannel('c1'), props: Record<string, unknown> = {}): Promise<Collector> {
  const selector = { required: () => [channel], optional: () => [], all: () => [channel] };
  const probe = sourceContext('r1');
  const processor = new DefaultChannelProcessor(selector, [], probe.counters, silentLogger);
  const ctx: SourceContext = { ...probe, processor };
  const source = build<Source>('source', { bind: '127.0.0.1', port: 0, ...props }, ctx) as ThriftSource;
  await source.start();
  return { source, ctx, channel, port: source.boundPort };
}

export class RecordingInFlight implements InFlightLog {
  readonly log: string[] = [];
  begin(sink: string): void {
    this.log.push(`begin ${sink}`);
  }
  end(sink: string): void {
    this.log.push(`end ${sink}`);
  }
}

export function makeSink(channel: Channel, props: Record<string, unknown>, inflight: InFlightLog = new RecordingInFlight()): { sink: Sink; ctx: SinkContext } {
  const ctx: SinkContext = { ...sinkContext('k1', channel), inflight };
  const sink = build<Sink>('sink', { hostname: '127.0.0.1', ...props }, ctx);
  return { sink, ctx };
}

export async function put(channel: Channel, events: Event[]): Promise<void> {
  const tx = channel.transaction();
  tx.put(events);
  await tx.commit();
}

/** Takes and commits everything in the channel. */
export async function drain(channel: Channel): Promise<Event[]> {
  const tx = channel.transaction();
  const events = await tx.take(channel.size());
  await tx.commit();
  return events;
}

/** Events with identities origin#first … and a binary body that is not valid UTF-8. */
export function identified(origin: string, first: number, n: number): Event[] {
  return Array.from({ length: n }, (_, i) =>
    makeEvent(Buffer.concat([Buffer.from([0xff, 0x00, 0xfe]), Buffer.from(`e${first + i}`)]), { 'monsoon.origin': origin, 'monsoon.seq': String(first + i), k: `v${first + i}` }),
  );
}
