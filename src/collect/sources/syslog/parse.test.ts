import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SyslogFramer } from './framer.js';
import { parseKeepFields, parseSyslog, type KeepField } from './parse.js';

const none = new Set<KeepField>();
const now = new Date(2026, 10, 21, 12, 0, 0);

describe('syslog parsing', () => {
  it('parses RFC 3164 into Flume headers', () => {
    const e = parseSyslog(Buffer.from("<34>Oct 11 22:14:15 mymachine su: 'su root' failed"), none, now);
    assert.deepEqual(e.headers, { Facility: '4', Severity: '2', timestamp: String(new Date(2026, 9, 11, 22, 14, 15).getTime()), host: 'mymachine' });
    assert.equal(e.body.toString(), "su: 'su root' failed");
    const padded = parseSyslog(Buffer.from('<13>Feb  5 01:02:03 h msg'), none, now);
    assert.equal(padded.headers.timestamp, String(new Date(2026, 1, 5, 1, 2, 3).getTime()));
    const lastYear = parseSyslog(Buffer.from('<13>Dec 31 23:59:59 h msg'), none, new Date(2026, 0, 1, 0, 0, 5));
    assert.equal(lastYear.headers.timestamp, String(new Date(2025, 11, 31, 23, 59, 59).getTime()));
  });

  it('parses RFC 5424 with app name, proc id and msg id headers', () => {
    const raw = '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event';
    const e = parseSyslog(Buffer.from(raw), none, now);
    assert.deepEqual(e.headers, {
      Facility: '20',
      Severity: '5',
      timestamp: '1065910455003',
      host: 'mymachine.example.com',
      'syslog.appName': 'evntslog',
      'syslog.msgId': 'ID47',
    });
    assert.equal(e.body.toString(), 'evntslog - ID47 [exampleSDID@32473 iut="3"] An application event');
    assert.equal(parseSyslog(Buffer.from(raw), new Set<KeepField>(['priority', 'version', 'timestamp', 'hostname']), now).body.toString(), raw);
    const some = parseSyslog(Buffer.from(raw), new Set<KeepField>(['hostname']), now);
    assert.equal(some.body.toString(), 'mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event');
  });

  it('delivers unparsable lines whole with flume.syslog.status = Invalid', () => {
    for (const raw of ['no priority here', '<999>1 - - - - - x', '']) {
      const e = parseSyslog(Buffer.from(raw), none, now);
      assert.deepEqual(e.headers, { 'flume.syslog.status': 'Invalid' });
      assert.equal(e.body.toString(), raw);
    }
  });

  it('reads keepFields the way Flume does', () => {
    assert.deepEqual(parseKeepFields('none'), { keep: new Set() });
    assert.equal((parseKeepFields('true') as { keep: Set<string> }).keep.size, 4);
    assert.deepEqual(parseKeepFields('timestamp hostname'), { keep: new Set(['timestamp', 'hostname']) });
    assert.match((parseKeepFields('colour') as { error: string }).error, /unknown field "colour"/);
  });
});

describe('syslog TCP framing', () => {
  const frames = (chunks: string[], max = 100, end = false) => {
    const out: string[] = [];
    const f = new SyslogFramer(max, (b, piece) => out.push(`${piece}:${b.toString()}`));
    for (const c of chunks) f.push(Buffer.from(c));
    if (end) f.end();
    return out;
  };

  it('hands over an unterminated last message when the connection ends', () => {
    assert.deepEqual(frames(['<13>a\n<13>last'], 100, true), ['whole:<13>a', 'whole:<13>last']);
    assert.deepEqual(frames(['20 <13>cut'], 100, true), ['first:<13>cut']);
  });

  it('mixes octet counting and newline framing, across chunk boundaries', () => {
    assert.deepEqual(frames(['11 <13>hello\nw', 'orld\r', '\n1', '1 <13>a\nb c d\n<1>x\n']), ['whole:<13>hello\nw', 'whole:orld', 'whole:<13>a\nb c d', 'whole:<1>x']);
  });

  it('splits an oversized message into pieces without losing bytes', () => {
    assert.deepEqual(frames(['<13>abcdefghij\n', '14 <13>abcdefghij'], 8), ['first:<13>abcd', 'more:efghij', 'first:<13>abcd', 'more:efghij']);
  });

  it('treats digits without a following space as the start of a line', () => {
    assert.deepEqual(frames(['2024-01-01 bad\n']), ['whole:2024-01-01 bad']);
  });
});
