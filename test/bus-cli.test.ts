import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MONSOON_BIN } from './support/procs.js';

/** The bus commands end to end against an embedded log directory. */
const work = mkdtempSync(join(tmpdir(), 'monsoon-bus-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));
const run = (args: string[], input?: string) => spawnSync(process.execPath, [MONSOON_BIN, ...args], { encoding: 'utf8', input: input ?? '' });
const lines = (s: string) => s.split('\n').filter(Boolean);
// Kafka's murmur2 of "foobar" is -790332482 (UtilsTest); with 3 partitions it lands on:
const FOOBAR_P3 = (-790332482 & 0x7fffffff) % 3;

describe('monsoon topic / produce / consume / lag', () => {
  const bus = join(work, 'bus');

  it('creates, lists, describes and deletes topics, with coded errors', () => {
    let r = run(['topic', 'create', '--bus', bus, '--topic', 'cdr', '--partitions', '3', '--retention-ms', '86400000']);
    assert.equal(r.status, 0, r.stderr);
    r = run(['topic', 'create', '--bus', `file:${bus}`, 'scratch']);
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(run(['topic', 'describe', '--bus', bus, 'cdr', '--json']).stdout) as { partitions: unknown[]; retentionMs: number };
    assert.equal(d.partitions.length, 3);
    assert.equal(d.retentionMs, 86400000);
    r = run(['topic', 'create', '--bus', bus, 'cdr']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already exists \(MON_ERR_BUS_TOPIC_EXISTS\)/);
    assert.equal(run(['topic', 'delete', '--bus', bus, 'scratch']).status, 0);
    assert.deepEqual(lines(run(['topic', 'list', '--bus', bus]).stdout), ['cdr']);
  });

  it('produces stdin lines keyed by a field, where a Kafka client would put them', () => {
    const input = Array.from({ length: 30 }, (_, i) => `${i % 3 === 0 ? 'foobar' : `caller${i}`},${i}`).join('\n') + '\n';
    const r = run(['produce', '--bus', bus, '--topic', 'cdr', '--key-field', '1'], input);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /30 record\(s\) acknowledged/);
    const json = run(['produce', '--bus', bus, '--topic', 'cdr', '--key-field', 'caller'], '{"caller":"foobar","n":30}\n');
    assert.equal(json.status, 0, json.stderr);
    const d = JSON.parse(run(['topic', 'describe', '--bus', bus, 'cdr', '--json']).stdout) as { partitions: Array<{ latest: number }> };
    assert.equal(d.partitions.reduce((n, p) => n + p.latest, 0), 31);
    assert.ok(d.partitions[FOOBAR_P3]!.latest >= 11, 'all 11 foobar records share its Kafka partition');
  });

  it('consumes with a group, committing exactly what it printed, and reports lag', () => {
    const first = run(['consume', '--bus', bus, '--topic', 'cdr', '--group', 'billing', '--from', 'earliest', '--max', '10']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(lines(first.stdout).length, 10);
    const lag = JSON.parse(run(['lag', '--bus', bus, '--group', 'billing', '--json']).stdout) as Array<{ lag: number }>;
    assert.equal(lag.reduce((n, l) => n + l.lag, 0), 21);
    // --from applies to partitions the group never committed, which the first run may not have reached.
    const rest = run(['consume', '--bus', bus, '--topic', 'cdr', '--group', 'billing', '--from', 'earliest', '--timeout-ms', '300']);
    assert.equal(rest.status, 0, rest.stderr);
    const all = [...lines(first.stdout), ...lines(rest.stdout)];
    assert.equal(all.length, 31);
    assert.equal(new Set(all).size, 31, 'nothing printed twice');
    const foobars = all.filter((l) => l.startsWith('foobar,') || l.includes('"foobar"')).map((l) => (l.startsWith('{') ? 30 : Number(l.split(',')[1])));
    assert.deepEqual(foobars.slice().sort((a, b) => a - b), foobars, 'one key keeps its order');
    const table = run(['lag', '--bus', bus, '--group', 'billing']);
    assert.match(table.stdout, /^TOPIC\s+PARTITION\s+COMMITTED\s+LATEST\s+LAG$/m);
    assert.match(table.stdout, /total lag 0/);
  });

  it('a new group from latest prints nothing that was already there', () => {
    const r = run(['consume', '--bus', bus, '--topic', 'cdr', '--group', 'fresh', '--timeout-ms', '200']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
  });

  it('fails with a non-zero status when a record cannot be produced or the bus is not available', () => {
    let r = run(['produce', '--bus', bus, '--topic', 'nope'], 'x\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /topic nope does not exist \(MON_ERR_BUS_UNKNOWN_TOPIC\)/);
    r = run(['produce', '--bus', bus, '--topic', 'cdr', '--key-field', 'caller'], '{"caller":"a"}\nnot json\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /line 2: .*not JSON/);
    r = run(['lag', '--bus', 'ftp://127.0.0.1:21', '--group', 'g']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown scheme ftp:.*\(MON_ERR_BUS_UNSUPPORTED\)/);
  });
});
