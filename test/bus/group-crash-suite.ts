import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Bus, ConsumedRecord } from '../../src/bus/bus.js';

const CHILD = fileURLToPath(new URL('./group-member-child.js', import.meta.url));

/**
 * A consumer process of a group is killed -9; the survivor in this process takes over from the
 * committed offsets (heartbeat membership across processes: Redis Streams, NATS JetStream).
 */
export function groupCrashSuite(engine: 'redis' | 'nats', label: string, start: () => Promise<{ url: string; stop(): Promise<void> }>, open: (url: string) => Promise<Bus>): void {
  let server: { url: string; stop(): Promise<void> };
  before(async () => {
    server = await start();
  });
  after(async () => {
    await server?.stop();
  });

describe(`${label} consumer groups across processes`, () => {
  it('splits partitions with another process and redelivers a killed member’s uncommitted records', async () => {
    const bus = await open(server.url);
    const child = spawn(process.execPath, [CHILD, engine, server.url], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await bus.admin.createTopic('t', { partitions: 2 });
      // Records without a key go to one partition per produce call, alternating: 10 to each.
      for (let b = 0; b < 2; b++) await bus.produce('t', Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(`b${b}-${i}`) })));
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('READY') && resolve());
        child.once('exit', (code) => reject(new Error(`the consumer process exited early (${code})`)));
      });
      await ready;
      const c = await bus.consumer('g', ['t'], { from: 'earliest' });
      const got: ConsumedRecord[] = [];
      const pollUntil = async (cond: () => boolean, what: string) => {
        const end = Date.now() + 15_000;
        while (!cond()) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}; assignment ${JSON.stringify(c.assignment())}, got ${got.length}`);
          for (const b of await c.poll(100, 50)) got.push(...b.records);
        }
      };
      await pollUntil(() => c.assignment().length === 1 && got.length === 7, 'the later member to own one partition and read it from offset 3');
      assert.deepEqual(c.assignment(), [{ topic: 't', partition: 1 }], 'the later joiner takes the upper range');
      child.kill('SIGKILL');
      await exited;
      await pollUntil(() => c.assignment().length === 2 && got.length === 14, 'the survivor to take over the dead member’s partition');
      for (const p of [0, 1]) assert.deepEqual(got.filter((r) => r.partition === p).map((r) => r.offset), [3, 4, 5, 6, 7, 8, 9], `partition ${p} from its committed offset`);
      await c.close();
    } finally {
      child.kill('SIGKILL');
      await exited;
      await bus.close();
    }
  });
});
}
