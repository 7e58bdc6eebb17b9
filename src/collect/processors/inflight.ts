import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorCodes, errorMessage, MonsoonError } from '../../core/errors.js';
import type { InFlightLog } from '../contracts.js';

/**
 * The in-flight log of one sink group: which sinks hold a batch whose delivery outcome is unknown (sent,
 * no reply yet). After a crash the agent reads it back (`atStart`) and the group's processor offers the
 * rolled-back batch to the same sink first, so its receiver can drop the replay by event identity.
 *
 * File format: one JSON object `{"v":1,"inflight":{"k1":1}}` (sink → deliveries in flight), padded
 * with spaces to the longest record written so far and always written whole at offset 0 with one
 * writeSync on a descriptor opened once. Once writeSync returns, the bytes are in the kernel's page
 * cache, so they survive kill -9 of the process. There is no fsync: a power loss or kernel crash may
 * lose the last updates, which only costs the stickiness (a possible duplicate), never data.
 *
 * Entries read at start stay recorded until a sink of the group begins its next delivery: that
 * delivery re-sends the head batch, so from then on the live entries are the whole truth. A second
 * crash before that point still finds the old entries.
 */
interface InFlightRecord {
  v: 1;
  inflight: { [sink: string]: number };
}

/** Sinks recorded as in flight in the file at `path`; [] when it is missing or unreadable. */
export function readInFlight(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MonsoonError(ErrorCodes.IO, `cannot read the in-flight log ${path}: ${errorMessage(e)}`, { cause: e });
  }
  if (text.trim() === '') return [];
  try {
    const rec = JSON.parse(text) as Partial<InFlightRecord>;
    const inflight = rec.inflight ?? {};
    return Object.keys(inflight).filter((k) => typeof inflight[k] === 'number' && inflight[k]! > 0);
  } catch {
    // A record is written in one call and cannot be torn by a process crash; an unparsable file was
    // damaged otherwise, and losing stickiness is safe.
    return [];
  }
}

/** Where the agent keeps the in-flight log of a sink group (or of a lone sink, by its name). */
export function inFlightLogPath(dataDir: string, group: string): string {
  return join(dataDir, `inflight-${encodeURIComponent(group)}.json`);
}

export class FileInFlightLog implements InFlightLog {
  /** Sinks that were in flight when the file was opened (the previous run's state). */
  readonly atStart: readonly string[];
  private readonly counts = new Map<string, number>();
  private carried: string[];
  private fd: number | undefined;
  private written = 0;

  constructor(readonly path: string) {
    this.atStart = readInFlight(path);
    this.carried = [...this.atStart];
    try {
      mkdirSync(dirname(path), { recursive: true });
      // Read-write, created when missing, never truncated: the previous record stays until overwritten.
      this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (e) {
      throw this.ioError('open', e);
    }
    // A shorter record must still cover the previous run's longer one.
    this.written = fstatSync(this.fd).size;
    this.flush();
  }

  begin(sink: string): void {
    this.carried = [];
    this.counts.set(sink, (this.counts.get(sink) ?? 0) + 1);
    this.flush();
  }

  end(sink: string): void {
    const n = (this.counts.get(sink) ?? 0) - 1;
    if (n > 0) this.counts.set(sink, n);
    else this.counts.delete(sink);
    this.flush();
  }

  /** Sinks in flight now, including entries carried over from before the restart. */
  current(): string[] {
    return [...new Set([...this.carried, ...this.counts.keys()])];
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private flush(): void {
    if (this.fd === undefined) throw new MonsoonError(ErrorCodes.IO, `the in-flight log ${this.path} is closed`);
    const inflight: InFlightRecord['inflight'] = {};
    for (const s of this.carried) inflight[s] = 1;
    for (const [s, n] of this.counts) inflight[s] = n;
    const rec: InFlightRecord = { v: 1, inflight };
    let text = JSON.stringify(rec) + '\n';
    if (text.length < this.written) text = text.padEnd(this.written, ' ');
    const buf = Buffer.from(text, 'utf8');
    try {
      writeSync(this.fd, buf, 0, buf.length, 0);
    } catch (e) {
      throw this.ioError('write', e);
    }
    this.written = Math.max(this.written, buf.length);
  }

  private ioError(what: string, e: unknown): MonsoonError {
    return new MonsoonError(ErrorCodes.IO, `cannot ${what} the in-flight log ${this.path}: ${errorMessage(e)}`, { cause: e });
  }
}
