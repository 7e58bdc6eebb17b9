import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import type { Column } from '../rexpr.js';
import type { Row } from './batch.js';
import type { SerDe } from './serde.js';

/**
 * Runtime sources of input streams that are not a bus (the bus sources run through the compute tier's
 * BusSpout, see planner.ts). `poll(max, now)` returns the rows available now, never waiting: the
 * spout calls it from nextTuple. Buffers are bounded; a TCP source pauses its socket while full.
 */
export interface RowSource {
  open(): Promise<void>;
  poll(max: number, now: number): Row[];
  /** True once the source will produce no more rows. */
  done(): boolean;
  close(): Promise<void>;
}

/** Rows handed in by code (tests, embedding programs): `push` appends, the spout drains. */
export class RowQueue implements RowSource {
  private rows: Row[] = [];
  private ended = false;
  push(...rows: Row[]): void {
    for (const r of rows) this.rows.push(r);
  }
  end(): void {
    this.ended = true;
  }
  async open(): Promise<void> {}
  poll(max: number): Row[] {
    if (this.rows.length === 0) return [];
    if (this.rows.length <= max) {
      const r = this.rows;
      this.rows = [];
      return r;
    }
    return this.rows.splice(0, max);
  }
  done(): boolean {
    return this.ended && this.rows.length === 0;
  }
  async close(): Promise<void> {}
}

const UNIT_MS: Record<string, number> = { DAYS: 86_400_000, HOURS: 3_600_000, MINUTES: 60_000, SECONDS: 1000, MILLISECONDS: 1, MICROSECONDS: 0.001, NANOSECONDS: 0.000001 };

export { seededRandom };

/**
 * RandomGen: random rows of the stream's schema. With isSchedule (default true) it emits
 * eventNumPerPeriod rows (default 1) every period (default 1) timeUnit (default SECONDS) on the
 * runtime clock; otherwise as fast as the topology takes them. Stops after totalNumber rows (0 or
 * absent: never); starts delayTime ms after opening. `seed` (a Monsoon setting, `monsoon.sql.seed`)
 * makes the rows repeatable.
 */
export function randomGen(props: Record<string, string>, columns: Column[], seed: number | undefined, now: () => number): RowSource {
  const p = Object.fromEntries(Object.entries(props).map(([k, v]) => [k.toLowerCase(), v]));
  const periodMs = Number(p.period ?? 1) * (UNIT_MS[(p.timeunit ?? 'SECONDS').toUpperCase()] ?? 1000);
  const perPeriod = Number(p.eventnumperperiod ?? 1);
  const scheduled = (p.isschedule ?? 'true').toLowerCase() !== 'false';
  const total = Number(p.totalnumber ?? 0);
  const delay = Number(p.delaytime ?? 0);
  const rnd = seededRandom(seed ?? (Math.random() * 2 ** 32) >>> 0);
  let produced = 0;
  let next = 0;
  let owed = 0;
  const value = (c: Column): unknown => {
    const r = rnd();
    switch (c.type) {
      case 'INT': return Math.floor(r * 100);
      case 'LONG': return Math.floor(r * 100_000);
      case 'FLOAT': return Math.fround(r * 100);
      case 'DOUBLE': case 'DECIMAL': return Math.round(r * 10_000) / 100;
      case 'BOOLEAN': return r < 0.5;
      case 'TIMESTAMP': return Date.now();
      case 'DATE': return Math.floor(Date.now() / 86_400_000) * 86_400_000;
      case 'TIME': return Math.floor(r * 86_400_000);
      default: return Math.floor(r * 1e9).toString(36);
    }
  };
  return {
    async open() { next = now() + delay; },
    poll(max, t) {
      if (total > 0 && produced >= total) return [];
      if (t < next) return [];
      let n = max;
      if (scheduled) {
        while (t >= next) {
          owed += perPeriod;
          next += periodMs;
        }
        n = Math.min(max, owed);
        owed -= n;
      }
      if (total > 0) n = Math.min(n, total - produced);
      const rows: Row[] = [];
      for (let i = 0; i < n; i++) rows.push(columns.map(value));
      produced += n;
      return rows;
    },
    done: () => total > 0 && produced >= total,
    async close() {},
  };
}

