import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { prop } from '../../core/config/props.js';
import { ChannelFullError, errorMessage } from '../../core/errors.js';
import { SequenceStamper } from '../../core/event.js';
import { defineSource, type Source, type SourceContext } from '../contracts.js';
import { BadRequest, parseJsonEvents, requestCharset } from './http/json-handler.js';
import { networkOrigin } from './net/tcp-server.js';

/**
 * HTTP source (Flume's HTTPSource with its JSONHandler): a POST of a JSON array of events is
 * committed as one batch. Replies: 200 once committed; 400 naming the problem for bad JSON or a bad
 * event; 413 when the body exceeds maxRequestBytes; 503 when a channel is full (the client should
 * retry later); 500 for anything else. TLS is not served here: put a proxy in front of the agent.
 */
const JSON_HANDLERS = ['jsonhandler', 'org.apache.flume.source.http.jsonhandler'];

const schema = z.object({
  bind: prop.string('0.0.0.0'),
  port: prop.requiredInt(0, 65535),
  handler: prop.string('org.apache.flume.source.http.JSONHandler'),
  enableSSL: prop.bool(false),
  /** Monsoon's bound on a request body, in bytes. */
  maxRequestBytes: prop.int(16 * 1024 * 1024, 1),
});
export type HttpSourceConfig = z.infer<typeof schema>;

export class HttpSource implements Source {
  private app?: FastifyInstance;
  private stamper?: SequenceStamper;

  constructor(
    private readonly cfg: HttpSourceConfig,
    private readonly ctx: SourceContext,
  ) {}

  get port(): number {
    return (this.app?.server.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    this.stamper = new SequenceStamper(networkOrigin(this.ctx));
    // loaded on first use: agents without an HTTP source do not pay for fastify at startup
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: false, bodyLimit: this.cfg.maxRequestBytes });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post('/*', async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let events;
      try {
        events = parseJsonEvents(body, requestCharset(req.headers['content-type']));
      } catch (err) {
        if (!(err instanceof BadRequest)) throw err;
        this.ctx.counters.inc('EventReadFail', 1);
        return reply.code(400).type('text/plain').send(`Bad request: ${err.message}\n`);
      }
      if (events.length === 0) return reply.code(200).send();
      this.ctx.counters.inc('AppendBatchReceivedCount', 1);
      this.ctx.counters.inc('EventReceivedCount', events.length);
      this.stamper!.stamp(events);
      try {
        await this.ctx.processor.process(events);
      } catch (err) {
        if (err instanceof ChannelFullError) return reply.code(503).type('text/plain').send(`Service unavailable: ${err.message}\n`);
        this.ctx.log.error({ source: this.ctx.name, err: errorMessage(err) }, 'Could not commit an HTTP batch.');
        return reply.code(500).type('text/plain').send(`Internal error: ${errorMessage(err)}\n`);
      }
      this.ctx.counters.inc('AppendBatchAcceptedCount', 1);
      this.ctx.counters.inc('EventAcceptedCount', events.length);
      return reply.code(200).send();
    });
    app.setNotFoundHandler((req, reply) => {
      void reply.code(405).header('allow', 'POST').type('text/plain').send(`Method ${req.method} is not allowed: the HTTP source accepts POST only\n`);
    });
    app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
      const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      void reply.code(code).type('text/plain').send(`${err.message}\n`);
    });
    await app.listen({ port: this.cfg.port, host: this.cfg.bind });
    this.app = app;
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }
}

export const httpSpec = defineSource({
  type: 'http',
  aliases: ['org.apache.flume.source.http.HTTPSource'],
  description: 'Accepts POSTed JSON arrays of events (Flume JSONHandler); 200 once committed, 503 when the channel is full.',
  schema,
  check: (c) => {
    const out: Array<[string, string]> = [];
    if (!JSON_HANDLERS.includes(c.handler.trim().toLowerCase())) out.push(['handler', `handler ${c.handler} is not supported; only org.apache.flume.source.http.JSONHandler is available`]);
    if (c.enableSSL) out.push(['enableSSL', 'TLS is not served by the HTTP source yet; terminate TLS in a proxy in front of the agent']);
    return out;
  },
  create: (cfg, ctx) => new HttpSource(cfg, ctx),
});
