/** An array-backed FIFO with O(1) amortised push, shift and unshift-of-a-batch. */
export class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  pushAll(xs: readonly T[]): void {
    for (const x of xs) this.items.push(x);
  }

  /** Removes and returns up to `n` items from the head. */
  shiftMany(n: number): T[] {
    const end = Math.min(this.items.length, this.head + n);
    const out = this.items.slice(this.head, end);
    this.head = end;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** Puts `xs` back at the head, keeping their order (rollback of a take). */
  unshiftAll(xs: readonly T[]): void {
    if (xs.length <= this.head) {
      this.head -= xs.length;
      for (let i = 0; i < xs.length; i++) this.items[this.head + i] = xs[i]!;
    } else {
      this.items = [...xs, ...this.items.slice(this.head)];
      this.head = 0;
    }
  }

  toArray(): T[] {
    return this.items.slice(this.head);
  }
}
