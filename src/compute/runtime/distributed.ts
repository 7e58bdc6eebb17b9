/**
 * The distributed runtime (Kafka Streams' model): every worker process, on any machine, runs the
 * whole topology on the local runtime, and the bus does the rest.
 *
 * - Bus spouts join their consumer group, so the bus's group membership splits the input partitions
 *   between the workers and moves them when a worker joins or leaves (no cluster manager of our own).
 * - An edge whose grouping must see a key in one place — FIELDS, or GLOBAL — is cut by a repartition
 *   topic `<topology>-<component>-repartition`: upstream tuples are produced to it keyed by the
 *   grouping fields (murmur2 → partition) and the downstream component reads it in group
 *   `<topology>-<component>`. Each partition has one owner at a time, so each key is processed by one
 *   worker (and, inside it, by the task the fields grouping picks). Other groupings stay inside the
 *   worker (SHUFFLE, LOCAL_OR_SHUFFLE, ALL, PARTIAL_KEY, DIRECT, CUSTOM reach the worker's own tasks).
 * - Tuple trees end at the repartition produce: its acknowledgement acks the upstream tree (and lets
 *   the input spout commit), and the downstream read starts new trees. A worker that dies leaves its
 *   partitions' uncommitted records to the next owner, which reads them again from the committed
 *   offsets: at-least-once end to end; sinks that must be exact write idempotently.
 *
 * `planDistributed` is a pure rewrite of the topology (IR + component code); `startWorker` creates
 * the repartition topics when missing and runs the rewritten topology.
 */
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { acquireSharedBus, releaseSharedBus } from '../spouts/shared-bus.js';
import type { TopologyConfig } from '../api.js';
import { validateIR, type ComponentIR, type InputIR, type TopologyIR } from '../ir.js';
import type { StormTopology } from '../topology.js';
import { LocalCluster, type LocalTopology } from './local.js';
import { RepartitionSink, RepartitionSpout, type RepartitionedInput } from './repartition.js';

export interface RepartitionTopic {
  /** The component reading it. */
  component: string;
  topic: string;
  group: string;
  partitions: number;
  sink: string;
  spout: string;
}

export interface DistributedPlan {
  topology: StormTopology;
  repartitions: RepartitionTopic[];
}

export function repartitionTopic(topology: string, component: string): string {
  return `${topology}-${component}-repartition`;
}

/**
 * Rewrites a topology for one worker: each bolt with FIELDS or GLOBAL inputs gets a sink bolt
 * (`<bolt>.repartition.out`) taking those inputs and a spout (`<bolt>.repartition.in`) that replays
 * them, with the same groupings, into the bolt. Partitions: `topology.repartition.partitions`
 * (component or topology level), default the bolt's task count but at least 4; 1 for a GLOBAL input.
 */
