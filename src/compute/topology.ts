/**
 * TopologyBuilder in Storm's shape: setSpout / setBolt with parallelism, a declarer with the
 * groupings, numTasks and per-component configuration; createTopology() asks each component for its
 * output fields and returns a StormTopology — the validated Topology IR plus the component code each
 * runtime instantiates once per task.
 */
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import { StreamDeclarer, type BasicBolt, type Bolt, type CustomStreamGrouping, type Spout, type TopologyConfig } from './api.js';
import { validateIR, type ComponentIR, type GroupingIR, type InputIR, type TopologyIR } from './ir.js';
import { isStatefulBolt, type StatefulBolt } from './state/bolt.js';
import { CHECKPOINT_COMPONENT, CHECKPOINT_FIELDS, CHECKPOINT_STREAM, CheckpointSpout } from './state/checkpoint.js';
import { isWindowedBolt, type WindowedBolt } from './windows/bolt.js';
import { declareWindowStreams } from './windows/executor.js';
import { DEFAULT_STREAM, Fields } from './tuple.js';

/** A component given as an instance (copied per task, like Storm's serialised copies), a factory or a class. */
export type ComponentSource<T> = T | (() => T) | (new () => T);

/** Every kind of bolt a topology takes: rich, basic, windowed, stateful. */
export type AnyBolt = Bolt | BasicBolt | WindowedBolt | StatefulBolt;

export interface StormTopology {
  readonly ir: TopologyIR;
  readonly components: ReadonlyMap<string, ComponentSource<Spout> | ComponentSource<AnyBolt>>;
  /** CUSTOM groupings by `bolt\0component\0stream`. */
  readonly customGroupings: ReadonlyMap<string, ComponentSource<CustomStreamGrouping>>;
}

export function customGroupingKey(bolt: string, component: string, stream: string): string {
  return `${bolt}\u0000${component}\u0000${stream}`;
}

class ComponentDeclarer<Self> {
  numTasks?: number;
  readonly config: TopologyConfig = {};
  constructor(readonly id: string, readonly parallelism: number) {}
  setNumTasks(n: number): Self {
    this.numTasks = n;
    return this as unknown as Self;
  }
  addConfiguration(key: string, value: unknown): Self {
    this.config[key] = value;
    return this as unknown as Self;
  }
  addConfigurations(conf: TopologyConfig): Self {
    Object.assign(this.config, conf);
    return this as unknown as Self;
  }
  setMaxSpoutPending(n: number): Self {
    return this.addConfiguration('topology.max.spout.pending', n);
  }
  setMaxTaskParallelism(n: number): Self {
    return this.addConfiguration('topology.max.task.parallelism', n);
  }
  setDebug(on: boolean): Self {
    return this.addConfiguration('topology.debug', on);
  }
}

export class SpoutDeclarer extends ComponentDeclarer<SpoutDeclarer> {}

export class BoltDeclarer extends ComponentDeclarer<BoltDeclarer> {
  readonly inputs: InputIR[] = [];
  readonly custom = new Map<string, ComponentSource<CustomStreamGrouping>>();
  private add(component: string, stream: string | undefined, grouping: GroupingIR): this {
    this.inputs.push({ component, stream: stream ?? DEFAULT_STREAM, grouping });
    return this;
  }
  shuffleGrouping(component: string, stream?: string): this {
    return this.add(component, stream, { type: 'SHUFFLE' });
  }
  localOrShuffleGrouping(component: string, stream?: string): this {
    return this.add(component, stream, { type: 'LOCAL_OR_SHUFFLE' });
  }
  noneGrouping(component: string, stream?: string): this {
    return this.add(component, stream, { type: 'NONE' });
  }
  allGrouping(component: string, stream?: string): this {
    return this.add(component, stream, { type: 'ALL' });
  }
  globalGrouping(component: string, stream?: string): this {
    return this.add(component, stream, { type: 'GLOBAL' });
  }
  directGrouping(component: string, stream?: string): this {
    return this.add(component, stream, { type: 'DIRECT' });
  }
  /** fieldsGrouping(component, fields) or fieldsGrouping(component, stream, fields). */
  fieldsGrouping(component: string, a: string | Fields | readonly string[], b?: Fields | readonly string[]): this {
    const [stream, fields] = typeof a === 'string' ? [a, b!] : [undefined, a];
    return this.add(component, stream, { type: 'FIELDS', fields: Fields.of(fields).toList() });
  }
  partialKeyGrouping(component: string, a: string | Fields | readonly string[], b?: Fields | readonly string[]): this {
    const [stream, fields] = typeof a === 'string' ? [a, b!] : [undefined, a];
    return this.add(component, stream, { type: 'PARTIAL_KEY', fields: Fields.of(fields).toList() });
  }
  /** customGrouping(component, grouping) or customGrouping(component, stream, grouping). */
  customGrouping(component: string, a: string | ComponentSource<CustomStreamGrouping>, b?: ComponentSource<CustomStreamGrouping>): this {
    const [stream, g] = typeof a === 'string' ? [a, b!] : [DEFAULT_STREAM, a];
    this.custom.set(customGroupingKey(this.id, component, stream), g);
    return this.add(component, stream, { type: 'CUSTOM', customClass: className(g) });
  }
}

export class TopologyBuilder {
  private readonly spouts = new Map<string, { d: SpoutDeclarer; src: ComponentSource<Spout> }>();
  private readonly bolts = new Map<string, { d: BoltDeclarer; src: ComponentSource<AnyBolt> }>();

