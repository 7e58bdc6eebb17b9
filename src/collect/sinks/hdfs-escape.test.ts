import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { makeEvent } from '../../core/event.js';
import { Calendar, EscapedString, insideRoot, pathRoot, sanitize } from './hdfs-escape.js';

// Thursday 29 February 2024, 13:05:09.123 UTC.
const TS = Date.UTC(2024, 1, 29, 13, 5, 9, 123);
const render = (t: string, tz: string, headers: Record<string, string> = {}, ts = TS) => new EscapedString(t).render(makeEvent('', headers), ts, new Calendar(tz));

describe('hdfs escapes', () => {
  it('formats every time escape in the configured time zone', () => {
    const all = '%Y|%m|%d|%H|%M|%S|%y|%j|%k|%l|%I|%p|%s|%n|%t|%a|%A|%b|%B|%c|%D|%e|%z';
    assert.equal(
      render(all, 'UTC'),
      '2024|02|29|13|05|09|24|060|13|1|01|PM|1709211909|2|1709211909123|Thu|Thursday|Feb|February|Thu Feb 29 13:05:09 2024|02/29/24|29|+0000',
    );
    assert.equal(render('%Y-%m-%d %H %k %l %p %z %a', 'America/Los_Angeles'), '2024-02-29 05 5 5 AM -0800 Thu');
    assert.equal(render('%H:%M %z %j', 'Asia/Kolkata'), '18:35 +0530 060');
    assert.equal(render('%e/%n %H', 'UTC', {}, Date.UTC(2024, 0, 5, 0, 0, 0)), '5/1 00');
  });

  it('substitutes headers (missing ones as empty) and host names', () => {
    assert.equal(render('/logs/%{app}/%{missing}x-%[localhost]', 'UTC', { app: 'web' }), `/logs/web/x-${sanitize(hostname())}`);
  });

  it('rounds down the second, minute or hour field, in the time zone', () => {
    const cal = new Calendar('UTC');
    assert.equal(cal.roundDown(TS, 5, 'second'), Date.UTC(2024, 1, 29, 13, 5, 5));
    assert.equal(cal.roundDown(TS, 10, 'minute'), Date.UTC(2024, 1, 29, 13, 0, 0));
    assert.equal(cal.roundDown(TS, 6, 'hour'), Date.UTC(2024, 1, 29, 12, 0, 0));
    // 18:35 in Kolkata rounds to 18:00 there, which is 12:30 UTC.
    assert.equal(new Calendar('Asia/Kolkata').roundDown(TS, 1, 'hour'), Date.UTC(2024, 1, 29, 12, 30, 0));
  });

  it('rejects unknown escapes', () => {
    assert.throws(() => new EscapedString('/x/%q'), /unknown escape %q/);
    assert.throws(() => new EscapedString('/x/%[nope]'), /unknown escape %\[nope\]/);
    assert.throws(() => new EscapedString('/x/%{open'), /unterminated escape/);
  });

  it('sanitizes header values and keeps every path inside the root', () => {
    assert.equal(sanitize('../../etc/passwd'), '.._.._etc_passwd');
    assert.equal(sanitize('..'), '__');
    assert.equal(sanitize('a\\b\0c'), 'a_b_c');
    const p = new EscapedString('/data/logs/%{app}/%Y');
    assert.equal(pathRoot(p), '/data/logs');
    assert.equal(pathRoot(new EscapedString('/data/logs/app-%{x}')), '/data/logs');
    assert.equal(pathRoot(new EscapedString('/data/plain')), '/data/plain');
    assert.equal(render('/data/logs/%{app}', 'UTC', { app: '../../etc' }), '/data/logs/.._.._etc');
    assert.equal(insideRoot('/data/logs', '/data/logs/a/b'), '/data/logs/a/b');
    assert.throws(() => insideRoot('/data/logs', '/data/logs/./../x'), (e: Error & { code?: string }) => e.code === 'MON_ERR_PATH_ESCAPE');
    assert.throws(() => insideRoot('/data/logs', '/data/logsx/f'), /outside the sink's root directory \/data\/logs/);
  });
});
