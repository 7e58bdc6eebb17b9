import { SimClock } from '../../compute/runtime/clock.js';
import { LocalCluster, type LocalTopology } from '../../compute/runtime/local.js';
import { compileScript } from '../index.js';
import { planTopology } from '../planner.js';
import type { Row } from './batch.js';
import { RowQueue } from './sources.js';

/**
 * Runs a StreamCQL script on the local runtime in manual mode with a simulated clock: tests push rows
 * into input streams, move time, and read what each output stream received. Used by the result tests
 * and by embedding programs that want deterministic runs.
 */
export class SqlHarness {
  readonly clock = new SimClock();
  readonly out = new Map<string, Row[]>();
  private readonly queues = new Map<string, RowQueue>();
  private topology!: LocalTopology;
  private cluster!: LocalCluster;

  static async start(script: string, opts: { baseDir?: string; realSinks?: boolean } = {}): Promise<SqlHarness> {
    const h = new SqlHarness();
    const r = compileScript(script);
    if (r.errors.length > 0) throw new Error(r.errors.map((e) => e.message).join('; '));
    for (const n of r.plan!.nodes) if (n.op === 'source') h.queues.set(n.stream.toLowerCase(), new RowQueue());
    const topo = await planTopology(r.plan!, {
      clock: h.clock,
      inputs: h.queues,
      ...(opts.realSinks ? {} : {
        capture: (stream: string, rows: Row[]) => {
          const list = h.out.get(stream.toLowerCase()) ?? [];
          list.push(...rows);
          h.out.set(stream.toLowerCase(), list);
        },
      }),
      ...(opts.baseDir ? { baseDir: opts.baseDir } : {}),
    });
    h.cluster = new LocalCluster({ clock: h.clock, manual: true });
    h.topology = await h.cluster.submitTopology(r.plan!.application ?? 'test', {}, topo);
    return h;
  }

  /** Pushes rows into an input stream and runs until everything is processed. */
  send(stream: string, ...rows: Row[]): this {
    this.queues.get(stream.toLowerCase())!.push(...rows);
    this.topology.runUntilIdle();
    return this;
  }

  /** Moves the simulated clock forward and runs until idle. */
  advance(ms: number): this {
    this.clock.advance(ms);
    this.topology.runUntilIdle();
    return this;
  }

  /** The rows an output stream received so far, then forgets them. */
  take(stream: string): Row[] {
    const rows = this.out.get(stream.toLowerCase()) ?? [];
    this.out.delete(stream.toLowerCase());
    return rows;
  }

  async stop(): Promise<void> {
    await this.cluster.shutdown();
  }
}