/** Lines of a socket or file decoded by the stream's SerDe; at most `limit` rows buffered. */
class LineBuffer {
  rows: Row[] = [];
  private rest = '';
  constructor(private readonly serde: SerDe, private readonly report: (e: unknown) => void) {}
  feed(text: string): void {
    const all = this.rest + text;
    const lines = all.split('\n');
    this.rest = lines.pop()!;
    for (const l of lines) {
      const line = l.endsWith('\r') ? l.slice(0, -1) : l;
      if (line === '') continue;
      try { this.rows.push(this.serde.read(line)); } catch (e) { this.report(e); }
    }
  }
  take(max: number): Row[] {
    if (this.rows.length <= max) {
      const r = this.rows;
      this.rows = [];
      return r;
    }
    return this.rows.splice(0, max);
  }
}

const BUFFER_ROWS = 10_000;

/** TCPClientInput: connects to server:port and reads one row per line; reconnects every second after a loss. */
export function tcpInput(host: string, port: number, serde: SerDe, report: (e: unknown) => void): RowSource {
  const buf = new LineBuffer(serde, report);
  let sock: Socket | undefined;
  let closed = false;
  const open = (): void => {
    if (closed) return;
    const s = connect({ host, port });
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf.feed(d);
      if (buf.rows.length >= BUFFER_ROWS) s.pause();
    });
    s.on('error', (e) => report(new MonsoonError(ErrorCodes.SQL_RUNTIME, `TCPClientInput ${host}:${port}: ${e.message}`)));
    s.on('close', () => { if (!closed) setTimeout(open, 1000).unref(); });
    sock = s;
  };
  return {
    async open() { open(); },
    poll(max) {
      const r = buf.take(max);
      if (sock?.isPaused() && buf.rows.length < BUFFER_ROWS / 2) sock.resume();
      return r;
    },
    done: () => false,
    async close() { closed = true; sock?.destroy(); },
  };
}

/**
 * FileInput: one row per line of a file, followed as it grows (checked on each poll, at most every
 * 200 ms) and across rotation: the file is held open, so lines written to it after a rename are read
 * to its end before the new file at `path` is opened (from its start); a file truncated in place
 * (copytruncate) is read again from its start.
 */
export function fileInput(path: string, fromBeginning: boolean, serde: SerDe, report: (e: unknown) => void): RowSource {
  const buf = new LineBuffer(serde, report);
  let fd: number | undefined;
  let ino = -1;
  let pos = 0;
  let lastCheck = 0;
  const chunk = Buffer.alloc(1 << 16);
  // Keeps the bytes of a character cut by a chunk's end until the next read completes it.
  let decoder = new StringDecoder('utf8');
  const reopen = (): boolean => {
    try {
      fd = openSync(path, 'r');
      ino = fstatSync(fd).ino;
      pos = 0;
      decoder = new StringDecoder('utf8');
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') report(e);
      return false;
    }
  };
  const close = (): void => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  /** Reads what the open file has; true once at its end. */
  const drain = (f: number): boolean => {
    if (fstatSync(f).size < pos) {
      pos = 0; // truncated in place: its new content starts over
      decoder = new StringDecoder('utf8');
    }
    let n = 0;
    while (buf.rows.length < BUFFER_ROWS && (n = readSync(f, chunk, 0, chunk.length, pos)) > 0) {
      pos += n;
      buf.feed(decoder.write(chunk.subarray(0, n)));
    }
    return n === 0;
  };
  return {
    async open() {
      if (reopen() && !fromBeginning) pos = fstatSync(fd!).size;
    },
    poll(max) {
      const t = Date.now();
      if (buf.rows.length < max && t - lastCheck >= 200) {
        lastCheck = t;
        try {
          if (fd === undefined) reopen();
          if (fd !== undefined && drain(fd)) {
            let now: number | undefined;
            try {
              now = statSync(path).ino;
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
            }
            if (now !== undefined && now !== ino) {
              // rotated: the old file is read to its end; a last line without a newline ends with it
              buf.feed(decoder.end() + '\n');
              close();
              if (reopen()) drain(fd!);
            }
          }
        } catch (e) {
          report(e);
        }
      }
      return buf.take(max);
    },
    done: () => false,
    async close() {
      close();
    },
  };
}
