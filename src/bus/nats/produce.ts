import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { BusRecord, ProducedOffset } from '../bus.js';
import { checkRecordShape, recordError } from '../names.js';
import { Partitioner } from '../partitioner.js';
import { unknownTopic } from './errors.js';
import { encodeHeaderName, encodeHeaderValue, HEADER_KEY, HEADER_TS, layout, type TopicMeta } from './layout.js';
import { PublishError, Publisher } from './publisher.js';

/** A bounded window of unacknowledged publishes, in records and bytes. */
class Window {
  private records = 0;
  private bytes = 0;
  private waiters: Array<() => void> = [];
  constructor(
    private readonly maxRecords: number,
    private readonly maxBytes: number,
  ) {}
  /** True when there is room now; otherwise wait for `room()`. */
  tryAcquire(bytes: number): boolean {
    if (this.records > 0 && (this.records >= this.maxRecords || this.bytes + bytes > this.maxBytes)) return false;
    this.records++;
    this.bytes += bytes;
    return true;
  }
  room(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release(bytes: number): void {
    this.records--;
    this.bytes -= bytes;
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }
}

/** What producing needs from the bus. */
export interface NatsProducerHost {
  readonly nc: NatsConnection;
  readonly prefix: string;
  /** How long a batch may go without progress before what is unanswered fails. */
  readonly timeout: number;
  meta(topic: string, fresh?: boolean): Promise<TopicMeta>;
  /** Drops a topic's cached metadata. */
  forget(topic: string): void;
  mapError(e: unknown, what: string): MonsoonError;
}

/**
 * The produce path: encodes a batch's records as NATS messages, publishes every one without waiting
 * between them — at most `maxInFlight` records and `maxInFlightBytes` bytes unacknowledged over the
 * whole bus — and resolves once JetStream acknowledged each.
 */
export class NatsProducer {
  private readonly partitioner = new Partitioner();
  private readonly publisher: Publisher;
  private readonly window: Window;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly host: NatsProducerHost,
    maxInFlight: number,
    maxInFlightBytes: number,
  ) {
    this.publisher = new Publisher(host.nc);
    this.window = new Window(maxInFlight, maxInFlightBytes);
  }

  async produce(topic: string, records: BusRecord[]): Promise<ProducedOffset[]> {
    const host = this.host;
    const meta = await host.meta(topic);
    if (records.length === 0) return [];
    const now = Date.now();
    const maxPayload = host.nc.info?.max_payload ?? 1024 * 1024;
    const encoded = records.map((r, i) => encodeRecord(topic, r, i, now, maxPayload));
    const parts = this.partitioner.assign(topic, meta.partitions, records);
    const result: ProducedOffset[] = new Array(records.length);
    const acks: Promise<void>[] = [];
    const tokens: string[] = [];
    const streams: string[] = [];
    const subjects: string[] = [];
    // Fails what is unanswered after `timeout` without progress (the window freeing up counts as progress).
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        expired = true;
        this.publisher.expire(tokens, host.timeout);
      }, host.timeout);
    };
    const all = (async () => {
      arm();
      for (let i = 0; i < records.length && !expired; i++) {
        const { h, size } = encoded[i]!;
        if (!this.window.tryAcquire(size)) {
          do await this.window.room();
          while (!this.window.tryAcquire(size));
          arm();
        }
        const p = parts[i]!;
        const stream = (streams[p] ??= layout.stream(host.prefix, meta, p));
        acks.push(
          this.publisher
            .publish((subjects[p] ??= layout.subject(host.prefix, meta, p)), records[i]!.value, h, tokens)
            .then((ack) => {
              if (ack.stream !== stream) throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `produce to ${topic}: stream ${ack.stream} acknowledged a record meant for ${stream}`, { retriable: true });
              result[i] = { partition: p, offset: ack.seq - 1 };
            })
            .finally(() => this.window.release(size)),
        );
      }
      arm();
      const settled = await Promise.allSettled(acks);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      if (acks.length < records.length) throw new PublishError(`no room among the bus's unacknowledged records within ${host.timeout} ms; ${acks.length} of ${records.length} records were sent`, 408);
    })();
    this.inflight.add(all);
    try {
      await all;
    } catch (e) {
      throw await this.produceError(topic, meta, e);
    } finally {
      if (timer) clearTimeout(timer);
      this.inflight.delete(all);
    }
    return result;
  }

  /** Resolves once every produce under way has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  close(): void {
    this.publisher.close();
  }

  /** Why a produce failed: the topic gone or re-created, or the server's reason. */
  private async produceError(topic: string, meta: TopicMeta, e: unknown): Promise<MonsoonError> {
    if (e instanceof PublishError && (e.code === 503 || e.code === 10059)) {
      this.host.forget(topic);
      const now = await this.host.meta(topic, true).catch((err: unknown) => err);
      if (now instanceof MonsoonError && now.code === ErrorCodes.BUS_UNKNOWN_TOPIC) return unknownTopic(topic);
      if (!(now instanceof Error) && (now as TopicMeta).id !== meta.id) {
        return new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `produce to ${topic}: the topic was deleted and created again; retry to use it`, { retriable: true, cause: e });
      }
    }
    return this.host.mapError(e, `produce to ${topic}`);
  }
}

/** A record as NATS message headers (layout.ts), and its size as a message; checks it fits `maxPayload`. */
function encodeRecord(topic: string, r: BusRecord, i: number, now: number, maxPayload: number): { h: MsgHdrs; size: number } {
  const bad = (what: string, code?: typeof ErrorCodes.BUS_RECORD_TOO_LARGE) => recordError(topic, i, what, code);
  checkRecordShape(topic, r, i);
  const h = headers();
  const ts = String(r.timestamp === undefined ? now : Math.trunc(r.timestamp));
  h.set(HEADER_TS, ts);
  let size = r.value.length + 16 + HEADER_TS.length + ts.length + 4;
  if (r.key) {
    const k = r.key.toString('base64');
    h.set(HEADER_KEY, k);
    size += HEADER_KEY.length + k.length + 4;
  }
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    if (typeof v !== 'string') throw bad(`has header ${JSON.stringify(k)} whose value is not a string`);
    let name: string, value: string;
    try {
      name = encodeHeaderName(k);
      value = encodeHeaderValue(v);
    } catch {
      throw bad(`has header ${JSON.stringify(k)} that is not well-formed Unicode`);
    }
    h.set(name, value);
    size += name.length + value.length + 4;
  }
  if (size > maxPayload) throw bad(`is ${size} bytes as a NATS message (value, key and headers); the server's max_payload is ${maxPayload}`, ErrorCodes.BUS_RECORD_TOO_LARGE);
  return { h, size };
}
