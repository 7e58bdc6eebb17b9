import type { Gauge } from 'prom-client';

/**
 * Component counters with Flume's names (EventReceivedCount, ChannelSize, …). Hot paths bump plain
 * numbers; exporters read them only when scraped, so nothing is sampled in a hot loop.
 */
export type ComponentType = 'SOURCE' | 'CHANNEL' | 'SINK' | 'SINK_PROCESSOR' | 'INTERCEPTOR';

export const SourceCounterNames = [
  'EventReceivedCount',
  'EventAcceptedCount',
  'AppendReceivedCount',
  'AppendAcceptedCount',
  'AppendBatchReceivedCount',
  'AppendBatchAcceptedCount',
  'OpenConnectionCount',
  'ChannelWriteFail',
  'EventReadFail',
  'GenericProcessingFail',
  'DuplicateEventCount',
  'Stuck',
] as const;

export const ChannelCounterNames = [
  'ChannelSize',
  'ChannelCapacity',
  'ChannelFillPercentage',
  'EventPutAttemptCount',
  'EventPutSuccessCount',
  'EventTakeAttemptCount',
  'EventTakeSuccessCount',
  'Stuck',
] as const;

export const SinkCounterNames = [
  'ConnectionCreatedCount',
  'ConnectionClosedCount',
  'ConnectionFailedCount',
  'BatchEmptyCount',
  'BatchUnderflowCount',
  'BatchCompleteCount',
  'EventDrainAttemptCount',
  'EventDrainSuccessCount',
  'EventWriteFail',
  'ChannelReadFail',
  'PossibleDuplicateCount',
  'Stuck',
] as const;

export class ComponentCounters {
  readonly values = new Map<string, number>();
  private readonly gauges = new Map<string, () => number>();
  readonly startTime = Date.now();
  stopTime = 0;
  constructor(
    readonly type: ComponentType,
    readonly name: string,
    names: readonly string[] = [],
  ) {
    for (const n of names) this.values.set(n, 0);
  }
  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }
  set(name: string, value: number): void {
    this.values.set(name, value);
  }
  get(name: string): number {
    const g = this.gauges.get(name);
    return g ? g() : (this.values.get(name) ?? 0);
  }
  /** A value computed when read (e.g. ChannelSize), instead of being pushed from a hot path. */
  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
    this.values.set(name, 0);
  }
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of this.values.keys()) out[k] = this.get(k);
    return out;
  }
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export class MetricsRegistry {
  private readonly components = new Map<string, ComponentCounters>();
  constructor(readonly agent = 'monsoon') {}

  component(type: ComponentType, name: string, names: readonly string[] = []): ComponentCounters {
    const key = `${type}.${name}`;
    let c = this.components.get(key);
    if (!c) {
      c = new ComponentCounters(type, name, names);
      this.components.set(key, c);
    }
    return c;
  }

  remove(type: ComponentType, name: string): void {
    this.components.delete(`${type}.${name}`);
  }

  all(): ComponentCounters[] {
    return [...this.components.values()];
  }

  /** Flume's JSON reporting shape (`-Dflume.monitoring.type=http`): every value is a string. */
  toFlumeJson(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const c of this.components.values()) {
      const o: Record<string, string> = { Type: c.type };
      for (const [k, v] of Object.entries(c.snapshot())) o[k] = String(v);
      o.StartTime = String(c.startTime);
      o.StopTime = String(c.stopTime);
      out[`${c.type}.${c.name}`] = o;
    }
    return out;
  }

  /** Prometheus text exposition: one gauge family per counter, labelled by agent and component. */
  async toPrometheus(): Promise<string> {
    // loaded on first use: most agents never serve Prometheus, and loading it slows every startup
    const { Gauge, Registry } = await import('prom-client');
    const reg = new Registry();
    const families = new Map<string, Gauge>();
    for (const c of this.components.values()) {
      for (const [k, v] of Object.entries(c.snapshot())) {
        const name = `monsoon_${c.type.toLowerCase()}_${snake(k)}`;
        let g = families.get(name);
        if (!g) {
          g = new Gauge({ name, help: `Flume-compatible ${c.type.toLowerCase()} counter ${k}`, labelNames: ['agent', 'component'], registers: [reg] });
          families.set(name, g);
        }
        g.set({ agent: this.agent, component: c.name }, v);
      }
    }
    return reg.metrics();
  }
}
