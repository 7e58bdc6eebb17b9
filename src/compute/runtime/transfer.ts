/**
 * Transfer between the worker processes of one machine (runtime/workers.ts): which worker runs which
 * executor, links that carry tuple batches and acks over Unix sockets, and the acker partitioned by
 * root id.
 *
 * Frames: `u32 length · payload`, the payload a V8 structured-clone serialisation of
 *   `{ k: 'b', task, s: stream index[], src: source task[], v: values[], r: root[], h: edgeHi[],
 *      l: edgeLo[], m: (more roots | null)[] }`  — one batch of tuples for one target task, or
 *   `{ k: 'a', x: [root, hi, lo, …], f: [root, …], t: [root, …] }` — XORs, fails and timeout resets
 *      for trees whose acker lives in the receiving worker, gathered over one event-loop turn.
 * An emit buffer handed over by an executor is one frame. A link counts as full (its sender's
 * executors stop, as for a full local queue) while the socket holds more unsent bytes than its bound;
 * a receiver stops reading a link while the queue it just fed is above its high watermark, so the
 * bound holds end to end.
 *
 * Root ids: worker w's acker hands out `localRoot · 2^bits + w` (bits = ⌈log2 workers⌉), so any
 * worker sees from a root id where its tree's acker is — Storm picks the acker task by hashing the
 * root id the same way.
 */
import type { Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';
import { Acker, type AckerListener } from '../acker.js';
import type { TopologyIR } from '../ir.js';
import { estimateBytes, Fields, StreamInfo, Tuple } from '../tuple.js';
import { assignTasks } from './context.js';
import type { Executor } from './executor.js';

/** Worker index of every task: executors (Storm's task split) dealt round-robin over the workers. */
export function assignWorkers(ir: TopologyIR, workers: number): Map<number, number> {
  const tasks = assignTasks(ir);
  const out = new Map<number, number>();
  let exec = 0;
  for (const c of ir.components) {
    const ids = tasks.get(c.id)!;
    const executors = Math.min(c.parallelism, ids.length);
    for (let e = 0; e < executors; e++) {
      const from = Math.floor((e * ids.length) / executors);
      const to = Math.floor(((e + 1) * ids.length) / executors);
      for (const t of ids.slice(from, to)) out.set(t, exec % workers);
      exec++;
    }
  }
  return out;
}

/** Every (component, stream) of the topology, numbered the same in every worker. */
export class StreamTable {
  readonly infos: StreamInfo[] = [];
  private readonly index = new Map<string, number>();
  constructor(ir: TopologyIR) {
    for (const c of ir.components) {
      for (const s of c.streams) {
        this.index.set(`${c.id}\u0000${s.id}`, this.infos.length);
        this.infos.push(new StreamInfo(c.id, s.id, new Fields(s.fields)));
      }
    }
  }
  indexOf(info: StreamInfo): number {
    return this.index.get(`${info.component}\u0000${info.stream}`)!;
  }
}

interface BatchFrame {
  k: 'b';
  task: number;
  s: number[];
  src: number[];
  v: unknown[][];
  r: number[];
  h: number[];
  l: number[];
  m: (number[] | null)[];
}
interface AckFrame {
  k: 'a';
  x: number[];
  f: number[];
  t: number[];
}
export type Frame = BatchFrame | AckFrame;

export function encodeFrame(f: Frame): Buffer {
  const body = serialize(f);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    let pos = 0;
    while (this.buf.length - pos >= 4) {
      const n = this.buf.readUInt32BE(pos);
      if (this.buf.length - pos - 4 < n) break;
      out.push(deserialize(this.buf.subarray(pos + 4, pos + 4 + n)) as Frame);
      pos += 4 + n;
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    return out;
  }
}

/** The executor stand-in for the tasks of one other worker: its queue writes batches to the link. */
export class Link {
  private x: number[] = [];
  private f: number[] = [];
  private t: number[] = [];
  private scheduled = false;
  private last: StreamInfo | null = null;
  private lastIndex = 0;
  /** Counters: frames and tuples sent. */
  frames = 0;
  tuples = 0;
  readonly queue: { push(task: number, tuples: Tuple[], bytes: number): void; readonly over: boolean };
  constructor(
    readonly worker: number,
    private readonly sock: Socket,
    private readonly streams: StreamTable,
    /** Unsent bytes at which the link counts as full. */
    private readonly highBytes: number,
  ) {
    const link = this;
    this.queue = {
      push: (task, tuples) => link.sendBatch(task, tuples),
      get over() {
        return sock.writableLength >= link.highBytes;
      },
    };
  }
  /** The stand-in the runtime files under executorOfTask for this worker's tasks. */
  asExecutor(): Executor {
    return this as unknown as Executor;
  }
  private sendBatch(task: number, tuples: Tuple[]): void {
    const n = tuples.length;
    const f: BatchFrame = { k: 'b', task, s: new Array<number>(n), src: new Array<number>(n), v: new Array<unknown[]>(n), r: new Array<number>(n), h: new Array<number>(n), l: new Array<number>(n), m: new Array<number[] | null>(n) };
    for (let i = 0; i < n; i++) {
      const t = tuples[i]!;
      if (t.info !== this.last) {
        this.last = t.info;
        this.lastIndex = this.streams.indexOf(t.info);
      }
      f.s[i] = this.lastIndex;
      f.src[i] = t.sourceTask;
      f.v[i] = t.values;
      f.r[i] = t.root;
      f.h[i] = t.edgeHi;
      f.l[i] = t.edgeLo;
      f.m[i] = t.more;
    }
    this.frames++;
    this.tuples += n;
    this.sock.write(encodeFrame(f));
  }
  ackXor(root: number, hi: number, lo: number): void {
    this.x.push(root, hi, lo);
    this.schedule();
  }
  ackFail(root: number): void {
    this.f.push(root);
    this.schedule();
  }
  ackTouch(root: number): void {
    this.t.push(root);
    this.schedule();
  }
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const frame: AckFrame = { k: 'a', x: this.x, f: this.f, t: this.t };
      this.x = [];
      this.f = [];
      this.t = [];
      if (!this.sock.destroyed) this.sock.write(encodeFrame(frame));
    });
  }
}

