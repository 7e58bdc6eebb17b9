import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/**
 * JetStream publishes with acknowledgements, many in flight on one connection. Each message is a
 * plain NATS publish whose reply subject is `<inbox>.<token>` on one subscription of this bus; the
 * stream answers there with `{"stream", "seq"}` or `{"error": {...}}`, and the server with a 503
 * status when no stream listens on the subject. This is JetStream's publish protocol as the client's
 * own `publish` speaks it, without a request object, timer and reply subscription per message, which
 * cost the client about ten times the server's work at Monsoon's batch sizes; timeouts are one timer
 * per batch instead.
 */
export interface PubAck {
  stream: string;
  seq: number;
}

/** Why one publish failed. `code` is JetStream's err_code, 503 when no stream listens, 408 on timeout. */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

interface Pending {
  resolve(a: PubAck): void;
  reject(e: Error): void;
}

const decoder = new TextDecoder();

export class Publisher {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  private seq = 0;

  constructor(private readonly nc: NatsConnection) {
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => (err ? this.failAll(err) : this.onReply(m)) });
  }

  /**
   * Publishes one message; `batch` collects the tokens of one produce so `expire` can fail what is
   * still unanswered when the produce's time is up.
   */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs, batch: string[]): Promise<PubAck> {
    const token = (++this.seq).toString(36);
    const p = new Promise<PubAck>((resolve, reject) => this.pending.set(token, { resolve, reject }));
    batch.push(token);
    try {
      this.nc.publish(subject, data, { reply: `${this.inbox}.${token}`, headers });
    } catch (e) {
      this.settle(token, undefined, e as Error);
    }
    return p;
  }

  /** Fails every publish of `batch` still waiting for its acknowledgement. */
  expire(batch: string[], ms: number): void {
    for (const t of batch) this.settle(t, undefined, new PublishError(`no acknowledgement within ${ms} ms; the record may or may not be stored`, 408));
  }

  private settle(token: string, ack: PubAck | undefined, err: Error | undefined): void {
    const p = this.pending.get(token);
    if (!p) return;
    this.pending.delete(token);
    if (err) p.reject(err);
    else p.resolve(ack!);
  }

  private onReply(m: Msg): void {
    const token = m.subject.slice(this.inbox.length + 1);
    const code = m.headers?.code ?? 0;
    if (code !== 0 && m.data.length === 0) {
      return this.settle(token, undefined, new PublishError(code === 503 ? 'no stream listens on the subject (no responders)' : `${code} ${m.headers?.description ?? ''}`, code));
    }
    let reply: { stream?: string; seq?: number; error?: { code?: number; err_code?: number; description?: string } };
    try {
      reply = JSON.parse(decoder.decode(m.data)) as typeof reply;
    } catch {
      return this.settle(token, undefined, new PublishError(`an acknowledgement that is not JSON: ${decoder.decode(m.data).slice(0, 200)}`, 0));
    }
    if (reply.error) return this.settle(token, undefined, new PublishError(reply.error.description ?? 'JetStream error', reply.error.err_code ?? reply.error.code ?? 0));
    if (typeof reply.stream !== 'string' || typeof reply.seq !== 'number') return this.settle(token, undefined, new PublishError('an acknowledgement without stream and seq', 0));
    this.settle(token, { stream: reply.stream, seq: reply.seq }, undefined);
  }

  private failAll(err: Error): void {
    for (const t of [...this.pending.keys()]) this.settle(t, undefined, err);
  }

  close(): void {
    this.sub.unsubscribe();
    this.failAll(new PublishError('the bus is closed', 0));
  }
}
