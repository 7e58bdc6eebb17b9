import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BusRecord } from '../../bus/bus.js';
import { acquireBus } from '../../bus/shared.js';
import type { TopologyContext } from '../../compute/api.js';
import { DEAD_SOURCE_HEADER, DeadLetterBolt } from './dead-letter.js';

const root = mkdtempSync(join(tmpdir(), 'monsoon-dead-letter-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The bolt's store lifecycle, driven directly. */
interface Driven {
  open(conf: object, ctx: TopologyContext): Promise<void>;
  write(records: BusRecord[]): Promise<void>;
  closeStore(): Promise<void>;
  duplicates: number;
}
const ctx = { getThisComponentId: () => 'dead-letter', getThisTaskIndex: () => 0 } as unknown as TopologyContext;
const letter = (source: string, line: string): BusRecord => ({ value: Buffer.from(line), headers: { 'cdr.field': 'record', 'cdr.reason': 'cut short', [DEAD_SOURCE_HEADER]: source } });

async function topicLines(bus: string): Promise<string[]> {
  const h = await acquireBus(bus);
  try {
    const c = await h.bus.consumer(`check-${Math.random()}`, ['cdr-dead'], { from: 'earliest' });
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) for (const b of await c.poll(1000, 100)) for (const r of b.records) lines.push(r.value.toString());
    await c.close();
    return lines.sort();
  } finally {
    await h.release();
  }
}

describe('dead-letter bolt', () => {
  it('sends a dead letter once: again after a restart, after a failed produce, and apart from a re-created source', async () => {
    const bus = join(root, 'bus');
    const open = async () => {
      const b = new DeadLetterBolt({ bus, topic: 'cdr-dead' }) as unknown as Driven;
      await b.open({}, ctx);
      return b;
    };
    const first = await open();
    const ten = Array.from({ length: 10 }, (_, i) => letter(`cdr/0/${i * 3}`, `bad ${i}`));
    await first.write(ten);
    await first.write([...ten.slice(0, 4), letter('cdr/0/99', 'bad 99'), letter('cdr/0/99', 'bad 99')]);
    assert.equal(first.duplicates, 5);
    await first.closeStore();

    // a restart learns what the topic holds; the same offset with other bytes is a new record
    const second = await open();
    await second.write([...ten, letter('cdr/0/3', 'bad 1, topic re-created'), letter('cdr/1/3', 'bad 1')]);
    assert.equal(second.duplicates, 10);

    // a produce that stored its records and then failed: the replay finds them in the topic
    const h = await acquireBus(bus);
    const produce = h.bus.produce.bind(h.bus);
    h.bus.produce = async (topic, records) => {
      await produce(topic, records);
      throw new Error('the acknowledgement was lost');
    };
    const more = [letter('cdr/2/7', 'bad 7'), letter('cdr/2/8', 'bad 8')];
    await assert.rejects(second.write(more), /acknowledgement was lost/);
    h.bus.produce = produce;
    await h.release();
    await second.write(more);
    assert.equal(second.duplicates, 12);
    await second.closeStore();

    const want = [...ten.map((r) => r.value.toString()), 'bad 99', 'bad 1, topic re-created', 'bad 1', 'bad 7', 'bad 8'].sort();
    assert.deepEqual(await topicLines(bus), want);
  });
});
