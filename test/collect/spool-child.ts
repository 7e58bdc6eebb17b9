/**
 * A spooling directory source in its own process for the kill -9 test. Its "channel" is a journal
 * file: every commit is one appended line holding the batch and its markers, so what a SIGKILL
 * leaves behind is exactly what was committed. Usage: node spool-child.js <spoolDir> <journal>
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { ChannelProcessor } from '../../src/collect/contracts.js';
import { configureSource } from '../../src/collect/sources/configure.js';
import { SpoolDirSource, spoolDirSpec } from '../../src/collect/sources/spooldir.js';
import { sourceContext } from '../../src/collect/testkit.js';
import type { Event } from '../../src/core/event.js';

export interface JournalLine {
  bodies: string[];
  seqs: string[];
  markers?: Record<string, string>;
}

/** The committed lines of a journal; a torn last line (killed mid-write) was never committed. */
export function readJournal(path: string): JournalLine[] {
  if (!existsSync(path)) return [];
  const out: JournalLine[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    try {
      if (line) out.push(JSON.parse(line) as JournalLine);
    } catch {
      break;
    }
  }
  return out;
}

class JournalProcessor implements ChannelProcessor {
  private readonly markers = new Map<string, string>();
  constructor(private readonly path: string) {
    for (const l of readJournal(path)) for (const [k, v] of Object.entries(l.markers ?? {})) this.markers.set(k, v);
  }
  async process(events: Event[], markers?: Readonly<Record<string, string>>): Promise<void> {
    const line: JournalLine = { bodies: events.map((e) => e.body.toString()), seqs: events.map((e) => e.headers['monsoon.seq'] ?? '') };
    if (markers) line.markers = { ...markers };
    appendFileSync(this.path, JSON.stringify(line) + '\n');
    for (const [k, v] of Object.entries(markers ?? {})) this.markers.set(k, v);
    await new Promise((r) => setTimeout(r, 1));
  }
  marker(key: string): string | undefined {
    return this.markers.get(key);
  }
  maxBatch(): number {
    return Number.MAX_SAFE_INTEGER;
  }
  async waitForSpace(): Promise<void> {}
}

if (process.argv[2] && process.argv[3]) {
  const [dir, journal] = [process.argv[2], process.argv[3]];
  const src = new SpoolDirSource(configureSource(spoolDirSpec, { spoolDir: dir, batchSize: '10', pollDelay: '20' }), sourceContext('r1', new JournalProcessor(journal)));
  await src.start();
}
