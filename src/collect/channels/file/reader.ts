import { open, type FileHandle } from 'node:fs/promises';
import type { Event } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import type { ComponentCounters } from '../../../core/metrics.js';
import { MalformedRecord, REC_EVENT, decodeEvent, frameAt, type Pointer } from './records.js';
import { dataFilePath } from './wal.js';

/**
 * Reads taken events back from the data files: one read per run of adjacent records (a committed put
 * transaction is one such run), all runs of a take in parallel. A record that fails its checksum is
 * counted, logged and skipped rather than failing every later take.
 */
export class EventReader {
  private readonly handles = new Map<number, Promise<FileHandle>>();

  constructor(
    private readonly channel: string,
    private readonly dataDirs: readonly string[],
    private readonly counters: ComponentCounters,
    private readonly log: Logger,
  ) {}

  private handle(f: number): Promise<FileHandle> {
    let r = this.handles.get(f);
    if (!r) {
      r = open(dataFilePath(this.dataDirs, f), 'r');
      r.catch(() => this.handles.delete(f));
      this.handles.set(f, r);
    }
    return r;
  }

  /** Closes the handle of a data file about to be deleted (or all of them). */
  async close(f?: number): Promise<void> {
    const ids = f === undefined ? [...this.handles.keys()] : [f];
    for (const id of ids) {
      const r = this.handles.get(id);
      this.handles.delete(id);
      if (r) await r.then((fh) => fh.close()).catch(() => {});
    }
  }

  /** The events of `ptrs`, in order; damaged records are left out. */
  async read(ptrs: readonly Pointer[]): Promise<Event[]> {
    const all = await this.readAligned(ptrs);
    return all.includes(undefined) ? all.filter((e): e is Event => e !== undefined) : (all as Event[]);
  }

  /** The events of `ptrs`, one per pointer, `undefined` for a damaged record. */
  async readAligned(ptrs: readonly Pointer[]): Promise<Array<Event | undefined>> {
    const runs: Array<{ from: number; to: number }> = [];
    for (let i = 0; i < ptrs.length; i++) {
      const last = runs[runs.length - 1];
      const p = ptrs[i]!;
      const prev = ptrs[i - 1];
      if (last && prev && prev.f === p.f && prev.o + prev.l === p.o) last.to = i + 1;
      else runs.push({ from: i, to: i + 1 });
    }
    const parts = await Promise.all(runs.map((r) => this.readRun(ptrs.slice(r.from, r.to))));
    return parts.length === 1 ? parts[0]! : parts.flat();
  }

  private async readRun(run: readonly Pointer[]): Promise<Array<Event | undefined>> {
    const first = run[0]!;
    const last = run[run.length - 1]!;
    const len = last.o + last.l - first.o;
    const buf = Buffer.allocUnsafe(len);
    const fh = await this.handle(first.f);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, first.o + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const out: Array<Event | undefined> = [];
    for (const p of run) {
      const rel = p.o - first.o;
      const fr = rel + p.l <= got ? frameAt(buf.subarray(0, rel + p.l), rel) : undefined;
      try {
        if (fr?.ok && fr.type === REC_EVENT && fr.end - rel === p.l) {
          out.push(decodeEvent(buf, fr.start, fr.end));
          continue;
        }
      } catch (e) {
        if (!(e instanceof MalformedRecord)) throw e;
      }
      out.push(undefined);
      this.counters.inc('CorruptRecordCount', 1);
      const path = dataFilePath(this.dataDirs, p.f);
      this.log.warn({ channel: this.channel, file: path, offset: p.o }, `channel ${this.channel}: damaged event record in ${path} at offset ${p.o}; the event is skipped`);
    }
    return out;
  }
}
