import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { acquireBus, type BusHandle } from '../../bus/shared.js';
import type { BusRecord } from '../../bus/bus.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Column } from '../rexpr.js';
import type { Row } from './batch.js';
import type { SerDe } from './serde.js';

/**
 * Runtime sinks of output streams. `write(rows, done)` takes the insert rows of one update; `done` is
 * called once they are written (or, for fire-and-forget sinks, at once), which lets the task ack its
 * input only then. Writes are batched: nothing waits per row.
 */
export interface SinkWriter {
  open(): Promise<void>;
  write(rows: Row[], done: () => void): void;
  close(): Promise<void>;
}

export interface SinkEnv {
  stream: string;
  columns: Column[];
  serde: SerDe;
  /** The bus for KafkaOutput without brokers. */
  defaultBus?: string;
  stdout: (text: string) => void;
  report: (e: unknown) => void;
}

export function createSink(name: string, rawProps: Record<string, string>, env: SinkEnv): SinkWriter {
  const p = Object.fromEntries(Object.entries(rawProps).map(([k, v]) => [k.toLowerCase().replace(/^operator\.[a-z0-9_]+\./, ''), v]));
  switch (name.toLowerCase().split('.').pop()) {
    case 'consoleoutput':
    case 'consoleprintop':
      return consoleSink(Math.max(1, Number(p.printfrequence ?? 1) || 1), env);
    case 'kafkaoutput':
    case 'kafkafunctionop':
      return busSink(p.brokers ? `kafka://${p.brokers}` : need(env.defaultBus, `KafkaOutput of stream ${env.stream} names no brokers; set brokers or give the bus with --bus`), p.topic!, undefined, env);
    case 'busoutput':
      return busSink(p.url!, p.topic!, p.key, env);
    case 'fileoutput':
      return fileSink(p.path!, Number(p.rollinterval ?? 0), env);
    case 'kvoutput':
      return kvSink(p.path!, p.key!, env);
    case 'postgresoutput':
      return pgSink(p.url!, p.table!, env);
    case 'tcpclientoutput':
    case 'tcpclientoutputoperator':
      return tcpSink(p.server!, Number(p.port), env);
    default:
      throw new MonsoonError(ErrorCodes.SQL_UNSUPPORTED, `SINK ${name} of stream ${env.stream} has no runtime implementation yet (available: ConsoleOutput, KafkaOutput, BusOutput, FileOutput, KVOutput, PostgresOutput, TCPClientOutput)`);
  }
}

function need(v: string | undefined, message: string): string {
  if (!v) throw new MonsoonError(ErrorCodes.SQL_BAD_PROPERTY, message);
  return v;
}

function consoleSink(every: number, env: SinkEnv): SinkWriter {
  let n = 0;
  return {
    open: async () => {},
    write(rows, done) {
      let text = '';
      for (const r of rows) if (n++ % every === 0) text += env.serde.write(r) + '\n';
      if (text) env.stdout(text);
      done();
    },
    close: async () => {},
  };
}