  setSpout(id: string, spout: ComponentSource<Spout>, parallelism = 1): SpoutDeclarer {
    this.checkId(id);
    const d = new SpoutDeclarer(id, parallelism);
    this.spouts.set(id, { d, src: spout });
    return d;
  }

  setBolt(id: string, bolt: ComponentSource<AnyBolt>, parallelism = 1): BoltDeclarer {
    this.checkId(id);
    const d = new BoltDeclarer(id, parallelism);
    this.bolts.set(id, { d, src: bolt });
    return d;
  }

  /** Builds and validates; throws MON_ERR_TOPOLOGY_INVALID listing every problem. */
  createTopology(conf: TopologyConfig = {}, name?: string): StormTopology {
    const components = new Map<string, ComponentSource<Spout> | ComponentSource<AnyBolt>>();
    const custom = new Map<string, ComponentSource<CustomStreamGrouping>>();
    const list: ComponentIR[] = [];
    let stateful = false;
    const describe = (kind: 'spout' | 'bolt', d: SpoutDeclarer | BoltDeclarer, src: ComponentSource<Spout> | ComponentSource<AnyBolt>): void => {
      const sample = instantiate(src);
      const declarer = new StreamDeclarer(d.id);
      sample.declareOutputFields?.(declarer);
      if (isWindowedBolt(sample)) declareWindowStreams(sample, declarer);
      if (isStatefulBolt(sample)) stateful = true;
      list.push({
        id: d.id,
        kind,
        className: className(src),
        parallelism: d.parallelism,
        numTasks: d.numTasks ?? d.parallelism,
        config: { ...(sample.getComponentConfiguration?.() ?? {}), ...d.config },
        inputs: d instanceof BoltDeclarer ? [...d.inputs] : [],
        streams: declarer.streams,
      });
      components.set(d.id, src);
      if (d instanceof BoltDeclarer) for (const [k, g] of d.custom) custom.set(k, g);
    };
    for (const { d, src } of this.spouts.values()) describe('spout', d, src);
    for (const { d, src } of this.bolts.values()) describe('bolt', d, src);
    if (stateful) addCheckpointing(list, components);
    const ir: TopologyIR = { version: 1, config: { ...conf }, components: list };
    if (name) ir.name = name;
    validateIR(ir);
    return { ir, components, customGroupings: custom };
  }

  private checkId(id: string): void {
    if (this.spouts.has(id) || this.bolts.has(id)) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `component ${JSON.stringify(id)} is declared twice (component ids are unique across spouts and bolts)`);
  }
}

/**
 * A topology with a stateful bolt gets Storm's checkpoint wiring: the `$checkpointspout` spout, a
 * `$checkpoint` stream on every bolt, and every bolt subscribed (ALL grouping) to `$checkpoint` of each
 * bolt it reads from, and of the checkpoint spout when it reads from a spout.
 */
function addCheckpointing(list: ComponentIR[], components: Map<string, ComponentSource<Spout> | ComponentSource<AnyBolt>>): void {
  const kind = new Map(list.map((c) => [c.id, c.kind]));
  for (const c of list) {
    if (c.kind !== 'bolt') continue;
    const from = new Set<string>();
    for (const inp of c.inputs) if (kind.has(inp.component)) from.add(kind.get(inp.component) === 'spout' ? CHECKPOINT_COMPONENT : inp.component);
    for (const f of from) c.inputs.push({ component: f, stream: CHECKPOINT_STREAM, grouping: { type: 'ALL' } });
    c.streams.push({ id: CHECKPOINT_STREAM, direct: false, fields: [...CHECKPOINT_FIELDS] });
  }
  list.push({ id: CHECKPOINT_COMPONENT, kind: 'spout', className: 'CheckpointSpout', parallelism: 1, numTasks: 1, config: {}, inputs: [], streams: [{ id: CHECKPOINT_STREAM, direct: false, fields: [...CHECKPOINT_FIELDS] }] });
  components.set(CHECKPOINT_COMPONENT, CheckpointSpout);
}

/** The class name an IR records for a component given as an instance, factory or class. */
export function className(src: unknown): string {
  if (typeof src === 'function') return isClass(src) ? src.name || 'anonymous' : `factory:${src.name || 'anonymous'}`;
  const ctor = (src as { constructor?: { name?: string } } | null)?.constructor?.name;
  return ctor && ctor !== 'Object' ? ctor : 'Object';
}

function isClass(f: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(f)) || Object.getOwnPropertyNames(f.prototype ?? {}).length > 1;
}

/**
 * One fresh component for a task: a class is constructed, a factory called, and an instance copied
 * with its prototype (Storm gives each task its own deserialised copy). Own Maps, Sets, arrays and
 * plain objects are copied one level deep so per-task state such as `counts = new Map()` is never
 * shared between tasks; anything else (clients, class instances) is shared — set those up in
 * open/prepare, as in Storm.
 */
export function instantiate<T extends object>(src: ComponentSource<T>): T {
  if (typeof src === 'function') {
    if (isClass(src)) return new (src as new () => T)();
    return (src as () => T)();
  }
  const copy = Object.create(Object.getPrototypeOf(src) as object | null) as T;
  for (const key of Reflect.ownKeys(src)) {
    const desc = Object.getOwnPropertyDescriptor(src, key)!;
    if ('value' in desc) desc.value = copyOneLevel(desc.value);
    Object.defineProperty(copy, key, desc);
  }
  return copy;
}

function copyOneLevel(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Map) return new Map(v);
  if (v instanceof Set) return new Set(v);
  if (Array.isArray(v)) return [...(v as unknown[])];
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) return { ...(v as object) };
  return v;
}
