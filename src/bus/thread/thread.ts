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
import { detachOnceNow } from '../../core/transfer.js';
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

/**
 * The feeding thread's end: a Bus whose produce and admin go over `port`, consumers to `consumerUrl`.
 * The port outlives the bus: closing the bus leaves it open, so the thread may open the bus again on
 * it (a component restarted); whoever created the port closes it.
 */
export async function openThreadBus(port: MessagePort, consumerUrl: string): Promise<Bus> {
  const bus = new ThreadBus(port, consumerUrl);
  try {
    const hello = (await bus.call('hello', [])) as { maxRecordBytes: number };
    bus.maxRecordBytes = hello.maxRecordBytes;
  } catch (e) {
    await bus.close();
    throw e;
  }
  return bus;
}

/** Request ids unique in this thread, so replies to a closed bus's requests never reach a new bus on the same port. */
let nextRequestId = 1;

class ThreadBus implements Bus {
  readonly admin: BusAdmin;
  maxRecordBytes = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly partitions = new Map<string, number>();
  private readonly partitioner = new Partitioner();
  private remote: Promise<Bus> | undefined;
  private closed = false;

  constructor(
    private readonly port: MessagePort,
    private readonly consumerUrl: string,
  ) {
    detachOnceNow(); // produce transfers batches (see core/transfer.ts)
    port.on('message', this.onReply);
    port.once('close', this.onClose);
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

  private readonly onReply = (m: Reply): void => {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new MonsoonError(m.error.code as ErrorCode, m.error.message, { retriable: m.error.retriable }));
  };

  /** The port closed: nothing sent on it would ever be answered. */
  private readonly onClose = (): void => {
    this.closed = true;
    this.fail(new MonsoonError(ErrorCodes.BUS_CLOSED, 'the thread holding the embedded log closed its end', { retriable: true }));
  };

  call(op: Op, args: unknown[], transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed) return Promise.reject(new MonsoonError(ErrorCodes.BUS_CLOSED, 'this bus is closed'));
    const id = nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.port.postMessage({ id, op, args } satisfies Request, transfer);
      } catch (e) {
        this.pending.delete(id);
        reject(e);
      }
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
    let bases: number[];
    try {
      bases = (await this.call('append', [topic, wire], transfer)) as number[];
    } catch (e) {
      // The topic may have been deleted or recreated with other partitions by someone else: ask again next time.
      if (e instanceof MonsoonError && (e.code === ErrorCodes.BUS_INVALID_ARGUMENT || e.code === ErrorCodes.BUS_UNKNOWN_TOPIC)) this.partitions.delete(topic);
      throw e;
    }
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
    this.port.off('message', this.onReply);
    this.port.off('close', this.onClose);
    if (!this.closed) {
      this.closed = true;
      this.fail(new MonsoonError(ErrorCodes.BUS_CLOSED, 'this bus is closed'));
    }
    const remote = this.remote;
    this.remote = undefined;
    if (remote) await (await remote.catch(() => undefined))?.close();
  }
}
