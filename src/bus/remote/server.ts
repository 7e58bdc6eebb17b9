import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import type { Bus, BusRecord, Consumer, OffsetCommit, SeekTarget, TopicConfig, TopicPartition } from '../bus.js';
import { decodeRecords, encodeConsumed, encodeFrame, ERROR_REPLY, errorHeader, FrameReader, Op, PROTOCOL_VERSION, REPLY, type Frame } from './protocol.js';

/**
 * Serves a Bus (normally the embedded log this process holds open) over the loopback protocol
 * (protocol.ts). Each connection handles its requests concurrently, in arrival order: produces to a
 * partition are appended in the order their frames arrived. Consumers opened on a connection are
 * members of the bus's groups like local ones; when the connection ends they are closed, so their
 * partitions go to the remaining members, which read on from the committed offsets.
 *
 * Backpressure: a connection stops reading while the bytes of its requests being handled plus its
 * replies not yet taken by the socket exceed `maxBufferedBytes`, or while 1,024 of its requests are
 * being handled.
 */
export interface BusServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Per connection (default 32 MiB). */
  maxBufferedBytes?: number;
  log?: Logger;
}

export interface BusServer {
  readonly host: string;
  readonly port: number;
  /** monsoon://host:port */
  readonly url: string;
  /** Stops accepting, lets requests being handled finish, closes every remote consumer and connection. Leaves the bus open. */
  close(): Promise<void>;
}

export async function serveBus(bus: Bus, opts: BusServerOptions = {}): Promise<BusServer> {
  const host = opts.host ?? '127.0.0.1';
  const limit = opts.maxBufferedBytes ?? 32 * 1024 * 1024;
  const log = opts.log ?? silentLogger;
  const conns = new Set<Connection>();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    const c = new Connection(socket, bus, limit, log);
    conns.add(c);
    void c.ended.then(() => conns.delete(c));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error({ err: e.message }, 'The bus server failed to accept a connection.'));
  const port = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url: `monsoon://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...conns].map((c) => c.shutdown()));
        await stopped;
      })()),
  };
}

/** Requests of one connection handled at once; reading waits beyond it (each may produce a reply of up to a poll's size). */
const MAX_IN_FLIGHT = 1024;

const str = (h: Record<string, unknown>, k: string): string => {
  const v = h[k];
  if (typeof v !== 'string') throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `a monsoon:// request lacks the string field ${k}`);
  return v;
};
const num = (h: Record<string, unknown>, k: string): number => {
  const v = h[k];
  if (typeof v !== 'number') throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `a monsoon:// request lacks the number field ${k}`);
  return v;
};

