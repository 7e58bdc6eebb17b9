import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import { parseKafkaUrl } from './kafka/kafka.js';
import { parseNatsUrl } from './nats/layout.js';
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

  it('kafka:// names the Kafka bus, with its brokers and acks', () => {
    assert.deepEqual(parseBusUrl('kafka://h1:9092,h2:9092?acks=1'), { kind: 'kafka', url: 'kafka://h1:9092,h2:9092?acks=1' });
    assert.deepEqual(parseKafkaUrl('kafka://h1:9092,h2:9092?acks=1'), { brokers: ['h1:9092', 'h2:9092'], acks: 1 });
    assert.deepEqual(parseKafkaUrl('kafka://h1:9092'), { brokers: ['h1:9092'], acks: undefined });
    assert.deepEqual(parseKafkaUrl('kafka://h1:9092/?acks=all'), { brokers: ['h1:9092'], acks: 'all' });
    for (const bad of ['kafka://', 'kafka://h1', 'kafka://h1:9092?acks=0', 'kafka://h1:9092?linger=5']) {
      assert.throws(() => (parseBusUrl(bad), parseKafkaUrl(bad)), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNSUPPORTED, bad);
    }
  });

  it('nats:// names the NATS JetStream bus, with servers, replicas and prefix checked', () => {
    assert.deepEqual(parseBusUrl('nats://127.0.0.1:4222'), { kind: 'nats', url: 'nats://127.0.0.1:4222' });
    assert.deepEqual(parseNatsUrl('nats://a:1,b:2?replicas=3&prefix=p1'), { servers: ['nats://a:1', 'nats://b:2'], replicas: 3, prefix: 'p1' });
    for (const bad of ['nats://', 'nats://h:1?replicas=0', 'nats://h:1?replicas=x', 'nats://h:1?prefix=a.b', 'nats://h:1?color=red']) {
      assert.throws(() => parseBusUrl(bad), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNSUPPORTED, bad);
    }
  });

  it('an unknown scheme gives a clear error naming it', () => {
    assert.throws(() => parseBusUrl('ftp://x'), (e: unknown) => e instanceof MonsoonError && e.code === ErrorCodes.BUS_UNSUPPORTED && /unknown scheme ftp:/.test(e.message));
  });
});
