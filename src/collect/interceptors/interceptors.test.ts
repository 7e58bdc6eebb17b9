import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { resolveComponent, validateComponent } from '../../core/config/component.js';
import { makeEvent, type Event } from '../../core/event.js';
import type { Interceptor } from '../contracts.js';
import { testContext } from '../testkit.js';
import './body_prefix.js';
import './host.js';
import { localAddress } from './host.js';
import './regex_extractor.js';
import './regex_filter.js';
import './remove_header.js';
import './search_replace.js';
import './static.js';
import './timestamp.js';
import './uuid.js';

/** Builds an interceptor through the registry, the way an agent does, from Flume-style properties. */
function build(type: string, props: Record<string, string> = {}): Interceptor {
  const r = resolveComponent('interceptor', type);
  assert.ok('spec' in r, `interceptor ${type} is registered`);
  const v = validateComponent(r.spec, props, 'a1.sources.r1.interceptors.i1');
  assert.deepEqual(v.errors, []);
  return r.spec.create(v.config, testContext('i1')) as Interceptor;
}

function errors(type: string, props: Record<string, string>): string[] {
  const r = resolveComponent('interceptor', type);
  assert.ok('spec' in r);
  return validateComponent(r.spec, props, 'i').errors.map((e) => `${e.key}: ${e.message}`);
}

const ev = (body: string, headers: Record<string, string> = {}): Event => makeEvent(body, { ...headers });

