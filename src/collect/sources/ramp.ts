/**
 * Batch sizes of a source that reads a backlog (TAILDIR, spooldir): the first batch holds at most
 * RAMP_FIRST events and each batch handed to the channel doubles the next one's size up to the
 * configured `batchSize`, which stays the maximum (the meaning Flume gives it). A process that starts
 * behind a large backlog thus hands its first events to the channel, and every stage after it, after
 * one small commit and sync instead of a full batch's worth done while its code is still cold: the
 * first events come out of the pipeline sooner. Reads are unchanged (the sources read ahead in
 * chunks). The ramp is climbed once per source instance and never reset; a restarted agent climbs it
 * again.
 */
export const RAMP_FIRST = 64;

export class BatchRamp {
  private cur: number;

  constructor(
    readonly max: number,
    first = RAMP_FIRST,
  ) {
    this.cur = Math.max(1, Math.min(max, first));
  }

  /** The most events the next batch may hold. */
  get size(): number {
    return this.cur;
  }

  /** Called for each batch handed to the channel (TAILDIR: once delivered; spooldir: as it starts). */
  grow(): void {
    if (this.cur < this.max) this.cur = Math.min(this.max, this.cur * 2);
  }
}
