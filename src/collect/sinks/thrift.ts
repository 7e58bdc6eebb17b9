import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { defineSink, type Sink, type SinkContext, type SinkStatus } from '../contracts.js';
import { ThriftCallError, ThriftClient } from '../thrift/client.js';
import { Status } from '../thrift/codec.js';

/**
 * Thrift sink: Flume's ThriftSink (appendBatch over framed transport, compact protocol by default).
 *
 * Exact delivery: a batch that fails (FAILED reply, timeout, broken connection) is re-sent — the same
 * events, same identities — to the same collector, reconnecting with back-off, until `replay-timeout`
 * ms pass. A Monsoon thrift source drops the replayed events it already committed, so a lost reply
 * costs no duplicate. Only after the replay timeout is the batch rolled back (and a retriable error
 * thrown so that failover/load_balance processors can penalise this sink); if any attempt had an
 * unknown outcome, the batch is counted in PossibleDuplicateCount.
 */
const schema = z.object({
  hostname: prop.requiredString(),
  port: prop.requiredInt(1, 65535),
  'batch-size': prop.int(100, 1),
  'connect-timeout': prop.int(20_000, 1),
  'request-timeout': prop.int(20_000, 1),
  /** Seconds after which the connection is re-established (0: never), as Flume's. */
  'connection-reset-interval': prop.int(0, 0),
  protocol: prop.oneOf(['compact', 'binary'], 'compact'),
  'replay-timeout': prop.int(30_000, 0),
  ssl: prop.bool(false),
  truststore: prop.optionalString(),
  'truststore-password': prop.optionalString(),
  'truststore-type': prop.optionalString(),
  'exclude-protocols': prop.optionalString(),
  kerberos: prop.bool(false),
  'client-principal': prop.optionalString(),
  'client-keytab': prop.optionalString(),
  'server-principal': prop.optionalString(),
});
export type ThriftSinkConfig = z.infer<typeof schema>;

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;

export class ThriftSink implements Sink {
  private client: ThriftClient | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly name: string,
    private readonly cfg: ThriftSinkConfig,
    private readonly ctx: SinkContext,
  ) {}

  async start(): Promise<void> {
    this.stopping = false;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.client?.close();
    this.client = undefined;
    this.ctx.counters.stopTime = Date.now();
  }

  async process(): Promise<SinkStatus> {
    const c = this.ctx.counters;
    const size = this.cfg['batch-size'];
    const tx = this.ctx.channel.transaction();
    let events;
    try {
      events = await tx.take(size);
    } catch (err) {
      await tx.rollback();
      c.inc('ChannelReadFail');
      throw err;
    }
    if (events.length === 0) {
      await tx.commit();
      c.inc('BatchEmptyCount');
      return 'BACKOFF';
    }
    c.inc(events.length < size ? 'BatchUnderflowCount' : 'BatchCompleteCount');
    c.inc('EventDrainAttemptCount', events.length);

    this.ctx.inflight.begin(this.name);
    let closed = false;
    try {
      const failure = await this.deliver(events);
      if (!failure) {
        await tx.commit();
        closed = true;
        c.inc('EventDrainSuccessCount', events.length);
        return 'READY';
      }
      await tx.rollback();
      closed = true;
      c.inc('EventWriteFail');
      if (failure.unknownOutcome) c.inc('PossibleDuplicateCount', events.length);
      throw new MonsoonError(
        failure.error.code,
        `thrift sink ${this.name} gave up on a batch of ${events.length} event(s) ${this.stopping ? 'because it is stopping' : `after replay-timeout (${this.cfg['replay-timeout']} ms)`}: ${failure.error.message}`,
        { retriable: true, cause: failure.error },
      );
    } finally {
      if (!closed) await tx.rollback();
      this.ctx.inflight.end(this.name);
    }
  }

  /**
   * Sends the batch until the collector answers OK (returns undefined) or replay-timeout passes
   * (returns the last error, and whether any attempt may have reached the collector).
   */
  private async deliver(events: Event[]): Promise<{ error: MonsoonError; unknownOutcome: boolean } | undefined> {
    const deadline = Date.now() + this.cfg['replay-timeout'];
    let backoff = MIN_BACKOFF_MS;
    let unknownOutcome = false;
    for (;;) {
      let error: MonsoonError;
      try {
        const client = await this.connection();
        const status = await client.appendBatch(events, this.cfg['request-timeout']);
        if (status === Status.OK) return undefined;
        error = new MonsoonError(ErrorCodes.SINK_REJECTED, `thrift collector ${this.peer} answered ${statusName(status)} to a batch of ${events.length} event(s)`, { retriable: true });
      } catch (err) {
        if (!(err instanceof ThriftCallError)) throw err;
        unknownOutcome ||= err.sent;
        error = err;
      }
      if (this.stopping || Date.now() + backoff > deadline) return { error, unknownOutcome };
      if (backoff === MIN_BACKOFF_MS) {
        this.ctx.log.warn({ peer: this.peer, err: error.message, replayTimeoutMs: this.cfg['replay-timeout'] }, 'Thrift sink could not deliver a batch; re-sending it to the same collector until replay-timeout.');
      }
      this.ctx.log.debug({ err: error.message, retryInMs: backoff }, 'Re-sending a thrift batch to the same collector.');
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  private get peer(): string {
    return `${this.cfg.hostname}:${this.cfg.port}`;
  }

  private async connection(): Promise<ThriftClient> {
    const resetMs = this.cfg['connection-reset-interval'] * 1000;
    if (this.client?.isOpen && resetMs > 0 && Date.now() - this.client.openedAt >= resetMs) {
      this.ctx.log.debug({ peer: this.peer }, 'Resetting the thrift connection (connection-reset-interval).');
      this.client.close();
    }
    if (this.client?.isOpen) return this.client;
    const c = this.ctx.counters;
    const client = new ThriftClient(this.cfg.hostname, this.cfg.port, this.cfg.protocol, () => c.inc('ConnectionClosedCount'));
    try {
      await client.connect(this.cfg['connect-timeout']);
    } catch (err) {
      c.inc('ConnectionFailedCount');
      this.ctx.log.debug({ peer: this.peer, err: errorMessage(err) }, 'Thrift sink cannot connect to its collector.');
      throw err;
    }
    c.inc('ConnectionCreatedCount');
    this.client = client;
    return client;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}

function statusName(s: number): string {
  return (Object.entries(Status).find(([, v]) => v === s)?.[0] ?? `status ${s}`).toString();
}

defineSink({
  type: 'thrift',
  aliases: ['org.apache.flume.sink.ThriftSink'],
  description: 'Sends batches to a Flume/Monsoon thrift source; re-sends a failed batch to the same collector so that it can drop the replay.',
  schema,
  batchSize: (c) => c['batch-size'],
  check: (c) => {
    const out: Array<[string, string]> = [];
    if (c.ssl) out.push(['ssl', 'TLS for the thrift sink is not built yet; set ssl = false (or tunnel through a TLS proxy)']);
    if (c.kerberos) out.push(['kerberos', 'Kerberos for the thrift sink is not supported; set kerberos = false']);
    return out;
  },
  create: (cfg, ctx) => new ThriftSink(ctx.name, cfg, ctx),
});