/** Records gathered while the task runs and produced in one call after it (setImmediate); acks follow the produce. */
function busSink(url: string, topic: string, keyColumn: string | undefined, env: SinkEnv): SinkWriter {
  let handle: BusHandle | undefined;
  let pending: BusRecord[] = [];
  let waiting: (() => void)[] = [];
  let scheduled = false;
  let inflight: Promise<void> = Promise.resolve();
  const keyIndex = keyColumn === undefined ? -1 : env.columns.findIndex((c) => c.name.toLowerCase() === keyColumn.toLowerCase());
  if (keyColumn !== undefined && keyIndex < 0) throw new MonsoonError(ErrorCodes.SQL_BAD_PROPERTY, `BusOutput of stream ${env.stream}: key column ${keyColumn} is not a column of the stream`);
  const flush = (): void => {
    scheduled = false;
    const records = pending;
    const dones = waiting;
    pending = [];
    waiting = [];
    if (records.length === 0) return;
    inflight = inflight
      .then(() => handle!.bus.produce(topic, records))
      .then(
        () => { for (const d of dones) d(); },
        (e: unknown) => {
          env.report(new MonsoonError(ErrorCodes.SQL_RUNTIME, `stream ${env.stream}: writing to topic ${topic} failed: ${(e as Error).message}`));
          for (const d of dones) d();
        },
      );
  };
  return {
    async open() {
      handle = await acquireBus(url);
      // Like Kafka's auto-create: a missing output topic is created with one partition.
      const topics = await handle.bus.admin.listTopics();
      if (!topics.includes(topic)) {
        try { await handle.bus.admin.createTopic(topic, { partitions: 1 }); } catch (e) { if (!(await handle.bus.admin.listTopics()).includes(topic)) throw e; }
      }
    },
    write(rows, done) {
      for (const r of rows) {
        const key = keyIndex >= 0 && r[keyIndex] !== null ? Buffer.from(String(r[keyIndex])) : null;
        pending.push({ key, value: Buffer.from(env.serde.write(r)) });
      }
      waiting.push(done);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    async close() {
      flush();
      await inflight;
      await handle?.release();
    },
  };
}

/** Rows gathered while the task runs and written in one call after it (setImmediate); acks follow the write. */
function batched(env: SinkEnv, what: string, writeAll: (rows: Row[]) => Promise<void>): Pick<SinkWriter, 'write'> & { drain(): Promise<void> } {
  let pending: Row[] = [];
  let waiting: (() => void)[] = [];
  let scheduled = false;
  let inflight: Promise<void> = Promise.resolve();
  const flush = (): void => {
    scheduled = false;
    const rows = pending;
    const dones = waiting;
    pending = [];
    waiting = [];
    if (rows.length === 0) return;
    inflight = inflight.then(() => writeAll(rows)).then(
      () => { for (const d of dones) d(); },
      (e: unknown) => {
        env.report(new MonsoonError(ErrorCodes.SQL_RUNTIME, `stream ${env.stream}: writing to ${what} failed: ${(e as Error).message}`));
        for (const d of dones) d();
      },
    );
  };
  return {
    write(rows, done) {
      for (const r of rows) pending.push(r);
      waiting.push(done);
      if (!scheduled) { scheduled = true; setImmediate(flush); }
    },
    async drain() { flush(); await inflight; },
  };
}

/** KVOutput: one store row per output row, keyed by the key column's text, one cell per column (family "d", table = stream name). */
function kvSink(dir: string, keyColumn: string, env: SinkEnv): SinkWriter {
  const ki = env.columns.findIndex((c) => c.name.toLowerCase() === keyColumn.toLowerCase());
  if (ki < 0) throw new MonsoonError(ErrorCodes.SQL_BAD_PROPERTY, `KVOutput of stream ${env.stream}: key column ${keyColumn} is not a column of the stream`);
  let handle: { store: import('../../store/kv/store.js').KvStore; release: () => Promise<void> } | undefined;
  const b = batched(env, `the key-value store ${dir}`, async (rows) => {
    const cells = [];
    for (const r of rows) {
      if (r[ki] === null) continue;
      const row = String(r[ki]);
      for (let i = 0; i < env.columns.length; i++) if (r[i] !== null) cells.push({ row, family: 'd', qualifier: env.columns[i]!.name, value: String(r[i]) });
    }
    await handle!.store.table(env.stream).write(cells);
  });
  return {
    async open() {
      const { acquireStore } = await import('../../store/kv/sink.js');
      handle = await acquireStore(dir);
    },
    write: b.write,
    async close() { await b.drain(); await handle?.release(); },
  };
}

/** PostgresOutput: one multi-row INSERT per batch into the table (columns by the stream's names, values bound as parameters). */
function pgSink(url: string, table: string, env: SinkEnv): SinkWriter {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) throw new MonsoonError(ErrorCodes.SQL_BAD_PROPERTY, `PostgresOutput of stream ${env.stream}: table ${table} must be a plain name or schema.name`);
  const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
  const head = `INSERT INTO ${table.split('.').map(q).join('.')} (${env.columns.map((c) => q(c.name)).join(', ')}) VALUES `;
  let pool: import('pg').Pool | undefined;
  const b = batched(env, `table ${table}`, async (rows) => {
    const w = env.columns.length;
    for (let at = 0; at < rows.length; at += 1000) {
      const part = rows.slice(at, at + 1000);
      const values: unknown[] = [];
      const tuples = part.map((r, k) => `(${r.map((v, i) => { values.push(env.columns[i]!.type === 'TIMESTAMP' && v !== null ? new Date(v as number) : v); return `$${k * w + i + 1}`; }).join(', ')})`);
      await pool!.query(head + tuples.join(', '), values);
    }
  });
  return {
    async open() {
      const { default: pg } = await import('pg');
      pool = new pg.Pool({ connectionString: url, max: 2 });
      pool.on('error', env.report);
    },
    write: b.write,
    async close() { await b.drain(); await pool?.end(); },
  };
}

