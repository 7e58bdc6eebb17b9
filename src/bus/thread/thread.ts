/**
 * An embedded log held by one thread, fed by another thread of the same process over a MessagePort
 * (the server's collector thread writing to the log its main thread serves). The feeding thread
 * checks, partitions and encodes records itself (embedded/produce.ts) and hands over finished batches
 * by transferring their memory, so the log's thread does no work per record: it stamps offsets,
 * appends, syncs and answers with each part's first offset. Admin calls and lag go over the port as
 * well; consumers, which want the log's reads, connect to the log's monsoon:// address.
 *
 * Messages (structured clone):
 *   → { id, op: 'hello' }                                         ← { id, ok, result: { maxRecordBytes } }
 *   → { id, op: 'append', topic, parts: [{ partition, batches: Uint8Array[], counts }] }
 *                                                                 ← { id, ok, result: number[] (first offsets) }
 *   → { id, op: 'createTopic' | 'describeTopic' | 'listTopics' | 'deleteTopic' | 'lag', args }
 *   ← { id, ok: false, error: { code, message, retriable } } for any failure
 */
import type { MessagePort } from 'node:worker_threads';
import { ErrorCodes, errorMessage, MonsoonError, type ErrorCode } from '../../core/errors.js';
import type { Bus, BusAdmin, BusRecord, Consumer, ConsumerOptions, PartitionLag, ProducedOffset, TopicConfig, TopicDescription } from '../bus.js';
import type { EmbeddedBus } from '../embedded/embedded.js';
import { encodeProduce, producedOffsets } from '../embedded/produce.js';
import { Partitioner } from '../partitioner.js';

type Op = 'hello' | 'append' | 'createTopic' | 'describeTopic' | 'listTopics' | 'deleteTopic' | 'lag';
interface Request {
  id: number;
  op: Op;
  args: unknown[];
}
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { code: string; message: string; retriable: boolean } };
interface WirePart {
  partition: number;
  batches: Uint8Array[];
  counts: number[];
}

/** Serves `bus` to the thread at the other end of `port` until the port closes. */
export function serveThreadBus(bus: EmbeddedBus, port: MessagePort): void {
  const run = (op: Op, args: unknown[]): Promise<unknown> | unknown => {
    switch (op) {
      case 'hello':
        return { maxRecordBytes: bus.recordLimit };
      case 'append': {
        const [topic, parts] = args as [string, WirePart[]];
        return bus.appendEncoded(
          topic,
          parts.map((p) => ({ partition: p.partition, counts: p.counts, batches: p.batches.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)) })),
        );
      }
      case 'createTopic':
        return bus.admin.createTopic(args[0] as string, args[1] as TopicConfig);
      case 'describeTopic':
        return bus.admin.describeTopic(args[0] as string);
      case 'listTopics':
        return bus.admin.listTopics();
      case 'deleteTopic':
        return bus.admin.deleteTopic(args[0] as string);
      case 'lag':
        return bus.lag(args[0] as string);
    }
  };
  port.on('message', (m: Request) => {
    void (async () => run(m.op, m.args))().then(
      (result) => port.postMessage({ id: m.id, ok: true, result } satisfies Reply),
      (e: unknown) =>
        port.postMessage({
          id: m.id,
          ok: false,
          error: e instanceof MonsoonError ? { code: e.code, message: e.message, retriable: e.retriable } : { code: ErrorCodes.IO, message: errorMessage(e), retriable: true },
        } satisfies Reply),
    );
  });
}

/** The feeding thread's end: a Bus whose produce and admin go over `port`, consumers to `consumerUrl`. */
export async function openThreadBus(port: MessagePort, consumerUrl: string): Promise<Bus> {
  const bus = new ThreadBus(port, consumerUrl);
  const hello = (await bus.call('hello', [])) as { maxRecordBytes: number };
  bus.maxRecordBytes = hello.maxRecordBytes;
  return bus;
}

class ThreadBus implements Bus {
  readonly admin: BusAdmin;
  maxRecordBytes = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly partitions = new Map<string, number>();
  private readonly partitioner = new Partitioner();
  private remote: Promise<Bus> | undefined;
  private closed = false;

  constructor(
    private readonly port: MessagePort,
    private readonly consumerUrl: string,
  ) {
    port.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new MonsoonError(m.error.code as ErrorCode, m.error.message, { retriable: m.error.retriable }));
    });
    port.on('close', () => this.fail(new MonsoonError(ErrorCodes.BUS_CLOSED, 'the thread holding the embedded log closed its end', { retriable: true })));
    this.admin = {
      createTopic: async (name, cfg) => {
        this.partitions.delete(name);
        await this.call('createTopic', [name, cfg]);
      },
      describeTopic: async (name) => (await this.call('describeTopic', [name])) as TopicDescription,
      listTopics: async () => (await this.call('listTopics', [])) as string[],
      deleteTopic: async (name) => {
        this.partitions.delete(name);
        await this.call('deleteTopic', [name]);
      },
    };
  }

  call(op: Op, args: unknown[], transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed) return Promise.reject(new MonsoonError(ErrorCodes.BUS_CLOSED, 'this bus is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.port.postMessage({ id, op, args } satisfies Request, transfer);
    });
  }

  private fail(e: unknown): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  async produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]> {
    if (records.length === 0) {
      await this.admin.describeTopic(topic); // an empty produce still names a topic that must exist
      return [];
    }
    let partitions = this.partitions.get(topic);
    if (partitions === undefined) {
      partitions = (await this.admin.describeTopic(topic)).partitions.length;
      this.partitions.set(topic, partitions);
    }
    const parts = encodeProduce(topic, partitions, records, this.partitioner, this.maxRecordBytes, Date.now());
    // A batch that owns its memory moves to the log's thread without a copy; a small one cut from
    // Node's shared buffer pool is copied (moving it would take the pool away from this thread).
    const transfer: ArrayBuffer[] = [];
    const wire: WirePart[] = parts.map((p) => ({
      partition: p.partition,
      counts: p.counts,
      batches: p.batches.map((b) => {
        if (b.byteOffset === 0 && b.buffer.byteLength === b.length && b.buffer instanceof ArrayBuffer) {
          transfer.push(b.buffer);
          return b;
        }
        return new Uint8Array(b);
      }),
    }));
    const bases = (await this.call('append', [topic, wire], transfer)) as number[];
    return producedOffsets(parts, bases, records.length);
  }

  private remoteBus(): Promise<Bus> {
    return (this.remote ??= import('../url.js').then(({ openBus }) => openBus(this.consumerUrl)));
  }

  async consumer(group: string, topics: string[], opts?: ConsumerOptions): Promise<Consumer> {
    return (await this.remoteBus()).consumer(group, topics, opts);
  }

  async lag(group: string): Promise<PartitionLag[]> {
    return (await this.call('lag', [group])) as PartitionLag[];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new MonsoonError(ErrorCodes.BUS_CLOSED, 'this bus is closed'));
    this.port.close();
    if (this.remote) await (await this.remote.catch(() => undefined))?.close();
  }
}