/** Rebuilds a received batch as tuples (values, source, tree ids) for the target task's queue. */
export function decodeBatch(f: BatchFrame, streams: StreamTable): { tuples: Tuple[]; bytes: number } {
  const n = f.s.length;
  const tuples = new Array<Tuple>(n);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const values = f.v[i]!;
    const b = estimateBytes(values);
    const t = new Tuple(values, streams.infos[f.s[i]!]!, f.src[i]!, b);
    t.root = f.r[i]!;
    t.edgeHi = f.h[i]!;
    t.edgeLo = f.l[i]!;
    t.more = f.m[i] ?? null;
    tuples[i] = t;
    bytes += b;
  }
  return { tuples, bytes };
}

/** One worker's part of the acker: trees rooted here are tracked here; others go to their worker. */
export class RoutingAcker extends Acker {
  private readonly scale: number;
  constructor(
    listener: AckerListener,
    timeoutMs: number,
    private readonly me: number,
    bits: number,
    private readonly links: (Link | undefined)[],
  ) {
    super(listener, timeoutMs, 2 ** (28 - bits));
    this.scale = 2 ** bits;
  }
  override open(spoutTask: number, msgId: unknown, now: number): number {
    return super.open(spoutTask, msgId, now) * this.scale + this.me;
  }
  override xor(root: number, hi: number, lo: number): void {
    const w = root % this.scale;
    if (w === this.me) super.xor((root - w) / this.scale, hi, lo);
    else this.links[w]?.ackXor(root, hi, lo);
  }
  override fail(root: number): void {
    const w = root % this.scale;
    if (w === this.me) super.fail((root - w) / this.scale);
    else this.links[w]?.ackFail(root);
  }
  override touch(root: number, now: number): void {
    const w = root % this.scale;
    if (w === this.me) super.touch((root - w) / this.scale, now);
    else this.links[w]?.ackTouch(root);
  }
  /** Applies an ack frame from another worker (its roots are this worker's). */
  apply(f: AckFrame, now: number): void {
    const x = f.x;
    for (let i = 0; i < x.length; i += 3) this.xor(x[i]!, x[i + 1]!, x[i + 2]!);
    for (const r of f.f) this.fail(r);
    for (const r of f.t) this.touch(r, now);
  }
}
