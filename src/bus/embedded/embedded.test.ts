import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busConformance } from '../conformance.js';
import { openEmbeddedBus, type EmbeddedBus } from './embedded.js';

busConformance(
  'embedded log',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-bus-'));
    let bus: EmbeddedBus = await openEmbeddedBus(dir, { segmentBytes: 256 * 1024 });
    return {
      get bus() {
        return bus;
      },
      reopen: async () => {
        await bus.close();
        bus = await openEmbeddedBus(dir, { segmentBytes: 256 * 1024 });
        return bus;
      },
      cleanup: async () => {
        await bus.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { durable: true },
);
