import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { errorMessage } from '../../core/errors.js';
import { hasIdentity, SequenceStamper, type Event } from '../../core/event.js';
import { defineSource, type Source, type SourceContext } from '../contracts.js';
import { DedupCommitter, MAX_SLOTS } from '../dedup-commits.js';
import { MAX_FRAME_BYTES, Status, type Method, type StatusCode } from '../thrift/codec.js';
import { ThriftServer } from '../thrift/server.js';

/**
 * Thrift source: Flume's ThriftSource (ThriftSourceProtocol over framed transport, compact protocol by
 * default). Each appendBatch is committed in one channel transaction and answered OK, or FAILED so that
 * the client retries the same batch.
 *
 * Calls on one connection are handled one at a time; calls on different connections are committed
 * concurrently, up to `threads` at once (Flume's worker-thread limit; 4 when unset, at most 64), so
 * that several sinks sending to one source overlap their channel commits.
 *
 * Exact delivery: events carrying an identity (monsoon.origin/monsoon.seq) that this source already
 * committed are dropped (DuplicateEventCount) and the call still answers OK, so a sender that lost a
 * reply can re-send safely. The set of committed identities is committed with every batch as channel
 * markers `dedup:<source>` (and `dedup:<source>#<n>` for concurrent commits; see dedup-commits.ts),
 * so it survives restarts exactly as far as the channel does. Events without identity (from a real
 * Flume agent) are stamped here and are not deduplicated.
 */
const schema = z.object({
  bind: prop.requiredString(),
  port: prop.requiredInt(0, 65535),
  /** appendBatch calls (from different connections) committed at once; 4 when unset, at most 64. */
  threads: prop.optionalInt(1),
  protocol: prop.oneOf(['compact', 'binary'], 'compact'),
  ssl: prop.bool(false),
  keystore: prop.optionalString(),
  'keystore-password': prop.optionalString(),
  'keystore-type': prop.optionalString(),
  'exclude-protocols': prop.optionalString(),
  kerberos: prop.bool(false),
  'agent-principal': prop.optionalString(),
  'agent-keytab': prop.optionalString(),
  /** Largest accepted frame in bytes (Thrift's own default). */
  'max-frame-bytes': prop.int(MAX_FRAME_BYTES, 1024),
  /** Seconds after which an origin that sent nothing new is forgotten. */
  'dedup.retention': prop.int(24 * 3600, 1),
  'dedup.maxOrigins': prop.int(100_000, 1),
  'dedup.maxIntervals': prop.int(1000, 1),
});
export type ThriftSourceConfig = z.infer<typeof schema>;

const DEFAULT_THREADS = 4;

export class ThriftSource implements Source {
  private server: ThriftServer | undefined;
  private readonly committer: DedupCommitter;
  private readonly stamper: SequenceStamper;
  private port = 0;

  constructor(
    private readonly cfg: ThriftSourceConfig,
    private readonly ctx: SourceContext,
  ) {
    const limits = { retentionMs: cfg['dedup.retention'] * 1000, maxOrigins: cfg['dedup.maxOrigins'], maxIntervals: cfg['dedup.maxIntervals'] };
    this.committer = new DedupCommitter(`dedup:${ctx.name}`, Math.min(cfg.threads ?? DEFAULT_THREADS, MAX_SLOTS), limits);
    ctx.counters.inc('DedupPrunedCount', 0); // origins/intervals forgotten to keep the identity set bounded
    this.stamper = new SequenceStamper(`${ctx.agentId}/${ctx.name}/${Date.now().toString(36)}${randomBytes(3).toString('hex')}`);
  }

  /** The bound port (useful with `port = 0`). */
  get boundPort(): number {
    return this.port;
  }

  async start(): Promise<void> {
    for (const bad of this.committer.restore((key) => this.ctx.processor.marker(key))) {
      this.ctx.log.warn({ marker: bad.key, err: bad.error }, 'Ignoring an unreadable duplicate-detection state; replays of batches sent before this restart may be stored twice.');
    }
    const server = new ThriftServer({ protocol: this.cfg.protocol, maxFrameBytes: this.cfg['max-frame-bytes'], log: this.ctx.log }, (m, events) => this.handle(m, events));
    this.ctx.counters.gauge('OpenConnectionCount', () => server.connections);
    const addr = await server.listen(this.cfg.port, this.cfg.bind);
    this.server = server;
    this.port = addr.port;
    this.ctx.log.info({ bind: this.cfg.bind, port: addr.port, protocol: this.cfg.protocol, origins: this.committer.identities.originCount, threads: this.committer.slots }, 'Thrift source listening.');
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    await this.committer.idle();
    this.ctx.counters.stopTime = Date.now();
  }

  private async handle(method: Method, events: Event[]): Promise<StatusCode> {
    const c = this.ctx.counters;
    const single = method === 'append';
    c.inc(single ? 'AppendReceivedCount' : 'AppendBatchReceivedCount');
    c.inc('EventReceivedCount', events.length);
    try {
      // A batch larger than the channels' transactionCapacity is committed in chunks, each with its
      // own dedup marker: if a later chunk fails, the client's retry finds the earlier ones seen.
      const max = Math.max(1, this.ctx.processor.maxBatch());
      for (let i = 0; i < events.length || i === 0; i += max) {
        const { accepted, duplicates, pruned } = await this.committer.commit(events.slice(i, i + max), (fresh, markers) => this.put(fresh, markers));
        if (duplicates > 0) c.inc('DuplicateEventCount', duplicates);
        if (pruned > 0) c.inc('DedupPrunedCount', pruned);
        c.inc('EventAcceptedCount', accepted);
      }
      c.inc(single ? 'AppendAcceptedCount' : 'AppendBatchAcceptedCount');
      return Status.OK;
    } catch (err) {
      c.inc('GenericProcessingFail');
      this.ctx.log.warn({ events: events.length, err: errorMessage(err) }, 'Thrift source could not commit a batch; answered FAILED so that the client retries it.');
      return Status.FAILED;
    }
  }

  /** Stamps the events that carry no identity yet and commits the batch with `markers`. */
  private async put(fresh: Event[], markers: Record<string, string>): Promise<void> {
    let anonymous: Event[] | undefined;
    for (let i = 0; i < fresh.length; i++) if (!hasIdentity(fresh[i]!)) (anonymous ??= []).push(fresh[i]!);
    if (anonymous) this.stamper.stamp(anonymous);
    await this.ctx.processor.process(fresh, markers);
  }
}

defineSource({
  type: 'thrift',
  aliases: ['org.apache.flume.source.ThriftSource'],
  description: 'Receives events from Flume thrift sinks/clients (ThriftSourceProtocol); drops replayed batches by event identity.',
  schema,
  check: (c) => {
    const out: Array<[string, string]> = [];
    if (c.ssl) out.push(['ssl', 'TLS for the thrift source is not built yet; set ssl = false (and put a TLS proxy in front if needed)']);
    if (c.kerberos) out.push(['kerberos', 'Kerberos for the thrift source is not supported; set kerberos = false']);
    return out;
  },
  create: (cfg, ctx) => new ThriftSource(cfg, ctx),
});
