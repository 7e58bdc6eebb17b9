import { createInterface } from 'node:readline';
import { Command } from 'commander';
import type { Bus, BusRecord } from '../bus/bus.js';
import { busOption } from './topic.js';
import { withBus } from './bus-session.js';

/**
 * `monsoon produce --bus <url> --topic t [--key-field N|name]` — one record per stdin line, sent in
 * batches; exits 0 only when every line was acknowledged (durable). The key is the Nth field
 * (1-based, split on --field-separator) or, for a name, that field of a JSON object line.
 */
const MAX_LINES = 1000;
const MAX_BYTES = 1024 * 1024;

interface ProduceOpts {
  bus: string;
  topic: string;
  keyField?: string;
  fieldSeparator: string;
}

export function keyExtractor(keyField: string | undefined, separator: string): (line: string, lineNo: number) => Buffer | null {
  if (keyField === undefined) return () => null;
  if (/^\d+$/.test(keyField)) {
    const n = Number(keyField);
    if (n < 1) throw new Error('--key-field: field numbers start at 1');
    return (line, lineNo) => {
      const fields = line.split(separator);
      if (fields.length < n) throw new Error(`line ${lineNo}: has ${fields.length} field(s) separated by ${JSON.stringify(separator)}; --key-field ${n} needs ${n}`);
      return Buffer.from(fields[n - 1]!);
    };
  }
  return (line, lineNo) => {
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      throw new Error(`line ${lineNo}: --key-field ${keyField} needs a JSON object per line, and this line is not JSON`);
    }
    if (doc === null || typeof doc !== 'object' || !(keyField in doc)) throw new Error(`line ${lineNo}: the JSON object has no field ${JSON.stringify(keyField)}`);
    const v = (doc as Record<string, unknown>)[keyField];
    return v === null ? null : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  };
}

async function produceStdin(bus: Bus, o: ProduceOpts): Promise<void> {
  await bus.produce(o.topic, []); // fails before reading input when the topic is missing (a conformance case)
  const keyOf = keyExtractor(o.keyField, o.fieldSeparator);
  let batch: BusRecord[] = [];
  let bytes = 0;
  let lineNo = 0;
  let acked = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await bus.produce(o.topic, batch);
    acked += batch.length;
    batch = [];
    bytes = 0;
  };
  try {
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      lineNo++;
      batch.push({ key: keyOf(line, lineNo), value: Buffer.from(line) });
      bytes += line.length;
      if (batch.length >= MAX_LINES || bytes >= MAX_BYTES) await flush();
    }
    await flush();
  } finally {
    process.stderr.write(`${acked} record(s) acknowledged to ${o.topic}${acked < lineNo ? ` of ${lineNo} read` : ''}\n`);
  }
}

export function produceCommand(): Command {
  return new Command('produce')
    .description('send stdin to a topic, one record per line; exit 0 only when all are acknowledged')
    .requiredOption(...busOption)
    .requiredOption('--topic <name>', 'topic to write')
    .option('--key-field <N|name>', 'record key: the Nth field of the line (from 1), or a JSON field name')
    .option('--field-separator <s>', 'separator for a numbered --key-field', ',')
    .action(async (o: ProduceOpts) => {
      await withBus(o.bus, (bus) => produceStdin(bus, o));
    });
}
