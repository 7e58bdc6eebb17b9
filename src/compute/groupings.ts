/**
 * Stream groupings: how a tuple emitted on a stream picks the tasks of a subscribing bolt. Each
 * grouping is prepared once per (source task, subscription) with the target's sorted task ids; the hot
 * path calls `chooseOne` (one task) or, for ALL and CUSTOM, `chooseMany`. Hashes are fixed functions of
 * the values (no per-process seed), so every worker of a distributed topology routes a key alike.
 */
import type { CustomStreamGrouping, TopologyContext } from './api.js';
import type { GroupingType } from './ir.js';
import type { Fields } from './tuple.js';

export interface Grouper {
  readonly type: GroupingType;
  /** True when chooseMany must be used (ALL, CUSTOM). */
  readonly many: boolean;
  chooseOne(values: readonly unknown[]): number;
  chooseMany(values: readonly unknown[]): readonly number[];
}

export interface GrouperSpec {
  type: GroupingType;
  /** Source stream fields and, for FIELDS / PARTIAL_KEY, the selected field names. */
  streamFields: Fields;
  fields?: readonly string[];
  /** The target component's task ids. */
  targetTasks: readonly number[];
  /** Source task (for CUSTOM's chooseTasks). */
  sourceTask: number;
  /** Tasks living in the same worker as the source task (LOCAL_OR_SHUFFLE). */
  workerTasks: ReadonlySet<number>;
  custom?: CustomStreamGrouping;
  context?: TopologyContext;
  stream?: { component: string; stream: string };
  random?: () => number;
}

export function createGrouper(spec: GrouperSpec): Grouper {
  const tasks = [...spec.targetTasks].sort((a, b) => a - b);
  const random = spec.random ?? Math.random;
  switch (spec.type) {
    case 'SHUFFLE':
    case 'NONE':
      return new ShuffleGrouper(spec.type, tasks, random);
    case 'LOCAL_OR_SHUFFLE': {
      const local = tasks.filter((t) => spec.workerTasks.has(t));
      return new ShuffleGrouper('LOCAL_OR_SHUFFLE', local.length ? local : tasks, random);
    }
    case 'FIELDS':
      return new FieldsGrouper(tasks, indices(spec));
    case 'PARTIAL_KEY':
      return new PartialKeyGrouper(tasks, indices(spec));
    case 'ALL':
      return new AllGrouper(tasks);
    case 'GLOBAL':
      return new FixedGrouper('GLOBAL', tasks[0]!);
    case 'DIRECT':
      // Direct streams are routed by emitDirect; the grouper only lists who may be named.
      return new AllGrouper(tasks, 'DIRECT');
    case 'CUSTOM': {
      const g = spec.custom!;
      g.prepare(spec.context!, spec.stream!, tasks);
      return new CustomGrouper(g, spec.sourceTask);
    }
  }
}

function indices(spec: GrouperSpec): number[] {
  return (spec.fields ?? []).map((f) => spec.streamFields.fieldIndex(f));
}

class ShuffleGrouper implements Grouper {
  readonly many = false;
  private order: number[];
  private pos = 0;
  constructor(readonly type: GroupingType, tasks: number[], private readonly random: () => number) {
    this.order = [...tasks];
    this.shuffle();
  }
  private shuffle(): void {
    const a = this.order;
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
  }
  chooseOne(): number {
    if (this.pos === this.order.length) {
      this.pos = 0;
      if (this.order.length > 1) this.shuffle();
    }
    return this.order[this.pos++]!;
  }
  chooseMany(): readonly number[] {
    return [this.chooseOne()];
  }
}

class FieldsGrouper implements Grouper {
  readonly type = 'FIELDS' as const;
  readonly many = false;
  constructor(private readonly tasks: number[], private readonly idx: number[]) {}
  chooseOne(values: readonly unknown[]): number {
    return this.tasks[(hashFields(values, this.idx, 0) >>> 0) % this.tasks.length]!;
  }
  chooseMany(values: readonly unknown[]): readonly number[] {
    return [this.chooseOne(values)];
  }
}

/**
 * Partial key grouping (key splitting, "The Power of Both Choices"): each key has two candidate tasks
 * from two hash seeds; a tuple goes to whichever of the two this source task has sent fewer tuples to.
 */
class PartialKeyGrouper implements Grouper {
  readonly type = 'PARTIAL_KEY' as const;
  readonly many = false;
  private readonly load: Float64Array;
  constructor(private readonly tasks: number[], private readonly idx: number[]) {
    this.load = new Float64Array(tasks.length);
  }
  candidates(values: readonly unknown[]): [number, number] {
    const n = this.tasks.length;
    return [(hashFields(values, this.idx, 13) >>> 0) % n, (hashFields(values, this.idx, 17) >>> 0) % n];
  }
  chooseOne(values: readonly unknown[]): number {
    const n = this.tasks.length;
    const a = (hashFields(values, this.idx, 13) >>> 0) % n;
    const b = (hashFields(values, this.idx, 17) >>> 0) % n;
    const pick = this.load[a]! <= this.load[b]! ? a : b;
    this.load[pick]!++;
    return this.tasks[pick]!;
  }
  chooseMany(values: readonly unknown[]): readonly number[] {
    return [this.chooseOne(values)];
  }
}

class AllGrouper implements Grouper {
  readonly many = true;
  constructor(private readonly tasks: readonly number[], readonly type: GroupingType = 'ALL') {}
  chooseOne(): number {
    return this.tasks[0]!;
  }
  chooseMany(): readonly number[] {
    return this.tasks;
  }
}

class FixedGrouper implements Grouper {
  readonly many = false;
  private readonly one: number[];
  constructor(readonly type: GroupingType, private readonly task: number) {
    this.one = [task];
  }
  chooseOne(): number {
    return this.task;
  }
  chooseMany(): readonly number[] {
    return this.one;
  }
}

class CustomGrouper implements Grouper {
  readonly type = 'CUSTOM' as const;
  readonly many = true;
  constructor(private readonly g: CustomStreamGrouping, private readonly sourceTask: number) {}
  chooseOne(values: readonly unknown[]): number {
    return this.g.chooseTasks(this.sourceTask, values)[0]!;
  }
  chooseMany(values: readonly unknown[]): readonly number[] {
    return this.g.chooseTasks(this.sourceTask, values);
  }
}

/** A 32-bit hash of the selected values (murmur3's mixing over each value's own hash). */
export function hashFields(values: readonly unknown[], idx: readonly number[], seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < idx.length; i++) {
    let k = hashValue(values[idx[i]!]);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= idx.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** A value's hash: Java's String.hashCode for strings, the int value for int32 numbers, bytes for buffers. */
export function hashValue(v: unknown): number {
  if (typeof v === 'string') {
    let h = 0;
    for (let i = 0; i < v.length; i++) h = (Math.imul(h, 31) + v.charCodeAt(i)) | 0;
    return h;
  }
  if (typeof v === 'number') {
    if ((v | 0) === v) return v;
    return hashValue(String(v));
  }
  if (v instanceof Uint8Array) {
    let h = 1;
    for (let i = 0; i < v.length; i++) h = (Math.imul(h, 31) + v[i]!) | 0;
    return h;
  }
  if (typeof v === 'boolean') return v ? 1231 : 1237;
  if (v == null) return 0;
  if (typeof v === 'bigint') return hashValue(v.toString());
  if (Array.isArray(v)) {
    let h = 1;
    for (const x of v) h = (Math.imul(h, 31) + hashValue(x)) | 0;
    return h;
  }
  return hashValue(JSON.stringify(v));
}

export { PartialKeyGrouper };