function fileSink(dir: string, rollSecs: number, env: SinkEnv): SinkWriter {
  let out: WriteStream | undefined;
  let openedAt = 0;
  const roll = () => {
    out?.end();
    openedAt = Date.now();
    out = createWriteStream(join(dir, `${env.stream}-${openedAt}.txt`), { flags: 'a' });
    out.on('error', env.report);
  };
  return {
    async open() { mkdirSync(dir, { recursive: true }); roll(); },
    write(rows, done) {
      if (rollSecs > 0 && Date.now() - openedAt >= rollSecs * 1000) roll();
      let text = '';
      for (const r of rows) text += env.serde.write(r) + '\n';
      out!.write(text, () => done());
    },
    close: () => new Promise<void>((res) => (out ? out.end(() => res()) : res())),
  };
}

/** Delay before TCPClientOutput connects again after losing its server. */
const TCP_RECONNECT_MS = 1000;

/**
 * TCPClientOutput: one line per row to server:port. The first connection must succeed (a clear error
 * at submit); after a loss it reconnects every second, and rows whose write failed are written again
 * on the new connection, in order (their acks wait: at-least-once, as TCP cannot say what the server
 * read before the loss).
 */
function tcpSink(host: string, port: number, env: SinkEnv): SinkWriter {
  let sock: Socket | undefined;
  let closed = false;
  let writing = false;
  /** A failure was reported since the last connection: later ones of the same outage are not. */
  let reported = false;
  const queue: Array<{ text: string; done: () => void }> = [];
  const pump = (): void => {
    const s = sock;
    const item = queue[0];
    if (!s || writing || !item) return;
    writing = true;
    s.write(item.text, (err) => {
      writing = false;
      if (err) return; // the socket closes; the line goes again on the next connection
      queue.shift();
      item.done();
      pump();
    });
  };
  const dial = (first?: { res: () => void; rej: (e: Error) => void }): void => {
    const s = connect({ host, port }, () => {
      sock = s;
      reported = false;
      first?.res();
      pump();
    });
    s.on('error', (e) => {
      if (first && sock !== s) return first.rej(e);
      if (reported) return;
      reported = true;
      env.report(new MonsoonError(ErrorCodes.SQL_RUNTIME, `TCPClientOutput ${host}:${port}: ${e.message}; reconnecting every ${TCP_RECONNECT_MS / 1000} s, rows wait`));
    });
    s.on('close', () => {
      const was = sock === s;
      if (was) sock = undefined;
      writing = false;
      if (!closed && (was || !first)) setTimeout(() => !closed && dial(), TCP_RECONNECT_MS).unref();
    });
  };
  return {
    open: () => new Promise<void>((res, rej) => dial({ res, rej })),
    write(rows, done) {
      let text = '';
      for (const r of rows) text += env.serde.write(r) + '\n';
      queue.push({ text, done });
      pump();
    },
    close: () => {
      closed = true;
      return new Promise<void>((res) => (sock ? sock.end(() => res()) : res()));
    },
  };
}
