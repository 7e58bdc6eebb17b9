import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { startNats, type NatsServer } from '../../../test/support/nats.js';
import { busConformance } from '../conformance.js';
import { openNatsBus, type NatsBus } from './nats.js';

/** The shared conformance suite against a throwaway nats-server (JetStream on), plus NATS-specific checks. */
let server: NatsServer;
before(async () => {
  server = await startNats();
});
after(async () => {
  await server?.stop();
});

busConformance(
  'NATS JetStream',
  async () => {
    let bus: NatsBus = await openNatsBus(server.url);
    return {
      get bus() {
        return bus;
      },
      // The server keeps running: a new bus instance (a new connection) sees the same streams and KV buckets.
      reopen: async () => {
        await bus.close();
        bus = await openNatsBus(server.url);
        return bus;
      },
      cleanup: async () => {
        await bus.close();
      },
    };
  },
  { durable: true },
);

const isCode = (code: string, re?: RegExp) => (e: unknown) => e instanceof MonsoonError && e.code === code && (!re || re.test(e.message));

describe('NATS JetStream bus specifics', () => {
  it('an unreachable server is a retriable MON_ERR_BUS_UNAVAILABLE', async () => {
    await assert.rejects(openNatsBus('nats://127.0.0.1:1'), (e: unknown) => isCode(ErrorCodes.BUS_UNAVAILABLE, /cannot reach the NATS bus/)(e) && (e as MonsoonError).retriable);
  });
});
