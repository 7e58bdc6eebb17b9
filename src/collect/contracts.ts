import type { Event } from '../core/event.js';
import type { ComponentCounters, MetricsRegistry } from '../core/metrics.js';
import type { Logger } from '../core/log.js';
import { registerComponent, type ComponentSpec } from '../core/config/component.js';

/**
 * The collect tier's contracts. Sources push batches through a ChannelProcessor into channels;
 * sink runners pull batches out of channels in transactions. Everything moves arrays of events.
 */

export interface Lifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A transaction on one channel (Flume's model). A transaction either puts or takes; commit makes
 * the whole batch visible (puts) or removes it for good (takes); rollback restores taken events to
 * the head of the channel in their original order.
 *
 * Markers are small strings committed atomically with the transaction and returned by
 * `Channel.marker(key)` afterwards — after a restart too, for durable channels. Sources store their
 * read positions and sinks their output positions this way, so a crash can neither lose nor repeat
 * what a commit covered.
 */
export interface ChannelTx {
  /** Stages events; throws ChannelFullError when the transaction would exceed transactionCapacity. */
  put(events: readonly Event[]): void;
  /** Takes up to `max` events from the head (fewer when the channel holds fewer). */
  take(max: number): Promise<Event[]>;
  /** Throws ChannelFullError (retriable) when the channel lacks room after its keep-alive wait. */
  commit(markers?: Readonly<Record<string, string>>): Promise<void>;
  rollback(): Promise<void>;
}

export interface Channel extends Lifecycle {
  readonly name: string;
  /** True when committed events and markers survive a crash of the process. */
  readonly durable: boolean;
  readonly capacity: number;
  readonly transactionCapacity: number;
  transaction(): ChannelTx;
  /** Events committed and not yet taken-and-committed (includes events in open take transactions). */
  size(): number;
  /** Resolves when events may be available, or after `ms`. */
  waitForData(ms: number): Promise<void>;
  /** Resolves when space may have been freed, or after `ms`. */
  waitForSpace(ms: number): Promise<void>;
  /** The last committed marker stored under `key`. */
  marker(key: string): string | undefined;
}

export interface Source extends Lifecycle {
  /** Input known to be waiting (bytes or events); used to flag a source that is stuck. */
  backlog?(): number;
}

/** Delivers a source's batch: interceptors, then the selector, then one transaction per channel. */
export interface ChannelProcessor {
  /**
   * Commits the batch to every required channel (optional channels are best effort). `markers` are
   * committed with each required channel's transaction. Throws ChannelFullError when a required
   * channel is full: the caller keeps the batch and retries after waiting.
   */
  process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void>;
  /** A marker previously committed through `process`, read from the source's first channel. */
  marker(key: string): string | undefined;
  /** Resolves when a required channel may have room, or after `ms`. */
  waitForSpace(ms: number): Promise<void>;
  /** The most events one `process` call may carry: the smallest transactionCapacity of the channels. */
  maxBatch(): number;
}

export interface ComponentContext {
  agent: string;
  /** Stable id of this agent (host/agent name unless configured); the first part of event identities. */
  agentId: string;
  /** The component's own name (`r1`, `c1`, `k1`, …). */
  name: string;
  log: Logger;
  metrics: MetricsRegistry;
  /** A directory owned by the agent for state that has no configured location. */
  dataDir: string;
}

export interface SourceContext extends ComponentContext {
  processor: ChannelProcessor;
  counters: ComponentCounters;
}

export type ChannelContext = ComponentContext & { counters: ComponentCounters };

export type SinkStatus = 'READY' | 'BACKOFF';

export interface Sink extends Lifecycle {
  readonly name: string;
  /** Takes one batch from the channel in a transaction and delivers it. */
  process(): Promise<SinkStatus>;
}

/**
 * Remembers which sink holds a batch whose delivery outcome is unknown (sent, no reply yet), so that
 * after a crash the same batch is offered to the same sink first and the receiver can drop the replay.
 */
export interface InFlightLog {
  begin(sink: string): void;
  end(sink: string): void;
}

export interface SinkContext extends ComponentContext {
  channel: Channel;
  counters: ComponentCounters;
  inflight: InFlightLog;
}

export interface SinkProcessor extends Lifecycle {
  process(): Promise<SinkStatus>;
}

export interface ProcessorContext extends ComponentContext {
  sinks: Sink[];
  counters: ComponentCounters;
  /** Sinks that had a batch in flight when the agent last stopped, from the in-flight log. */
  inflightAtStart: readonly string[];
}

export interface Interceptor {
  /** Returns the events to keep, possibly modified; may drop events (counted by the caller). */
  intercept(events: Event[]): Event[];
}

export type InterceptorContext = ComponentContext;

export interface ChannelSelector {
  /** Channels that must accept the event; a failure fails the whole batch. */
  required(e: Event): readonly Channel[];
  /** Channels written best effort. */
  optional(e: Event): readonly Channel[];
  /** All channels this selector can route to, in configuration order. */
  all(): readonly Channel[];
}

export interface SelectorContext extends ComponentContext {
  /** The source's channels in configuration order. */
  channels: readonly Channel[];
}

export const defineSource = <C>(spec: Omit<ComponentSpec<C, SourceContext, Source>, 'kind'>) =>
  registerComponent<C, SourceContext, Source>({ ...spec, kind: 'source', reserved: ['channels', 'selector', 'interceptors', ...(spec.reserved ?? [])] });
export const defineChannel = <C>(spec: Omit<ComponentSpec<C, ChannelContext, Channel>, 'kind'>) =>
  registerComponent<C, ChannelContext, Channel>({ ...spec, kind: 'channel' });
export const defineSink = <C>(spec: Omit<ComponentSpec<C, SinkContext, Sink>, 'kind'>) =>
  registerComponent<C, SinkContext, Sink>({ ...spec, kind: 'sink', reserved: ['channel', ...(spec.reserved ?? [])] });
export const defineInterceptor = <C>(spec: Omit<ComponentSpec<C, InterceptorContext, Interceptor>, 'kind'>) =>
  registerComponent<C, InterceptorContext, Interceptor>({ ...spec, kind: 'interceptor' });
export const defineSelector = <C>(spec: Omit<ComponentSpec<C, SelectorContext, ChannelSelector>, 'kind'>) =>
  registerComponent<C, SelectorContext, ChannelSelector>({ ...spec, kind: 'selector' });
export const defineProcessor = <C>(spec: Omit<ComponentSpec<C, ProcessorContext, SinkProcessor>, 'kind'>) =>
  registerComponent<C, ProcessorContext, SinkProcessor>({ ...spec, kind: 'processor' });
