import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { TopologyContext } from '../api.js';
import type { TopologyIR } from '../ir.js';
import { DEFAULT_STREAM, Fields } from '../tuple.js';

/**
 * The task ids of each component, assigned as Storm does: from 1, components in id order; a
 * component has numTasks tasks, capped by topology.max.task.parallelism (component or topology level).
 */
export function assignTasks(ir: TopologyIR): Map<string, number[]> {
  const out = new Map<string, number[]>();
  let next = 1;
  for (const c of [...ir.components].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const ids: number[] = [];
    const cap = Number(c.config['topology.max.task.parallelism'] ?? ir.config['topology.max.task.parallelism'] ?? Infinity);
    const n = Number.isInteger(cap) && cap >= 1 ? Math.min(c.numTasks, cap) : c.numTasks;
    for (let i = 0; i < n; i++) ids.push(next++);
    out.set(c.id, ids);
  }
  return out;
}

export class TaskContext implements TopologyContext {
  constructor(
    private readonly topologyId: string,
    private readonly ir: TopologyIR,
    private readonly tasks: Map<string, number[]>,
    private readonly component: string,
    private readonly taskId: number,
    private readonly workerTasks: number[],
  ) {}
  getStormId(): string {
    return this.topologyId;
  }
  getThisComponentId(): string {
    return this.component;
  }
  getThisTaskId(): number {
    return this.taskId;
  }
  getThisTaskIndex(): number {
    return this.tasks.get(this.component)!.indexOf(this.taskId);
  }
  getComponentTasks(componentId: string): number[] {
    return [...(this.tasks.get(componentId) ?? [])];
  }
  getComponentOutputFields(componentId: string, streamId = DEFAULT_STREAM): Fields {
    const s = this.ir.components.find((c) => c.id === componentId)?.streams.find((x) => x.id === streamId);
    if (!s) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `component ${componentId} declares no stream ${JSON.stringify(streamId)}`);
    return new Fields(s.fields);
  }
  getThisStreams(): string[] {
    return this.ir.components.find((c) => c.id === this.component)!.streams.map((s) => s.id);
  }
  getThisSources(): string[] {
    return this.ir.components.find((c) => c.id === this.component)!.inputs.map((i) => `${i.component}:${i.stream}`);
  }
  getThisWorkerTasks(): number[] {
    return [...this.workerTasks];
  }
}