class Connection {
  private readonly reader = new FrameReader();
  private readonly consumers = new Map<number, Consumer>();
  private nextConsumer = 1;
  private greeted = false;
  private refused = false;
  private stopping = false;
  /** Bytes of requests being handled (their frames are held until the reply is queued). */
  private handling = 0;
  private readonly pending = new Set<Promise<void>>();
  private paused = false;
  private gone = false;
  readonly ended: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly bus: Bus,
    private readonly limit: number,
    private readonly log: Logger,
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk, (f, size) => this.handle(f, size));
      } catch (e) {
        this.log.warn({ err: (e as Error).message, peer: socket.remotePort }, 'A monsoon:// client broke the protocol; dropping its connection.');
        socket.destroy();
      }
    });
    socket.on('drain', () => this.flow());
    socket.on('error', () => {});
    this.ended = new Promise<void>((resolve) => socket.once('close', () => resolve(this.closeConsumers())));
  }

  private handle(f: Frame, size: number): void {
    if (this.refused) return;
    if (f.op === Op.HELLO) {
      // Answered at once, so requests pipelined behind it are served.
      if (f.header.version === PROTOCOL_VERSION) {
        this.greeted = true;
        this.reply(f.id, REPLY | f.op, { version: PROTOCOL_VERSION });
      } else {
        this.refused = true;
        const e = new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `this bus server speaks monsoon:// protocol version ${PROTOCOL_VERSION}; the client asked for version ${String(f.header.version)}`);
        this.reply(f.id, ERROR_REPLY, errorHeader(e));
        this.socket.end();
      }
      return;
    }
    if (!this.greeted) throw new Error(`the first request must be HELLO (op ${Op.HELLO}), got op ${f.op}`);
    this.handling += size;
    const run = this.dispatch(f).then(
      (r) => this.reply(f.id, REPLY | f.op, r.header, r.payload),
      (e: unknown) => this.reply(f.id, ERROR_REPLY, errorHeader(e)),
    );
    const done = run.finally(() => {
      this.handling -= size;
      this.pending.delete(done);
      this.flow();
    });
    this.pending.add(done);
    this.flow();
  }

  /** Pauses reading while too many bytes are buffered; resumes once below the bound. */
  private flow(): void {
    const buffered = this.handling + this.socket.writableLength;
    const over = buffered > this.limit || this.pending.size >= MAX_IN_FLIGHT;
    if (!this.paused && over) {
      this.paused = true;
      this.socket.pause();
    } else if (this.paused && !over) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private reply(id: number, op: number, header: unknown, payload?: Buffer): void {
    if (this.gone || this.socket.destroyed) return;
    let frame: Buffer[];
    try {
      frame = encodeFrame(id, op, header, payload);
    } catch (e) {
      frame = encodeFrame(id, ERROR_REPLY, errorHeader(e));
    }
    for (const part of frame) this.socket.write(part);
  }

  private consumer(h: Record<string, unknown>): Consumer {
    const id = num(h, 'consumer');
    const c = this.consumers.get(id);
    if (!c) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `consumer ${id} is closed (or was never opened on this connection)`);
    return c;
  }

  private async dispatch(f: Frame): Promise<{ header: unknown; payload?: Buffer }> {
    const h = f.header;
    switch (f.op) {
      case Op.CREATE_TOPIC:
        await this.bus.admin.createTopic(str(h, 'name'), (h.config ?? {}) as TopicConfig);
        return { header: {} };
      case Op.DESCRIBE_TOPIC:
        return { header: { topic: await this.bus.admin.describeTopic(str(h, 'name')) } };
      case Op.LIST_TOPICS:
        return { header: { topics: await this.bus.admin.listTopics() } };
      case Op.DELETE_TOPIC:
        await this.bus.admin.deleteTopic(str(h, 'name'));
        return { header: {} };
      case Op.PRODUCE: {
        const records = decodeRecords(f.payload, num(h, 'count'));
        withPartitions(records, h.partitions);
        const offsets = await this.bus.produce(str(h, 'topic'), records);
        const out = Buffer.allocUnsafe(offsets.length * 12);
        let at = 0;
        for (const o of offsets) {
          at = out.writeUInt32BE(o.partition, at);
          at = out.writeDoubleBE(o.offset, at);
        }
        return { header: {}, payload: out };
      }
      case Op.LAG:
        return { header: { lag: await this.bus.lag(str(h, 'group')) } };
      case Op.CONSUMER_OPEN: {
        if (!Array.isArray(h.topics) || !h.topics.every((t) => typeof t === 'string')) throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, 'consumer: topics must be a list of topic names');
        const c = await this.bus.consumer(str(h, 'group'), h.topics as string[], h.from === undefined ? {} : { from: h.from as 'earliest' | 'latest' });
        if (this.gone) {
          await c.close();
          throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, 'the connection closed while the consumer joined', { retriable: true });
        }
        const id = this.nextConsumer++;
        this.consumers.set(id, c);
        return { header: { consumer: id, assignment: c.assignment() } };
      }
      case Op.POLL: {
        const c = this.consumer(h);
        const batches = await c.poll(num(h, 'maxRecords'), num(h, 'timeoutMs'));
        if (this.stopping) throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, 'the bus server is shutting down; the consumer left its group', { retriable: true });
        const records = batches.flatMap((b) => b.records);
        return {
          header: { batches: batches.map((b) => [b.topic, b.partition, b.records.length]), assignment: c.assignment() },
          payload: encodeConsumed(records),
        };
      }
      case Op.COMMIT: {
        const c = this.consumer(h);
        await c.commit(h.offsets === undefined ? undefined : (h.offsets as OffsetCommit[]));
        return { header: { assignment: c.assignment() } };
      }
      case Op.SEEK: {
        const c = this.consumer(h);
        await c.seek(h.tp as TopicPartition, h.target as SeekTarget);
        return { header: { assignment: c.assignment() } };
      }
      case Op.ASSIGNMENT:
        return { header: { assignment: this.consumer(h).assignment() } };
      case Op.CONSUMER_CLOSE: {
        const id = num(h, 'consumer');
        const c = this.consumers.get(id);
        this.consumers.delete(id);
        await c?.close();
        return { header: {} };
      }
      default:
        throw new MonsoonError(ErrorCodes.BUS_UNSUPPORTED, `unknown monsoon:// op ${f.op} (protocol version ${PROTOCOL_VERSION})`);
    }
  }

  /** Ends the connection's group memberships: its consumers leave like crashed ones, without committing. */
  private async closeConsumers(): Promise<void> {
    this.gone = true;
    const cs = [...this.consumers.values()];
    this.consumers.clear();
    await Promise.allSettled(cs.map((c) => c.close()));
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    // Consumers first: a long poll returns at once, so its reply is not waited for.
    await this.closeConsumers();
    await Promise.allSettled([...this.pending]);
    this.socket.end();
    // A client that does not read its last replies is cut off rather than holding the shutdown.
    const cut = setTimeout(() => this.socket.destroy(), 2000);
    await this.ended;
    clearTimeout(cut);
  }
}

/** Applies a PRODUCE header's `partitions` (one entry per record, null for records naming none). */
function withPartitions(records: BusRecord[], partitions: unknown): void {
  if (partitions === undefined) return;
  if (!Array.isArray(partitions) || partitions.length !== records.length) {
    throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `a PRODUCE frame's partitions list has ${Array.isArray(partitions) ? partitions.length : 'no'} entries for ${records.length} records`);
  }
  for (let i = 0; i < records.length; i++) {
    const p: unknown = partitions[i];
    if (p === null) continue;
    if (typeof p !== 'number') throw new MonsoonError(ErrorCodes.BUS_INVALID_ARGUMENT, `a PRODUCE frame names partition ${JSON.stringify(p)} for record ${i}`);
    records[i]!.partition = p;
  }
}
