/**
 * An executor's input queue: batches of tuples per target task, bounded in bytes with high and low
 * watermarks. Producers are not refused (nothing is dropped); the scheduler stops running an
 * executor's producers while the queue is above its high watermark, until it drains below the low
 * one, so a queue holds at most its high watermark plus one producer turn.
 */
import type { Tuple } from '../tuple.js';

export class QueuedBatch {
  pos = 0;
  constructor(readonly task: number, readonly tuples: Tuple[]) {}
}

export class InputQueue {
  private batches: QueuedBatch[] = [];
  private head = 0;
  bytes = 0;
  count = 0;
  peakBytes = 0;
  /** True from crossing the high watermark until falling below the low one. */
  over = false;
  readonly high: number;
  readonly low: number;
  constructor(readonly capacityBytes: number, highFraction: number, lowFraction: number) {
    this.high = capacityBytes * highFraction;
    this.low = capacityBytes * lowFraction;
  }
  push(task: number, tuples: Tuple[], bytes: number): void {
    this.batches.push(new QueuedBatch(task, tuples));
    this.count += tuples.length;
    this.bytes += bytes;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
    if (this.bytes >= this.high) this.over = true;
  }
  /** The batch at the head, or undefined when empty. */
  peek(): QueuedBatch | undefined {
    return this.batches[this.head];
  }
  /** Accounts for `n` tuples of `bytes` taken from the head batch; drops the batch when consumed. */
  took(n: number, bytes: number, done: boolean): void {
    this.count -= n;
    this.bytes -= bytes;
    if (this.bytes < 0.5) this.bytes = 0;
    if (this.over && this.bytes <= this.low) this.over = false;
    if (done) {
      this.batches[this.head++] = undefined as unknown as QueuedBatch;
      if (this.head === this.batches.length) {
        this.batches.length = 0;
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.batches.length) {
        this.batches = this.batches.slice(this.head);
        this.head = 0;
      }
    }
  }
  /** Empties the queue, handing each batch's untaken tuples to `to` in queue order (rebalance). */
  drainTo(to: (task: number, tuples: Tuple[], bytes: number) => void): void {
    for (let i = this.head; i < this.batches.length; i++) {
      const b = this.batches[i]!;
      const rest = b.pos === 0 ? b.tuples : b.tuples.slice(b.pos);
      let bytes = 0;
      for (let k = 0; k < rest.length; k++) bytes += rest[k]!.bytes;
      if (rest.length > 0) to(b.task, rest, bytes);
    }
    this.batches = [];
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
    this.over = false;
  }
}
