import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { partitionForKey } from '../src/bus/partitioner.js';
import { startKafkaMock, type KafkaMock } from './support/kafka.js';
import { MONSOON_BIN } from './support/procs.js';

/**
 * The bus commands end to end against librdkafka's mock cluster (--bus kafka://<its brokers>), with
 * kcat — librdkafka's command-line client — as an independent Kafka client both ways: it reads what
 * `monsoon produce` wrote (same keys → same partitions) and writes keyed records, with librdkafka's
 * Java-compatible murmur2 partitioner, that `monsoon consume` reads.
 */
let mock: KafkaMock;
before(async () => {
  mock = await startKafkaMock(3);
});
after(async () => {
  await mock?.stop();
});

const run = (args: string[], input?: string) => spawnSync(process.execPath, [MONSOON_BIN, ...args], { encoding: 'utf8', input: input ?? '', timeout: 30_000 });
const lines = (s: string) => s.split('\n').filter(Boolean);

function kcat(args: string[], input = ''): string {
  const r = spawnSync('kcat', ['-b', mock.bootstrap, ...args], { encoding: 'utf8', input, timeout: 30_000 });
  if (r.error) throw new Error(`kcat is not installed (${r.error.message}); install the Debian package kcat (apt-get install kcat) to run the Kafka CLI tests`);
  assert.equal(r.status, 0, `kcat ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('monsoon topic / produce / consume / lag on Kafka (librdkafka mock cluster, kcat cross-check)', () => {
  it('produces keyed lines kcat reads on murmur2 partitions, and consumes what kcat produced with keys', async () => {
    const bus = mock.url;
    // The mock has no CreateTopics: the topic is made through the harness, and the command says why it cannot.
    await mock.command('create cdr 3 3');
    let r = run(['topic', 'create', '--bus', bus, '--topic', 'other', '--partitions', '3']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /CreateTopics other: the Kafka cluster's metadata names no broker as its controller.*\(MON_ERR_BUS_UNSUPPORTED\)/);
    assert.ok(lines(run(['topic', 'list', '--bus', bus]).stdout).includes('cdr'));

    const keys = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 'foobar' : `caller${i}`));
    r = run(['produce', '--bus', bus, '--topic', 'cdr', '--key-field', '1'], keys.map((k, i) => `${k},${i}`).join('\n') + '\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /30 record\(s\) acknowledged/);

    // kcat reads every record monsoon wrote, each on the partition Kafka's partitioner gives its key.
    const seen = lines(kcat(['-C', '-t', 'cdr', '-o', 'beginning', '-e', '-q', '-f', '%p\t%k\t%s\n'])).map((l) => l.split('\t'));
    assert.equal(seen.length, 30);
    for (const [p, k, v] of seen) {
      assert.equal(Number(p), partitionForKey(Buffer.from(k!), 3), `key ${k}`);
      assert.equal(v!.split(',')[0], k);
    }

    // kcat writes keyed records with librdkafka's murmur2 partitioner (the Java client's).
    const kcatKeys = Array.from({ length: 20 }, (_, i) => `kc${i}`);
    kcat(['-P', '-t', 'cdr', '-K', '\t', '-X', 'topic.partitioner=murmur2_random'], kcatKeys.map((k) => `${k}\tkcat-${k}`).join('\n') + '\n');
    const placed = lines(kcat(['-C', '-t', 'cdr', '-o', 'beginning', '-e', '-q', '-f', '%p\t%k\n'])).map((l) => l.split('\t'));
    for (const [p, k] of placed.filter(([, k]) => k!.startsWith('kc'))) assert.equal(Number(p), partitionForKey(Buffer.from(k!), 3), `kcat put key ${k} where monsoon would`);

    const got = run(['consume', '--bus', bus, '--topic', 'cdr', '--group', 'billing', '--from', 'earliest', '--timeout-ms', '1500']);
    assert.equal(got.status, 0, got.stderr);
    const values = lines(got.stdout);
    assert.equal(values.length, 50);
    assert.equal(new Set(values).size, 50, 'nothing printed twice');
    for (const k of kcatKeys) assert.ok(values.includes(`kcat-${k}`), `monsoon consumed kcat's ${k}`);

    const want = [0, 0, 0];
    for (const k of [...keys, ...kcatKeys]) want[partitionForKey(Buffer.from(k), 3)]!++;
    const lag = JSON.parse(run(['lag', '--bus', bus, '--group', 'billing', '--json']).stdout) as Array<{ topic: string; partition: number; committed: number | null; latest: number; lag: number }>;
    assert.deepEqual(
      lag.filter((l) => l.topic === 'cdr').map((l) => [l.partition, l.latest, l.committed, l.lag]),
      want.map((n, p) => [p, n, n === 0 ? null : n, 0]),
    );
  });

  it('fails with a coded error when no broker answers', () => {
    const r = run(['topic', 'list', '--bus', 'kafka://127.0.0.1:1']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot reach the Kafka bus at kafka:\/\/127\.0\.0\.1:1.*\(MON_ERR_BUS_UNAVAILABLE\)/);
  });
});
