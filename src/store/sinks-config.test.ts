import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../collect/builtins.js';
import { resolveComponent, validateComponent } from '../core/config/component.js';
import { pgConnectionString } from './postgres/sink.js';

const errors = (props: Record<string, string>) => {
  const r = resolveComponent('sink', props.type!);
  assert.ok('spec' in r, JSON.stringify(r));
  return validateComponent(r.spec, props, 'a1.sinks.k1').errors.map((e) => `${e.key}: ${e.message}`);
};

describe('store sink configs', () => {
  it('postgres: needs a postgres URL, plain table and column names, and a mapping that leaves the id alone', () => {
    assert.deepEqual(errors({ type: 'postgresql', url: 'jdbc:postgresql://db:5432/app', table: 'public.cdr', columns: 'body=body msisdn=header.msisdn' }), []);
    assert.equal(pgConnectionString({ url: 'jdbc:postgresql://db:5432/app?user=u', connectionString: undefined }), 'postgresql://db:5432/app?user=u');
    const e = errors({ type: 'postgres', table: 'a.b.c', columns: 'id=body x=nonsense' });
    assert.ok(e.some((m) => /a1\.sinks\.k1\.url: is required/.test(m)), e.join('\n'));
    assert.ok(e.some((m) => /a1\.sinks\.k1\.table: .*schema\.table/.test(m)), e.join('\n'));
    assert.ok(e.some((m) => /a1\.sinks\.k1\.columns: .*the source must be/.test(m)), e.join('\n'));
    assert.ok(errors({ type: 'postgres', url: 'mysql://x/y', table: 't' }).some((m) => /url: must start with postgres/.test(m)));
    assert.ok(errors({ type: 'postgres', url: 'postgres://x/y', table: 't', columns: 'id=body' }).some((m) => /identity column/.test(m)));
  });

  it('clickhouse: needs the HTTP URL and plain names', () => {
    assert.deepEqual(errors({ type: 'clickhouse', url: 'http://ch:8123', database: 'logs', table: 'cdr' }), []);
    const e = errors({ type: 'clickhouse', url: 'tcp://ch:9000', table: 'db.cdr' });
    assert.ok(e.some((m) => /url: must be the HTTP interface/.test(m)), e.join('\n'));
    assert.ok(e.some((m) => /table: must be a plain identifier/.test(m)), e.join('\n'));
  });

  it('kv and rolled_files: names and file systems checked at load', () => {
    assert.ok(errors({ type: 'kv', table: 't', columnFamily: 'bad family' }).some((m) => /columnFamily: column family/.test(m)));
    assert.ok(errors({ type: 'kv', table: 't', columnFamily: 'f', rowKey: '%{}' }).some((m) => /rowKey: empty %\{\}/.test(m)));
    assert.ok(errors({ type: 'rolled_files', path: '/x', fields: 'body header.' }).some((m) => /fields: field "header\." must be/.test(m)));
    assert.ok(errors({ type: 'rolled_files', path: '/x', moveTo: 'webhdfs://nn:9870/done' }).some((m) => /moveTo: .*webhdfs:\/\/ is not available/.test(m)));
    assert.ok(errors({ type: 'rolled_files', path: '/x', prefix: 'a/b' }).some((m) => /prefix: must not contain a path separator/.test(m)));
  });

  it('asynchbase stays a clear "not available"', () => {
    assert.match(JSON.stringify(resolveComponent('sink', 'asynchbase')), /not available yet/);
  });
});
