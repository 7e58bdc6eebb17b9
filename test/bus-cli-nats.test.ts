import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { MONSOON_BIN } from './support/procs.js';
import { startNats, type NatsServer } from './support/nats.js';

/** The bus commands end to end against a throwaway nats-server with JetStream (--bus nats://127.0.0.1:<port>). */
let server: NatsServer;
before(async () => {
  server = await startNats();
});
after(async () => {
  await server?.stop();
});
const run = (args: string[], input?: string) => spawnSync(process.execPath, [MONSOON_BIN, ...args], { encoding: 'utf8', input: input ?? '', timeout: 20_000 });
const lines = (s: string) => s.split('\n').filter(Boolean);
const FOOBAR_P3 = (-790332482 & 0x7fffffff) % 3;

describe('monsoon topic / produce / consume / lag on NATS JetStream', () => {
  it('creates, describes and lists topics, produces keyed lines, consumes with a group and reports lag', () => {
    const bus = server.url;
    let r = run(['topic', 'create', '--bus', bus, '--topic', 'cdr', '--partitions', '3', '--retention-ms', '86400000']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(run(['topic', 'create', '--bus', bus, 'scratch']).status, 0);
    r = run(['topic', 'create', '--bus', bus, 'cdr']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already exists \(MON_ERR_BUS_TOPIC_EXISTS\)/);
    assert.equal(run(['topic', 'delete', '--bus', bus, 'scratch']).status, 0);
    assert.deepEqual(lines(run(['topic', 'list', '--bus', bus]).stdout), ['cdr']);

    const input = Array.from({ length: 30 }, (_, i) => `${i % 3 === 0 ? 'foobar' : `caller${i}`},${i}`).join('\n') + '\n';
    r = run(['produce', '--bus', bus, '--topic', 'cdr', '--key-field', '1'], input);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /30 record\(s\) acknowledged/);
    const d = JSON.parse(run(['topic', 'describe', '--bus', bus, 'cdr', '--json']).stdout) as { partitions: Array<{ latest: number }>; retentionMs: number };
    assert.equal(d.retentionMs, 86400000);
    assert.equal(d.partitions.reduce((n, p) => n + p.latest, 0), 30);
    assert.ok(d.partitions[FOOBAR_P3]!.latest >= 10, 'all 10 foobar records share its Kafka partition');

    const first = run(['consume', '--bus', bus, '--topic', 'cdr', '--group', 'billing', '--from', 'earliest', '--max', '10']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(lines(first.stdout).length, 10);
    const lag = JSON.parse(run(['lag', '--bus', bus, '--group', 'billing', '--json']).stdout) as Array<{ lag: number }>;
    assert.equal(lag.reduce((n, l) => n + l.lag, 0), 20);
    const rest = run(['consume', '--bus', bus, '--topic', 'cdr', '--group', 'billing', '--from', 'earliest', '--timeout-ms', '300']);
    assert.equal(rest.status, 0, rest.stderr);
    const all = [...lines(first.stdout), ...lines(rest.stdout)];
    assert.equal(all.length, 30);
    assert.equal(new Set(all).size, 30, 'nothing printed twice');
    assert.match(run(['lag', '--bus', bus, '--group', 'billing']).stdout, /total lag 0/);
  });

  it('fails with a coded error for an unknown topic and for a server that is not there', () => {
    let r = run(['produce', '--bus', server.url, '--topic', 'nope'], 'x\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /topic nope does not exist \(MON_ERR_BUS_UNKNOWN_TOPIC\)/);
    r = run(['topic', 'list', '--bus', 'nats://127.0.0.1:1']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot reach the NATS bus at nats:\/\/127\.0\.0\.1:1.*\(MON_ERR_BUS_UNAVAILABLE\)/);
  });
});
