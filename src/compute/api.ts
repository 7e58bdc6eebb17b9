/**
 * The component contracts a Storm user recognises: spouts (open / nextTuple / ack / fail / close /
 * activate / deactivate), bolts (prepare / execute / cleanup), basic bolts (execute with automatic
 * anchoring and acking), output declarers, collectors and the topology context. Lifecycle methods may
 * return a promise (open/prepare/close/cleanup), which the runtime awaits before the topology runs
 * or after it stops; nothing on the tuple path is awaited.
 */
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import { DEFAULT_STREAM, Fields, type Tuple } from './tuple.js';

export type TopologyConfig = Record<string, unknown>;
export type Values = unknown[];

export interface OutputFieldsDeclarer {
  declare(fields: Fields | readonly string[]): void;
  declare(direct: boolean, fields: Fields | readonly string[]): void;
  declareStream(streamId: string, fields: Fields | readonly string[]): void;
  declareStream(streamId: string, direct: boolean, fields: Fields | readonly string[]): void;
}

export interface ComponentCommon {
  declareOutputFields?(declarer: OutputFieldsDeclarer): void;
  getComponentConfiguration?(): TopologyConfig | null | undefined;
}

export interface SpoutOutputCollector {
  /** emit(values[, msgId]) or emit(streamId, values[, msgId]); a msgId makes the tuple tracked. */
  emit(values: Values, msgId?: unknown): void;
  emit(streamId: string, values: Values, msgId?: unknown): void;
  emitDirect(taskId: number, values: Values, msgId?: unknown): void;
  emitDirect(taskId: number, streamId: string, values: Values, msgId?: unknown): void;
  reportError(error: unknown): void;
  /** Tuple trees of this task not yet acked or failed. */
  getPendingCount(): number;
}

export type Anchors = Tuple | readonly Tuple[] | null;

export interface OutputCollector {
  /** emit(values), emit(anchor(s), values), emit(streamId, anchor(s) | null, values). */
  emit(values: Values): void;
  emit(anchors: Anchors, values: Values): void;
  emit(streamId: string, anchors: Anchors, values: Values): void;
  emitDirect(taskId: number, anchors: Anchors, values: Values): void;
  emitDirect(taskId: number, streamId: string, anchors: Anchors, values: Values): void;
  ack(input: Tuple): void;
  fail(input: Tuple): void;
  /** Restarts the timeout of the trees the tuple belongs to. */
  resetTimeout(input: Tuple): void;
  reportError(error: unknown): void;
}

export interface BasicOutputCollector {
  /** Emits anchored to the input being executed. */
  emit(values: Values): void;
  emit(streamId: string, values: Values): void;
  emitDirect(taskId: number, values: Values): void;
  emitDirect(taskId: number, streamId: string, values: Values): void;
  reportError(error: unknown): void;
}

export interface TopologyContext {
  getStormId(): string;
  getThisComponentId(): string;
  getThisTaskId(): number;
  /** The position of this task among its component's tasks, from 0. */
  getThisTaskIndex(): number;
  getComponentTasks(componentId: string): number[];
  getComponentOutputFields(componentId: string, streamId?: string): Fields;
  getThisStreams(): string[];
  /** The components and streams this component subscribes to, as "component:stream". */
  getThisSources(): string[];
  /** Task ids running in this worker (the whole topology in the local runtime). */
  getThisWorkerTasks(): number[];
}

export interface Spout extends ComponentCommon {
  open?(conf: TopologyConfig, context: TopologyContext, collector: SpoutOutputCollector): void | Promise<void>;
  nextTuple(): void;
  ack?(msgId: unknown): void;
  fail?(msgId: unknown): void;
  close?(): void | Promise<void>;
  activate?(): void;
  deactivate?(): void;
}

export interface Bolt extends ComponentCommon {
  prepare?(conf: TopologyConfig, context: TopologyContext, collector: OutputCollector): void | Promise<void>;
  execute(input: Tuple): void;
  cleanup?(): void | Promise<void>;
}

/** Storm's IBasicBolt: every emit is anchored to the input; the input is acked when execute returns, failed when it throws. */
export interface BasicBolt extends ComponentCommon {
  prepare?(conf: TopologyConfig, context: TopologyContext): void | Promise<void>;
  execute(input: Tuple, collector: BasicOutputCollector): void;
  cleanup?(): void | Promise<void>;
}

/** Storm's CustomStreamGrouping. */
export interface CustomStreamGrouping {
  prepare(context: TopologyContext, stream: { component: string; stream: string }, targetTasks: number[]): void;
  chooseTasks(taskId: number, values: readonly unknown[]): number[];
}

/** Base classes in Storm's shape; subclasses override what they need. */
export abstract class BaseRichSpout implements Spout {
  abstract nextTuple(): void;
  abstract declareOutputFields(declarer: OutputFieldsDeclarer): void;
  ack(_msgId: unknown): void {}
  fail(_msgId: unknown): void {}
  getComponentConfiguration(): TopologyConfig | null {
    return null;
  }
}

export abstract class BaseRichBolt implements Bolt {
  abstract execute(input: Tuple): void;
  abstract declareOutputFields(declarer: OutputFieldsDeclarer): void;
  getComponentConfiguration(): TopologyConfig | null {
    return null;
  }
}

export abstract class BaseBasicBolt implements BasicBolt {
  readonly basic = true;
  abstract execute(input: Tuple, collector: BasicOutputCollector): void;
  declareOutputFields(_declarer: OutputFieldsDeclarer): void {}
  getComponentConfiguration(): TopologyConfig | null {
    return null;
  }
}

/** Thrown from a basic bolt's execute to fail the input without it counting as an error (Storm's FailedException). */
export class FailedException extends Error {
  constructor(message = 'failed') {
    super(message);
    this.name = 'FailedException';
  }
}

export function isBasicBolt(b: Bolt | BasicBolt): b is BasicBolt {
  return (b as { basic?: unknown }).basic === true || b.execute.length >= 2;
}

export interface DeclaredStream {
  id: string;
  fields: string[];
  direct: boolean;
}

/** Collects a component's declareOutputFields into stream declarations. */
export class StreamDeclarer implements OutputFieldsDeclarer {
  readonly streams: DeclaredStream[] = [];
  constructor(private readonly component: string) {}
  declare(a: boolean | Fields | readonly string[], b?: Fields | readonly string[]): void {
    if (typeof a === 'boolean') this.add(DEFAULT_STREAM, a, b!);
    else this.add(DEFAULT_STREAM, false, a);
  }
  declareStream(id: string, a: boolean | Fields | readonly string[], b?: Fields | readonly string[]): void {
    if (typeof a === 'boolean') this.add(id, a, b!);
    else this.add(id, false, a);
  }
  private add(id: string, direct: boolean, fields: Fields | readonly string[]): void {
    if (typeof id !== 'string' || id === '') throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `component ${this.component}: a stream id must be a non-empty string`);
    if (this.streams.some((s) => s.id === id)) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `component ${this.component}: stream ${JSON.stringify(id)} declared twice`);
    this.streams.push({ id, direct, fields: Fields.of(fields).toList() });
  }
}
