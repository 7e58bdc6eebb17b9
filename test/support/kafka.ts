import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, MonsoonError } from '../../src/core/errors.js';
import type { KafkaTopics } from '../../src/bus/kafka/topics.js';
import type { NormalizedTopicConfig } from '../../src/bus/names.js';

/**
 * A throwaway Kafka cluster for tests: librdkafka's in-memory mock cluster (test/support/kafka-mock.c,
 * compiled here with gcc against librdkafka-dev, cached by source hash) with N brokers on loopback
 * ports. No Kafka broker can be installed on the test machines; the mock speaks the wire protocol for
 * produce, fetch, ListOffsets (earliest/latest), the group protocol and offset commits. A machine
 * without gcc or librdkafka-dev fails the test naming the Debian packages — never skipped.
 *
 * The mock (librdkafka 2.0.2) has no CreateTopics, DeleteTopics or DescribeConfigs, answers ListOffsets
 * by time with -1, creates unknown topics on any Metadata request, and keeps at most 5 MiB per
 * partition (older record batches are evicted: the log start moves). `mockTopics` gives the Kafka bus
 * a topic catalog driven through the harness for what the mock cannot do over the protocol.
 */
export interface KafkaMock {
  bootstrap: string;
  url: string;
  /** One harness command (see kafka-mock.c); resolves with the text after "ok", rejects on "error". */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

const SOURCE = fileURLToPath(new URL('../../../test/support/kafka-mock.c', import.meta.url));

function build(): string {
  const src = readFileSync(SOURCE);
  const dir = join(tmpdir(), 'monsoon-kafka-mock');
  const bin = join(dir, `kafka-mock-${createHash('sha256').update(src).digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  if (!existsSync('/usr/include/librdkafka/rdkafka_mock.h')) {
    throw new Error('librdkafka-dev is not installed (no /usr/include/librdkafka/rdkafka_mock.h); install the Debian packages librdkafka-dev and gcc (apt-get install librdkafka-dev gcc) to run the Kafka bus tests');
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync('gcc', ['-O2', '-o', tmp, SOURCE, '-lrdkafka'], { encoding: 'utf8' });
  if (r.error) throw new Error(`gcc is not installed (${r.error.message}); install the Debian packages gcc and librdkafka-dev to run the Kafka bus tests`);
  if (r.status !== 0) throw new Error(`compiling ${SOURCE} failed:\n${r.stderr}`);
  renameSync(tmp, bin);
  return bin;
}

export async function startKafkaMock(brokers = 3): Promise<KafkaMock> {
  const bin = build();
  const child: ChildProcess = spawn(bin, [String(brokers)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string | null) => void> = [];
  const early: string[] = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else early.push(l);
  });
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      for (const w of waiting.splice(0)) w(null);
      resolve();
    }),
  );
  const nextLine = () => new Promise<string | null>((resolve) => (early.length > 0 ? resolve(early.shift()!) : exited ? resolve(null) : waiting.push(resolve)));
  const bootstrap = await nextLine();
  if (!bootstrap) throw new Error(`the Kafka mock cluster did not start:\n${stderr}`);
  let chain: Promise<unknown> = Promise.resolve();
  const command = (line: string): Promise<string> => {
    const run = chain.then(async () => {
      child.stdin!.write(`${line}\n`);
      const answer = await nextLine();
      if (answer === null) throw new Error(`the Kafka mock cluster exited:\n${stderr}`);
      if (!answer.startsWith('ok')) throw new Error(`kafka-mock ${line}: ${answer}`);
      return answer.slice(2).trim();
    });
    chain = run.catch(() => {});
    return run;
  };
  return {
    bootstrap,
    url: `kafka://${bootstrap}`,
    command,
    stop: async () => {
      if (!exited) child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/**
 * The Kafka bus's topic catalog for the mock: creates topics with the harness's `create` (replication
 * factor min(3, brokers)); "deletes" them from this catalog only, since the mock cannot delete a topic
 * (its records stay in the mock and the name cannot be created again, while the bus treats it as
 * unknown, as after a DeleteTopics); keeps retention settings here (the mock has no topic
 * configs) and finds offsets by time by reading the partition (`offsetfor`).
 */
export function mockTopics(mock: KafkaMock, brokers = 3): KafkaTopics {
  const topics = new Map<string, NormalizedTopicConfig>();
  const deleted = new Set<string>();
  return {
    async create(name, cfg) {
      if (topics.has(name) || deleted.has(name)) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
      await mock.command(`create ${name} ${cfg.partitions} ${Math.min(3, brokers)}`);
      topics.set(name, cfg);
    },
    async delete(name) {
      if (!topics.has(name)) throw new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `topic ${name} does not exist`);
      topics.delete(name);
      deleted.add(name);
    },
    async list() {
      return [...topics.keys()].sort();
    },
    async partitions(name) {
      return topics.get(name)?.partitions ?? null;
    },
    async retention(name) {
      const t = topics.get(name);
      if (!t) throw new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `topic ${name} does not exist`);
      return { retentionMs: t.retentionMs, retentionBytes: t.retentionBytes };
    },
    async offsetForTimestamp(topic, partition, timestamp) {
      const o = Number(await mock.command(`offsetfor ${topic} ${partition} ${Math.trunc(timestamp)}`));
      return o < 0 ? null : o;
    },
  };
}
