import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import { parseBusUrl } from './url.js';

describe('bus URLs', () => {
  it('a path or file: URL names the embedded log', () => {
    assert.deepEqual(parseBusUrl('/var/lib/bus'), { kind: 'embedded', dir: '/var/lib/bus' });
    assert.deepEqual(parseBusUrl('rel/dir'), { kind: 'embedded', dir: resolve('rel/dir') });
    assert.deepEqual(parseBusUrl('file:/tmp/b'), { kind: 'embedded', dir: '/tmp/b' });
    assert.deepEqual(parseBusUrl('file:///tmp/b'), { kind: 'embedded', dir: '/tmp/b' });
  });

  it('redis:// and rediss:// name the Redis Streams bus', () => {
    assert.deepEqual(parseBusUrl('redis://127.0.0.1:6380'), { kind: 'redis', url: 'redis://127.0.0.1:6380' });
    assert.deepEqual(parseBusUrl('rediss://u:p@h:6380/2'), { kind: 'redis', url: 'rediss://u:p@h:6380/2' });
    assert.throws(() => parseBusUrl('redis://'), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNSUPPORTED);
  });

  it('monsoon://host:port names a bus served by another Monsoon process', () => {
    assert.deepEqual(parseBusUrl('monsoon://127.0.0.1:9392'), { kind: 'monsoon', host: '127.0.0.1', port: 9392 });
    assert.deepEqual(parseBusUrl('monsoon://[::1]:7000/'), { kind: 'monsoon', host: '::1', port: 7000 });
    for (const bad of ['monsoon://', 'monsoon://host', 'monsoon://h:0', 'monsoon://h:70000', 'monsoon://h:1/x']) {
      assert.throws(() => parseBusUrl(bad), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNSUPPORTED, bad);
    }
  });

  it('engines not built yet give a clear error naming the scheme', () => {
    for (const [url, scheme] of [['kafka://h1:9092,h2:9092', 'kafka'], ['nats://127.0.0.1:4222', 'nats'], ['ftp://x', 'ftp']]) {
      assert.throws(() => parseBusUrl(url!), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNSUPPORTED && e.message.includes(`${scheme}:`), url);
    }
    assert.throws(() => parseBusUrl('kafka://h:1'), /not available yet/);
  });
});
