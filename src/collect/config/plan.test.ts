import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../builtins.js';
import { flattenYaml, parseFlumeProperties } from './load.js';
import { planAgent } from './plan.js';

const valid = `
# A Flume agent config, as users write it.
a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sinkgroups = g1

a1.sources.r1.type = org.apache.flume.source.SequenceGeneratorSource
a1.sources.r1.batchSize = 10
a1.sources.r1.channels = c1 c2
a1.sources.r1.selector.type = REPLICATING
a1.sources.r1.selector.optional = c2
a1.sources.r1.interceptors = i1
a1.sources.r1.interceptors.i1.type = timestamp

a1.channels.c1.type = MEMORY
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.channels.c2.type = memory

a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = org.apache.flume.sink.NullSink
a1.sinks.k2.channel = c1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 10
a1.sinkgroups.g1.processor.priority.k2 = 5
`;

describe('agent configuration (Flume properties)', () => {
  it('resolves aliases case-insensitively and fully qualified class names', () => {
    const r = planAgent(parseFlumeProperties(valid), 'a1');
    assert.deepEqual(r.errors, []);
    const p = r.plan!;
    assert.equal(p.sources[0]!.spec.type, 'seq');
    assert.deepEqual(p.sources[0]!.channels, ['c1', 'c2']);
    assert.equal(p.sources[0]!.selector.spec.type, 'replicating');
    assert.equal(p.sources[0]!.interceptors[0]!.spec.type, 'timestamp');
    assert.deepEqual(p.channels.map((c) => c.spec.type), ['memory', 'memory']);
    assert.deepEqual(p.sinks.map((s) => s.spec.type), ['null', 'null']);
    assert.equal(p.groups.length, 1);
    assert.equal(p.groups[0]!.processor.spec.type, 'failover');
  });

  it('lists every error, each naming its key', () => {
    const bad = `
a1.sources = r1 r2
a1.channels = c1
a1.sinks = k1 k2 k3
a1.sources.r1.type = seq
a1.sources.r1.batchSize = abc
a1.sources.r1.channels = c9
a1.sources.r2.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = nul
a1.sinks.k1.channel = c1
a1.sinks.k2.type = org.apache.flume.sink.elasticsearch.ElasticSearchSink
a1.sinks.k2.channel = c1
a1.sinks.k3.type = null
a1.sinks.k3.channel = c1
a1.sinks.k3.batchSize = 500
`;
    const r = planAgent(parseFlumeProperties(bad), 'a1');
    assert.equal(r.plan, undefined);
    const byKey = new Map(r.errors.map((e) => [e.key, e.message]));
    assert.match(byKey.get('a1.sources.r1.batchSize')!, /expected an integer, got "abc"/);
    assert.match(byKey.get('a1.sources.r1.channels')!, /channel "c9", which is not declared/);
    assert.match(byKey.get('a1.sources.r2.type')!, /is required/);
    assert.match(byKey.get('a1.channels.c1.transactionCapacity')!, /must not exceed capacity/);
    assert.match(byKey.get('a1.sinks.k1.type')!, /unknown sink type "nul" \(did you mean "null"\?\)/);
    assert.match(byKey.get('a1.sinks.k2.type')!, /not available yet/);
    assert.match(byKey.get('a1.sinks.k3.batchSize')!, /\(500\) exceeds transactionCapacity \(100\) of channel c1/);
  });

  it('warns about unknown keys with a suggestion, and about undeclared components', () => {
    const r = planAgent(
      parseFlumeProperties(`
a1.sources = r1
a1.channels = c1
a1.sources.r1.type = seq
a1.sources.r1.batchsize = 5
a1.sources.r1.channels = c1
a1.sources.r9.type = seq
a1.channels.c1.type = memory
`),
      'a1',
    );
    assert.deepEqual(r.errors, []);
    const w = new Map(r.warnings.map((x) => [x.key, x.message]));
    assert.match(w.get('a1.sources.r1.batchsize')!, /did you mean a1\.sources\.r1\.batchSize\?/);
    assert.match(w.get('a1.sources.r9')!, /not listed in a1\.sources/);
  });

  it('names the agents a file configures when the requested one is absent', () => {
    const r = planAgent(parseFlumeProperties('agent1.channels = c1\nagent1.channels.c1.type = memory\n'), 'agent');
    assert.match(r.errors[0]!.message, /configures: agent1 \(did you mean agent1\?\)/);
  });

  it('reads the YAML equivalent into the same plan', () => {
    const yaml = `
a1:
  sources:
    r1:
      type: org.apache.flume.source.SequenceGeneratorSource
      batchSize: 10
      channels: [c1, c2]
      selector: { type: REPLICATING, optional: c2 }
      interceptors:
        i1: { type: timestamp }
  channels:
    c1: { type: MEMORY, capacity: 1000, transactionCapacity: 100 }
    c2: { type: memory }
  sinks:
    k1: { type: "null", channel: c1 }
    k2: { type: org.apache.flume.sink.NullSink, channel: c1 }
  sinkgroups:
    g1:
      sinks: [k1, k2]
      processor: { type: failover, priority: { k1: 10, k2: 5 } }
`;
    const fromYaml = planAgent(flattenYaml(yaml), 'a1');
    const fromProps = planAgent(parseFlumeProperties(valid), 'a1');
    assert.deepEqual(fromYaml.errors, []);
    const shape = (r: typeof fromYaml) => JSON.stringify(r.plan, (k, v) => (k === 'spec' ? v.type : k === 'raw' ? undefined : v instanceof RegExp ? String(v) : v));
    assert.equal(shape(fromYaml), shape(fromProps));
  });
});

describe('environment variables in values', () => {
  it('replaces ${NAME} and names the key of an unset variable', async () => {
    const { resolveEnv } = await import('./load.js');
    const flat = resolveEnv(parseFlumeProperties('a1.sinks.k1.sink.directory = ${OUT}/files\n'), { OUT: '/data' }, 'f.properties');
    assert.equal(flat.get('a1.sinks.k1.sink.directory'), '/data/files');
    assert.throws(
      () => resolveEnv(parseFlumeProperties('a1.sinks.k1.sink.directory = ${NOPE}/files\n'), {}, 'f.properties'),
      /f\.properties: 1 configuration error\(s\):\n {2}a1\.sinks\.k1\.sink\.directory: environment variable NOPE is not set/,
    );
  });
});