export function planDistributed(topology: StormTopology, name: string, bus: string): DistributedPlan {
  const ir = topology.ir;
  const components = new Map(topology.components);
  const out: ComponentIR[] = [];
  const repartitions: RepartitionTopic[] = [];
  const ids = new Set(ir.components.map((c) => c.id));
  for (const c of ir.components) {
    const cut = c.inputs.filter((i) => i.grouping.type === 'FIELDS' || i.grouping.type === 'GLOBAL');
    if (c.kind === 'spout' || cut.length === 0) {
      out.push(c);
      continue;
    }
    const sinkId = `${c.id}.repartition.out`;
    const spoutId = `${c.id}.repartition.in`;
    for (const id of [sinkId, spoutId]) if (ids.has(id)) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `component ${JSON.stringify(id)}: the distributed runtime needs this id for ${c.id}'s repartition topic; rename the component`);
    const global = cut.some((i) => i.grouping.type === 'GLOBAL');
    const inputs: RepartitionedInput[] = cut.map((i) => {
      const src = ir.components.find((x) => x.id === i.component)!;
      const fields = src.streams.find((s) => s.id === i.stream)!.fields;
      return {
        component: i.component,
        stream: i.stream,
        fields,
        keyIndex: i.grouping.type === 'FIELDS' ? i.grouping.fields!.map((f) => fields.indexOf(f)) : [],
        spoutStream: `${i.component}:${i.stream}`,
      };
    });
    const configured = Number(c.config['topology.repartition.partitions'] ?? ir.config['topology.repartition.partitions'] ?? 0);
    const partitions = global ? 1 : Number.isInteger(configured) && configured > 0 ? configured : Math.max(4, c.numTasks);
    const topic = repartitionTopic(name, c.id);
    const group = `${name}-${c.id}`;
    repartitions.push({ component: c.id, topic, group, partitions, sink: sinkId, spout: spoutId });
    out.push({
      id: sinkId,
      kind: 'bolt',
      className: 'RepartitionSink',
      parallelism: 1,
      numTasks: 1,
      config: {},
      inputs: cut.map((i): InputIR => ({ component: i.component, stream: i.stream, grouping: { type: 'LOCAL_OR_SHUFFLE' } })),
      streams: [],
    });
    out.push({
      id: spoutId,
      kind: 'spout',
      className: 'RepartitionSpout',
      parallelism: 1,
      numTasks: 1,
      config: {},
      inputs: [],
      streams: inputs.map((i) => ({ id: i.spoutStream, fields: i.fields, direct: false })),
    });
    out.push({
      ...c,
      inputs: c.inputs.map((i, k) => {
        const n = cut.indexOf(i);
        return n < 0 ? c.inputs[k]! : { component: spoutId, stream: inputs[n]!.spoutStream, grouping: i.grouping };
      }),
    });
    components.set(sinkId, new RepartitionSink({ bus, topic, inputs }));
    components.set(spoutId, new RepartitionSpout({ bus, topic, group, inputs }));
  }
  const planned: TopologyIR = { ...ir, name, components: out };
  validateIR(planned);
  return { topology: { ...topology, ir: planned, components }, repartitions };
}

export interface WorkerOptions {
  name: string;
  /** The bus carrying the repartition topics (the input topics are the bus spouts' own). */
  bus: string;
  conf?: TopologyConfig;
  logger?: Logger;
}

export interface Worker {
  readonly cluster: LocalCluster;
  readonly topology: LocalTopology;
  readonly plan: DistributedPlan;
  stop(): Promise<void>;
}

/** Starts one worker: creates missing repartition topics, then runs the rewritten topology here. */
export async function startWorker(topology: StormTopology, o: WorkerOptions): Promise<Worker> {
  const plan = planDistributed(topology, o.name, o.bus);
  if (plan.repartitions.length > 0) {
    const bus = await acquireSharedBus(o.bus);
    try {
      for (const r of plan.repartitions) {
        try {
          await bus.admin.createTopic(r.topic, { partitions: r.partitions });
        } catch (e) {
          if (!(e instanceof MonsoonError) || e.code !== ErrorCodes.BUS_TOPIC_EXISTS) throw e;
          const have = (await bus.admin.describeTopic(r.topic)).partitions.length;
          if (have !== r.partitions) {
            throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `repartition topic ${r.topic} has ${have} partitions, the topology asks for ${r.partitions}; delete the topic (its unconsumed records are lost) or set topology.repartition.partitions to ${have}`);
          }
        }
      }
    } finally {
      await releaseSharedBus(o.bus);
    }
  }
  const cluster = new LocalCluster({
    ...(o.logger ? { logger: o.logger } : {}),
    rebalanceRefusal: `distributed workers rebalance through the bus's group membership: start or stop \`monsoon worker\` processes for topology ${o.name} and the consumer groups reassign partitions`,
  });
  const t = await cluster.submitTopology(o.name, o.conf ?? {}, plan.topology);
  o.logger?.info({ topology: t.id, repartitions: plan.repartitions.map((r) => r.topic) }, `worker of topology ${o.name} joined its consumer groups on ${o.bus}`);
  return {
    cluster,
    topology: t,
    plan,
    stop: async () => {
      await drainTopology(t, DRAIN_MS);
      await cluster.shutdown();
    },
  };
}

/** How long a stopping worker lets in-flight tuple trees finish before closing its components. */
export const DRAIN_MS = 10_000;

/**
 * Deactivates the spouts and waits (at most `maxMs`) until no tuple tree rooted here is pending, so
 * a stopping worker commits what it started instead of leaving it for replay.
 */
export async function drainTopology(t: LocalTopology, maxMs: number): Promise<void> {
  t.deactivate();
  const end = Date.now() + maxMs;
  while ((t.acker?.pending() ?? 0) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}
