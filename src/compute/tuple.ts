/**
 * Tuples and field lists, with Storm's accessors. A tuple names its source (component, stream, task)
 * through one StreamInfo object shared by every tuple of that stream, so a tuple is a few numbers and
 * its values array. The acking fields (root, edge, ack accumulator) are plain numbers: a 64-bit edge
 * id is held as two int32 halves so XOR stays in small integers.
 */
import { ErrorCodes, MonsoonError } from '../core/errors.js';

export const DEFAULT_STREAM = 'default';
/** Storm's system component and tick stream: tick tuples come from `__system` on `__tick`. */
export const SYSTEM_COMPONENT = '__system';
export const TICK_STREAM = '__tick';
export const SYSTEM_TASK = -1;
export const ACKER_COMPONENT = '__acker';

export class Fields {
  readonly names: readonly string[];
  private readonly index: Map<string, number>;
  constructor(...names: string[] | [readonly string[]]) {
    const list = (names.length === 1 && Array.isArray(names[0]) ? names[0] : names) as readonly string[];
    this.names = Object.freeze([...list]);
    this.index = new Map();
    this.names.forEach((n, i) => {
      if (this.index.has(n)) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `duplicate field name ${JSON.stringify(n)} in [${list.join(', ')}]`);
      this.index.set(n, i);
    });
  }
  static of(f: Fields | readonly string[]): Fields {
    return f instanceof Fields ? f : new Fields(f);
  }
  size(): number {
    return this.names.length;
  }
  get(i: number): string {
    return this.names[i]!;
  }
  contains(name: string): boolean {
    return this.index.has(name);
  }
  /** The position of a field; throws naming the field and the fields there are. */
  fieldIndex(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `field ${JSON.stringify(name)} does not exist; fields are [${this.names.join(', ')}]`);
    return i;
  }
  select(selector: Fields | readonly string[], values: readonly unknown[]): unknown[] {
    const s = Fields.of(selector);
    return s.names.map((n) => values[this.fieldIndex(n)]);
  }
  toList(): string[] {
    return [...this.names];
  }
}

/** What every tuple of one (component, stream) shares. */
export class StreamInfo {
  constructor(
    readonly component: string,
    readonly stream: string,
    readonly fields: Fields,
  ) {}
}

const TICK_INFO = new StreamInfo(SYSTEM_COMPONENT, TICK_STREAM, new Fields('rate_secs'));

export class Tuple {
  /** Root id of the first tree this tuple belongs to; 0 when it is not anchored to any tree. */
  root = 0;
  edgeHi = 0;
  edgeLo = 0;
  /** Further roots, as triples [root, edgeHi, edgeLo] (multi-anchoring). */
  more: number[] | null = null;
  /** XOR of the edge ids of the tuples anchored to this one (sent to the acker with its ack). */
  ackHi = 0;
  ackLo = 0;
  /** When this tuple was taken for execution (set only for sampled tuples), for process latency. */
  received = 0;
  constructor(
    readonly values: unknown[],
    readonly info: StreamInfo,
    readonly sourceTask: number,
    /** Estimated size in bytes, counted against queue bounds. */
    readonly bytes: number,
  ) {}

  static tick(freqSecs: number): Tuple {
    return new Tuple([freqSecs], TICK_INFO, SYSTEM_TASK, 64);
  }
  isTick(): boolean {
    return this.info === TICK_INFO;
  }
  getValues(): unknown[] {
    return this.values;
  }
  size(): number {
    return this.values.length;
  }
  getFields(): Fields {
    return this.info.fields;
  }
  fieldIndex(name: string): number {
    return this.info.fields.fieldIndex(name);
  }
  contains(name: string): boolean {
    return this.info.fields.contains(name);
  }
  getValue(i: number): unknown {
    return this.values[i];
  }
  getValueByField(name: string): unknown {
    return this.values[this.info.fields.fieldIndex(name)];
  }
  getString(i: number): string {
    return this.values[i] as string;
  }
  getStringByField(name: string): string {
    return this.getValueByField(name) as string;
  }
  getInteger(i: number): number {
    return this.values[i] as number;
  }
  getIntegerByField(name: string): number {
    return this.getValueByField(name) as number;
  }
  getLong(i: number): number {
    return this.values[i] as number;
  }
  getLongByField(name: string): number {
    return this.getValueByField(name) as number;
  }
  getDouble(i: number): number {
    return this.values[i] as number;
  }
  getDoubleByField(name: string): number {
    return this.getValueByField(name) as number;
  }
  getBoolean(i: number): boolean {
    return this.values[i] as boolean;
  }
  getBooleanByField(name: string): boolean {
    return this.getValueByField(name) as boolean;
  }
  getBinary(i: number): Buffer {
    return this.values[i] as Buffer;
  }
  getBinaryByField(name: string): Buffer {
    return this.getValueByField(name) as Buffer;
  }
  select(selector: Fields | readonly string[]): unknown[] {
    return this.info.fields.select(selector, this.values);
  }
  getSourceComponent(): string {
    return this.info.component;
  }
  getSourceStreamId(): string {
    return this.info.stream;
  }
  getSourceTask(): number {
    return this.sourceTask;
  }
  /** Storm's MessageId: root id → edge id (as a 16-digit hex string) for each tree the tuple is in. */
  getMessageId(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.root !== 0) out[String(this.root)] = hex64(this.edgeHi, this.edgeLo);
    const m = this.more;
    if (m) for (let i = 0; i < m.length; i += 3) out[String(m[i])] = hex64(m[i + 1]!, m[i + 2]!);
    return out;
  }
  /** Adds `edge` to this tuple's id for `root` (XOR when the root is already there). */
  addRoot(root: number, hi: number, lo: number): void {
    if (this.root === 0) {
      this.root = root;
      this.edgeHi = hi;
      this.edgeLo = lo;
      return;
    }
    if (this.root === root) {
      this.edgeHi ^= hi;
      this.edgeLo ^= lo;
      return;
    }
    const m = (this.more ??= []);
    for (let i = 0; i < m.length; i += 3) {
      if (m[i] === root) {
        m[i + 1] = m[i + 1]! ^ hi;
        m[i + 2] = m[i + 2]! ^ lo;
        return;
      }
    }
    m.push(root, hi, lo);
  }
  toString(): string {
    return `source: ${this.info.component}:${this.sourceTask}, stream: ${this.info.stream}, [${this.values.map(String).join(', ')}]`;
  }
}

function hex64(hi: number, lo: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** A size estimate for queue accounting, computed once per emitted value list (no serialisation). */
export function estimateBytes(values: readonly unknown[]): number {
  let n = 48;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'string') n += 16 + v.length;
    else if (typeof v === 'number' || typeof v === 'boolean' || v == null) n += 8;
    else if (v instanceof Uint8Array) n += 32 + v.byteLength;
    else n += 64;
  }
  return n;
}