describe('interceptors', () => {
  it('timestamp sets millis, keeps an existing value only with preserveExisting, honours header', () => {
    const before = Date.now();
    const [a, b] = build('org.apache.flume.interceptor.TimestampInterceptor$Builder').intercept([ev('x'), ev('y', { timestamp: '5' })]);
    assert.ok(Number(a!.headers.timestamp) >= before);
    assert.notEqual(b!.headers.timestamp, '5');
    const [c] = build('timestamp', { preserveExisting: 'true', header: 'ts' }).intercept([ev('x', { ts: '5' })]);
    assert.equal(c!.headers.ts, '5');
    assert.ok(Number(build('timestamp', { headerName: 'when' }).intercept([ev('x')])[0]!.headers.when) >= before);
  });

  it('host sets the IP by default, the host name with useIP=false, into hostHeader', () => {
    assert.equal(build('host').intercept([ev('x')])[0]!.headers.host, localAddress());
    const [e] = build('HOST', { useIP: 'false', hostHeader: 'h', preserveExisting: 'true' }).intercept([ev('x')]);
    assert.equal(e!.headers.h, hostname());
    assert.equal(build('host', { preserveExisting: 'true' }).intercept([ev('x', { host: 'kept' })])[0]!.headers.host, 'kept');
  });

  it('static sets key=value and by default preserves an existing value', () => {
    const i = build('static', { key: 'dc', value: 'eu-1' });
    const [a, b] = i.intercept([ev('x'), ev('y', { dc: 'us' })]);
    assert.equal(a!.headers.dc, 'eu-1');
    assert.equal(b!.headers.dc, 'us');
    assert.equal(build('static', { preserveExisting: 'false' }).intercept([ev('x', { key: 'old' })])[0]!.headers.key, 'value');
  });

  it('regex_filter keeps matching events, or drops them with excludeEvents', () => {
    const events = () => [ev('ERROR disk'), ev('INFO ok'), ev('error lower')];
    const body = (es: Event[]) => es.map((e) => e.body.toString());
    assert.deepEqual(body(build('regex_filter', { regex: 'ERROR' }).intercept(events())), ['ERROR disk']);
    assert.deepEqual(body(build('regex_filter', { regex: '^INFO', excludeEvents: 'true' }).intercept(events())), ['ERROR disk', 'error lower']);
    assert.equal(build('regex_filter').intercept(events()).length, 3);
    assert.deepEqual(body(build('regex_filter', { regex: '(?i)^error' }).intercept(events())), ['ERROR disk', 'error lower']);
    assert.match(errors('regex_filter', { regex: '(' })[0]!, /i\.regex: is not a valid regular expression/);
  });

  it('regex_extractor maps groups to serializer headers, parsing dates with the millis serializer', () => {
    const i = build('org.apache.flume.interceptor.RegexExtractorInterceptor$Builder', {
      regex: '^(\\d\\d\\d\\d-\\d\\d-\\d\\d \\d\\d:\\d\\d) (\\w+) (\\w+)',
      serializers: 's1 s2 s3',
      'serializers.s1.type': 'org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer',
      'serializers.s1.name': 'timestamp',
      'serializers.s1.pattern': 'yyyy-MM-dd HH:mm',
      'serializers.s2.name': 'level',
      'serializers.s3.type': 'default',
      'serializers.s3.name': 'component',
    });
    const [a, b] = i.intercept([ev('2012-10-18 18:47 WARN disk is slow'), ev('no match')]);
    assert.deepEqual(a!.headers, { timestamp: String(new Date(2012, 9, 18, 18, 47).getTime()), level: 'WARN', component: 'disk' });
    assert.deepEqual(b!.headers, {});
    const zoned = build('regex_extractor', { regex: '(.*)', serializers: 'd', 'serializers.d.type': 'millis', 'serializers.d.name': 't', 'serializers.d.pattern': "dd/MMM/yyyy:HH:mm:ss Z" });
    assert.equal(zoned.intercept([ev('10/Oct/2000:13:55:36 -0700')])[0]!.headers.t, String(Date.UTC(2000, 9, 10, 20, 55, 36)));
    assert.deepEqual(errors('regex_extractor', { regex: '(a)', serializers: 's1 s2', 'serializers.s1.type': 'millis', 'serializers.s1.name': 'x', 'serializers.s2.type': 'weird' }), [
      'i.serializers.s1.pattern: is required for the millis serializer',
      'i.serializers.s2.name: is required',
      'i.serializers.s2.type: unknown serializer type "weird"; use default or org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer',
    ]);
  });

  it('search_replace replaces every match using Java replacement syntax', () => {
    const i = build('search_replace', { searchPattern: '(\\w+)@(\\w+)', replaceString: '$2 at \\$$1' });
    assert.equal(i.intercept([ev('mail a@b and c@d')])[0]!.body.toString(), 'mail b at $a and d at $c');
    const del = build('org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder', { searchPattern: '^\\d+ ' });
    assert.equal(del.intercept([ev('123 rest')])[0]!.body.toString(), 'rest');
    const latin = build('search_replace', { searchPattern: 'é', replaceString: 'e', charset: 'ISO-8859-1' });
    assert.deepEqual(latin.intercept([makeEvent(Buffer.from([0x63, 0xe9]))])[0]!.body, Buffer.from('ce'));
    assert.match(errors('search_replace', { searchPattern: 'x', charset: 'EBCDIC' })[0]!, /i\.charset: unsupported charset/);
    assert.equal(errors('search_replace', {})[0], 'i.searchPattern: is required');
  });

  it('remove_header removes by name, by list and by whole-name match', () => {
    const h = { a: '1', b: '2', c: '3', 'x-trace': '4', 'x-trace-id': '5', keep: '6', prefix_keep: '7' };
    const i = build('remove_header', { withName: 'a', fromList: 'b , c', matching: 'x-.*|keep' });
    assert.deepEqual(i.intercept([ev('x', h)])[0]!.headers, { prefix_keep: '7' });
    assert.deepEqual(build('remove_header', { matching: '(?i)X-.*' }).intercept([ev('x', { 'x-a': '1', b: '2' })])[0]!.headers, { b: '2' });
    assert.match(errors('remove_header', { matching: '[' })[0]!, /i\.matching: is not a valid regular expression/);
    const sep = build('org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder', { fromList: 'a:b', fromListSeparator: ':' });
    assert.deepEqual(sep.intercept([ev('x', { a: '1', b: '2', c: '3' })])[0]!.headers, { c: '3' });
  });

  it('uuid sets a prefixed random id and preserves an existing one by default', () => {
    const [a, b, c] = build('org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder', { prefix: 'web-' }).intercept([ev('x'), ev('y'), ev('z', { id: 'mine' })]);
    assert.match(a!.headers.id!, /^web-[0-9a-f]{8}-[0-9a-f]{4}-/);
    assert.notEqual(a!.headers.id, b!.headers.id);
    assert.equal(c!.headers.id, 'mine');
    assert.match(build('uuid', { headerName: 'eid', preserveExisting: 'false' }).intercept([ev('x', { eid: 'old' })])[0]!.headers.eid!, /^[0-9a-f-]{36}$/);
  });

  it('body_prefix prepends its literal value', () => {
    const i = build('org.apache.flume.interceptor.ValueBodyInterceptor$Builder', { value: 'searchweb!`@`!' });
    assert.equal(i.intercept([ev('GET /')])[0]!.body.toString(), 'searchweb!`@`!GET /');
    assert.equal(errors('body_prefix', {})[0], 'i.value: is required');
  });
});
