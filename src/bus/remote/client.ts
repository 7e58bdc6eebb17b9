import { connect, type Socket } from 'node:net';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Bus, BusAdmin, BusRecord, Consumer, ConsumerOptions, OffsetCommit, PartitionBatch, PartitionLag, ProducedOffset, SeekTarget, TopicConfig, TopicDescription, TopicPartition } from '../bus.js';
import { cursor, decodeConsumed, encodeFrame, encodeRecords, ERROR_REPLY, errorFromHeader, FrameReader, Op, PROTOCOL_VERSION, REPLY, type Frame } from './protocol.js';

/**
 * A Bus served by another Monsoon process (`monsoon bus serve`), reached over the loopback protocol
 * (protocol.ts). One connection carries every request of this bus and its consumers, many in flight.
 *
 * - A lost connection fails the requests in flight with MON_ERR_BUS_UNAVAILABLE (retriable); a
 *   produce among them may or may not have been stored (at-least-once when retried).
 * - Admin calls, produce and new consumers reconnect on their next call.
 * - A consumer belongs to the connection it joined on: when that connection is lost, the server ends
 *   its group membership (its partitions go to the other members, from the committed offsets) and
 *   every later call on it fails with MON_ERR_BUS_UNAVAILABLE (retriable) — close it and open a new one.
 */
export interface RemoteBusOptions {
  /** Gives up connecting after this long (default 5 s). */
  connectTimeoutMs?: number;
}

const unavailable = (what: string, cause?: unknown) => new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, what, { retriable: true, cause });

interface Pending {
  resolve(f: Frame): void;
  reject(e: Error): void;
}

class Link {
  private readonly reader = new FrameReader();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  lost: MonsoonError | undefined;
  private readonly onLost = new Set<() => void>();

