/**
 * The acker: Storm's XOR tuple-tree tracking. Each tuple edge has a random 64-bit id (two int32
 * halves). A tree's value starts as the XOR of the edges its spout tuple created; a bolt's ack XORs in
 * the input's edge and the edges of the tuples it anchored to that input. Every edge enters the value
 * twice (created, acked), so the value returns to 0 exactly when the whole tree is processed — with a
 * false completion chance of 2^-64 per ack. A fail, or a tree older than the message timeout, reports
 * the spout's message as failed.
 *
 * Trees live in slots of flat typed arrays (no Map per tree); a root id is `generation * 2^24 + slot`,
 * so acks for a slot that was reused (a late ack after a timeout) are recognised and ignored. A
 * distributed runtime partitions root ids over acker tables as Storm partitions them over acker tasks.
 */
import { ErrorCodes, MonsoonError } from '../core/errors.js';

const SLOT_BITS = 24;
const SLOTS = 2 ** SLOT_BITS;
const GEN_LIMIT = 2 ** 28;

export interface AckerListener {
  /** The tree rooted at the spout's message completed; `startedAt` is when the spout emitted it. */
  treeAcked(spoutTask: number, msgId: unknown, startedAt: number): void;
  treeFailed(spoutTask: number, msgId: unknown, startedAt: number, reason: 'failed' | 'timeout'): void;
}

export class Acker {
  private cap = 0;
  private gen = new Int32Array(0);
  private valHi = new Int32Array(0);
  private valLo = new Int32Array(0);
  private start = new Float64Array(0);
  private spoutTask = new Int32Array(0);
  private msgIds: unknown[] = [];
  private live = new Uint8Array(0);
  private free = new Int32Array(0);
  private freeTop = 0;
  private used = 0;
  private count = 0;
  /** Counters for the `__acker` component's metrics. */
  acked = 0;
  failed = 0;
  timedOut = 0;
  executed = 0;

  /** `genLimit` below 2^28 leaves room above the root ids for a worker index (runtime/workers.ts). */
  constructor(private readonly listener: AckerListener, public timeoutMs: number, private readonly genLimit = GEN_LIMIT) {
    this.grow(1024);
  }

  /** Trees not yet completed. */
  pending(): number {
    return this.count;
  }

  /** Registers a tree for a spout message (value 0 until `xor` adds the spout tuple's edges). */
  open(spoutTask: number, msgId: unknown, now: number): number {
    let slot: number;
    if (this.freeTop > 0) slot = this.free[--this.freeTop]!;
    else {
      if (this.used === this.cap) this.grow(this.cap * 2);
      slot = this.used++;
    }
    const g = this.gen[slot]! + 1 >= this.genLimit ? 1 : this.gen[slot]! + 1;
    this.gen[slot] = g;
    this.valHi[slot] = 0;
    this.valLo[slot] = 0;
    this.start[slot] = now;
    this.spoutTask[slot] = spoutTask;
    this.msgIds[slot] = msgId;
    this.live[slot] = 1;
    this.count++;
    return g * SLOTS + slot;
  }

  /** XORs an edge value into a tree; completes it when the value reaches 0. Unknown roots are ignored. */
  xor(root: number, hi: number, lo: number): void {
    this.executed++;
    const slot = root % SLOTS;
    if (slot >= this.used || this.live[slot] === 0 || this.gen[slot] !== (root - slot) / SLOTS) return;
    const h = (this.valHi[slot] = this.valHi[slot]! ^ hi);
    const l = (this.valLo[slot] = this.valLo[slot]! ^ lo);
    if (h === 0 && l === 0) {
      const msgId = this.msgIds[slot];
      const task = this.spoutTask[slot]!;
      const started = this.start[slot]!;
      this.release(slot);
      this.acked++;
      this.listener.treeAcked(task, msgId, started);
    }
  }

  fail(root: number): void {
    this.executed++;
    const slot = root % SLOTS;
    if (slot >= this.used || this.live[slot] === 0 || this.gen[slot] !== (root - slot) / SLOTS) return;
    const msgId = this.msgIds[slot];
    const task = this.spoutTask[slot]!;
    const started = this.start[slot]!;
    this.release(slot);
    this.failed++;
    this.listener.treeFailed(task, msgId, started, 'failed');
  }

  /** The spout message id of a live tree; undefined once it completed, failed or timed out. */
  messageOf(root: number): unknown {
    const slot = root % SLOTS;
    if (slot >= this.used || this.live[slot] === 0 || this.gen[slot] !== (root - slot) / SLOTS) return undefined;
    return this.msgIds[slot];
  }

  /** Restarts a tree's timeout (OutputCollector.resetTimeout). */
  touch(root: number, now: number): void {
    const slot = root % SLOTS;
    if (slot < this.used && this.live[slot] === 1 && this.gen[slot] === (root - slot) / SLOTS) this.start[slot] = now;
  }

  /** Fails every tree older than the timeout; returns how many. */
  expire(now: number): number {
    const limit = now - this.timeoutMs;
    let n = 0;
    for (let slot = 0; slot < this.used; slot++) {
      if (this.live[slot] === 1 && this.start[slot]! <= limit) {
        const msgId = this.msgIds[slot];
        const task = this.spoutTask[slot]!;
        const started = this.start[slot]!;
        this.release(slot);
        this.timedOut++;
        n++;
        this.listener.treeFailed(task, msgId, started, 'timeout');
      }
    }
    return n;
  }

  private release(slot: number): void {
    this.live[slot] = 0;
    this.msgIds[slot] = undefined;
    this.free[this.freeTop++] = slot;
    this.count--;
  }

  private grow(cap: number): void {
    if (cap > SLOTS) throw new MonsoonError(ErrorCodes.TOPOLOGY_EMIT, `more than ${SLOTS} tuple trees pending; set topology.max.spout.pending`);
    const re = <A extends Int32Array | Float64Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.gen = re(this.gen, (n) => new Int32Array(n));
    this.valHi = re(this.valHi, (n) => new Int32Array(n));
    this.valLo = re(this.valLo, (n) => new Int32Array(n));
    this.start = re(this.start, (n) => new Float64Array(n));
    this.spoutTask = re(this.spoutTask, (n) => new Int32Array(n));
    this.live = re(this.live, (n) => new Uint8Array(n));
    this.free = re(this.free, (n) => new Int32Array(n));
    this.msgIds.length = cap;
    this.cap = cap;
  }
}

/**
 * Random 64-bit edge ids as int32 halves: xorshift128 seeded from the platform's CSPRNG, so an id costs
 * a few integer operations instead of a crypto call.
 */
export class EdgeIds {
  private x: number;
  private y: number;
  private z: number;
  private w: number;
  hi = 0;
  lo = 0;
  constructor(seed?: Uint32Array) {
    const s = seed ?? crypto.getRandomValues(new Uint32Array(4));
    this.x = s[0]! | 1;
    this.y = s[1]! | 0;
    this.z = s[2]! | 0;
    this.w = s[3]! | 0;
  }
  private step(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8));
    return this.w;
  }
  /** Draws the next non-zero id into `hi`/`lo`. */
  next(): void {
    do {
      this.hi = this.step();
      this.lo = this.step();
    } while (this.hi === 0 && this.lo === 0);
  }
}
