/**
 * What StreamCQL operators pass each other: a batch of insert-stream rows (`ins`, Esper's new events)
 * and remove-stream rows (`rem`, old events) produced by one update — one arriving row for a sliding
 * window, a whole batch at a batch window's end. Rows are arrays in the node's schema order.
 */
export type Row = unknown[];

export interface Batch {
  ins: Row[];
  rem: Row[];
}

/** Where an operator sends its output batches (its consumers inside the task and across tasks). */
export type Out = (b: Batch) => void;

export interface Op {
  /** One update from input `port` (0 unless the operator has several inputs); `src` is the producing task. */
  push(b: Batch, port: number, src: number): void;
  /** Called on the runtime clock's ticks with its current time (ms). */
  tick?(now: number): void;
  /** Releases connections when the task stops. */
  close?(): Promise<void>;
}

/** What an operator may use of the task running it. */
export interface OpContext {
  /** The runtime clock (simulated in tests). */
  now(): number;
  /** Defers the current input's ack until the returned function is called (sinks writing asynchronously). */
  hold(): () => void;
  /** Reports an error without failing the input (a bad row, an unreachable sink), rate-limited by the runtime. */
  report(e: unknown): void;
}

export const EMPTY: Row[] = [];

export function fanOut(outs: Out[]): Out {
  if (outs.length === 1) return outs[0]!;
  if (outs.length === 0) return () => {};
  return (b) => {
    for (let i = 0; i < outs.length; i++) outs[i]!(b);
  };
}