  private constructor(
    private readonly socket: Socket,
    readonly where: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk, (f) => this.settle(f));
      } catch (e) {
        this.fail(unavailable(`${where} sent a malformed frame: ${(e as Error).message}`));
        socket.destroy();
      }
    });
    socket.on('error', (e) => this.fail(unavailable(`lost the connection to ${where}: ${e.message}`, e)));
    socket.on('close', () => this.fail(unavailable(`lost the connection to ${where}`)));
  }

  static open(host: string, port: number, timeoutMs: number): Promise<Link> {
    const where = `monsoon://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return new Promise<Link>((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(unavailable(`cannot reach the bus at ${where}: no connection after ${timeoutMs} ms`));
      }, timeoutMs);
      const refused = (e: Error) => {
        clearTimeout(timer);
        reject(unavailable(`cannot reach the bus at ${where}: ${e.message}`, e));
      };
      socket.once('error', refused);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', refused);
        const link = new Link(socket, where);
        link.request(Op.HELLO, { version: PROTOCOL_VERSION }).then(
          () => resolve(link),
          (e: unknown) => {
            link.close();
            reject(e as Error);
          },
        );
      });
    });
  }

  request(op: number, header: unknown, payload?: Buffer): Promise<Frame> {
    if (this.lost) return Promise.reject(this.lost);
    const frame = encodeFrame(0, op, header, payload);
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    frame[0]!.writeUInt32BE(id, 4);
    return new Promise<Frame>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      for (const part of frame) this.socket.write(part);
    });
  }

  whenLost(fn: () => void): () => void {
    this.onLost.add(fn);
    return () => this.onLost.delete(fn);
  }

  private settle(f: Frame): void {
    const p = this.pending.get(f.id);
    if (!p) return;
    this.pending.delete(f.id);
    if (f.op === ERROR_REPLY) p.reject(errorFromHeader(f.header));
    else if ((f.op & REPLY) === 0) p.reject(unavailable(`${this.where} replied with op ${f.op}, which is not a reply`));
    else p.resolve(f);
  }

  private fail(e: MonsoonError): void {
    if (this.lost) return;
    this.lost = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const fn of this.onLost) fn();
  }

  close(): void {
    this.fail(new MonsoonError(ErrorCodes.BUS_CLOSED, `the connection to ${this.where} is closed`));
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

export async function openRemoteBus(host: string, port: number, opts: RemoteBusOptions = {}): Promise<RemoteBus> {
  const bus = new RemoteBus(host, port, opts.connectTimeoutMs ?? 5000);
  await bus.connect();
  return bus;
}

export class RemoteBus implements Bus {
  readonly admin: BusAdmin;
  readonly url: string;
  private link: Link | undefined;
  private connecting: Promise<Link> | undefined;
  private closed = false;
  private readonly consumers = new Set<RemoteConsumer>();
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly connectTimeoutMs: number,
  ) {
    this.url = `monsoon://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.admin = {
      createTopic: async (name: string, config: TopicConfig) => {
        await this.call(Op.CREATE_TOPIC, { name, config });
      },
      describeTopic: async (name: string) => (await this.call(Op.DESCRIBE_TOPIC, { name })).header.topic as TopicDescription,
      listTopics: async () => (await this.call(Op.LIST_TOPICS, {})).header.topics as string[],
      deleteTopic: async (name: string) => {
        await this.call(Op.DELETE_TOPIC, { name });
      },
    };
  }

  /** Opens the connection now (it is otherwise opened by the first call); fails when the server cannot be reached. */
  async connect(): Promise<void> {
    await this.connection();
  }

  /** The live connection, opened (again) when there is none. */
  private async connection(): Promise<Link> {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.url} is closed`);
    if (this.link && !this.link.lost) return this.link;
    this.connecting ??= Link.open(this.host, this.port, this.connectTimeoutMs).then(
      (l) => {
        this.connecting = undefined;
        if (this.closed) {
          l.close();
          throw new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.url} is closed`);
        }
        this.link = l;
        return l;
      },
      (e: unknown) => {
        this.connecting = undefined;
        throw e;
      },
    );
    return this.connecting;
  }

  private async call(op: number, header: unknown, payload?: Buffer): Promise<Frame> {
    return (await this.connection()).request(op, header, payload);
  }

  async produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]> {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `the bus at ${this.url} is closed`);
    const payload = encodeRecords(topic, records, Date.now());
    // Partitions named by records travel in the header (absent when none does), as `null` for the others.
    const partitions = records.some((r) => r.partition !== undefined) ? records.map((r) => r.partition ?? null) : undefined;
    const run = this.call(Op.PRODUCE, partitions ? { topic, count: records.length, partitions } : { topic, count: records.length }, payload);
    this.inflight.add(run);
    try {
      const f = await run;
      if (f.payload.length !== records.length * 12) throw unavailable(`${this.url} acknowledged ${f.payload.length / 12} places for a produce of ${records.length} records`);
      const out: ProducedOffset[] = new Array(records.length);
      for (let i = 0, at = 0; i < records.length; i++, at += 12) out[i] = { partition: f.payload.readUInt32BE(at), offset: f.payload.readDoubleBE(at + 4) };
      return out;
    } finally {
      this.inflight.delete(run);
    }
  }

  async consumer(group: string, topics: string[], opts: ConsumerOptions = {}): Promise<Consumer> {
    const link = await this.connection();
    const f = await link.request(Op.CONSUMER_OPEN, { group, topics, from: opts.from });
    const c = new RemoteConsumer(link, f.header.consumer as number, group, f.header.assignment as TopicPartition[], () => this.consumers.delete(c));
    this.consumers.add(c);
    return c;
  }

  async lag(group: string): Promise<PartitionLag[]> {
    return (await this.call(Op.LAG, { group })).header.lag as PartitionLag[];
  }

  /** Lets produces in flight finish, closes the consumers, then the connection. The served bus stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.inflight]);
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    this.closed = true;
    this.link?.close();
    await this.connecting?.catch(() => {});
  }
}

export class RemoteConsumer implements Consumer {
  private owned: TopicPartition[];
  private closed = false;
  private readonly unwatch: () => void;

  constructor(
    private readonly link: Link,
    private readonly id: number,
    private readonly group: string,
    assignment: TopicPartition[],
    private readonly onClose: () => void,
  ) {
    this.owned = assignment;
    this.unwatch = link.whenLost(() => {
      this.owned = [];
    });
  }

  private async call(op: number, header: Record<string, unknown>): Promise<Frame> {
    if (this.closed) throw new MonsoonError(ErrorCodes.BUS_CLOSED, `consumer ${this.id} of group ${this.group} is closed`);
    if (this.link.lost) throw unavailable(`consumer ${this.id} of group ${this.group} lost its connection to ${this.link.where}, which ended its group membership; open a new consumer`);
    const f = await this.link.request(op, { consumer: this.id, ...header });
    if (Array.isArray(f.header.assignment)) this.owned = f.header.assignment as TopicPartition[];
    return f;
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<PartitionBatch[]> {
    const f = await this.call(Op.POLL, { maxRecords, timeoutMs });
    const c = cursor(f.payload);
    return (f.header.batches as Array<[string, number, number]>).map(([topic, partition, count]) => ({ topic, partition, records: decodeConsumed(c, topic, partition, count) }));
  }

  async commit(offsets?: OffsetCommit[]): Promise<void> {
    await this.call(Op.COMMIT, offsets === undefined ? {} : { offsets: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })) });
  }

  async seek(tp: TopicPartition, target: SeekTarget): Promise<void> {
    await this.call(Op.SEEK, { tp: { topic: tp.topic, partition: tp.partition }, target });
  }

  assignment(): TopicPartition[] {
    return this.owned.map(({ topic, partition }) => ({ topic, partition }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owned = [];
    this.unwatch();
    this.onClose();
    // A lost connection already ended the membership.
    if (!this.link.lost) await this.link.request(Op.CONSUMER_CLOSE, { consumer: this.id }).catch(() => {});
  }
}
