import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { RecordingProcessor, sourceContext, waitUntil } from '../testkit.js';
import { configureSource } from './configure.js';
import { MultiportSyslogTcpSource, SyslogTcpSource, SyslogUdpSource, multiportSyslogSpec, syslogTcpSpec, syslogUdpSpec } from './syslog.js';

const MSG3164 = '<34>Oct 11 22:14:15 mymachine su: failed';
const MSG5424 = '<165>1 2003-10-11T22:14:15.003Z host5 app 42 ID47 - hello 5424';

describe('syslog sources over sockets', () => {
  it('syslogtcp takes newline and octet-counted messages, with client headers', async () => {
    const proc = new RecordingProcessor();
    const src = new SyslogTcpSource(
      configureSource(syslogTcpSpec, { host: '127.0.0.1', port: '0', clientIPHeader: 'ip', clientHostnameHeader: 'client' }),
      sourceContext('r1', proc),
    );
    await src.start();
    const sock = connect(src.port, '127.0.0.1');
    try {
      sock.write(`${MSG3164}\n${Buffer.byteLength(MSG5424)} ${MSG5424}garbage line\n`);
      await waitUntil(() => proc.events.length === 3, 5000, 'three events');
      sock.end('<13>Oct 11 22:14:15 h unterminated');
      await waitUntil(() => proc.events.length === 4, 5000, 'the unterminated last message');
    } finally {
      sock.destroy();
      await src.stop();
    }
    const [a, b, c, d] = proc.events;
    assert.equal(d!.body.toString(), 'unterminated');
    assert.equal(a!.headers.host, 'mymachine');
    assert.equal(a!.headers.Facility, '4');
    assert.equal(a!.body.toString(), 'su: failed');
    assert.equal(b!.headers.timestamp, '1065910455003');
    assert.equal(b!.headers['syslog.procId'], '42');
    assert.equal(b!.body.toString(), 'app 42 ID47 - hello 5424');
    assert.equal(c!.headers['flume.syslog.status'], 'Invalid');
    assert.equal(c!.body.toString(), 'garbage line');
    for (const e of proc.events) {
      assert.equal(e.headers.ip, '127.0.0.1');
      assert.ok(e.headers.client, 'client hostname header is set');
      assert.ok(e.headers['monsoon.origin']?.startsWith('test-host/a1/r1/'));
    }
    assert.deepEqual(proc.events.map((e) => e.headers['monsoon.seq']), ['0', '1', '2', '3']);
  });

  it('syslogtcp marks the first piece of an oversized message Incomplete', async () => {
    const proc = new RecordingProcessor();
    const src = new SyslogTcpSource(configureSource(syslogTcpSpec, { host: '127.0.0.1', port: '0', eventSize: '20' }), sourceContext('r1', proc));
    await src.start();
    const sock = connect(src.port, '127.0.0.1');
    try {
      sock.write('<13>Oct 11 22:14:15 h 0123456789\n');
      await waitUntil(() => proc.events.length === 2, 5000, 'two pieces');
    } finally {
      sock.destroy();
      await src.stop();
    }
    assert.equal(proc.events[0]!.headers['flume.syslog.status'], 'Incomplete');
    assert.equal(proc.events[1]!.body.toString(), 'h 0123456789');
  });

  it('syslogudp parses each datagram, 3164 and 5424', async () => {
    const proc = new RecordingProcessor();
    const src = new SyslogUdpSource(configureSource(syslogUdpSpec, { host: '127.0.0.1', port: '0', keepFields: 'all', clientHostnameHeader: 'client' }), sourceContext('r1', proc));
    await src.start();
    const client = createSocket('udp4');
    try {
      client.send(`${MSG3164}\n`, src.port, '127.0.0.1');
      client.send(MSG5424, src.port, '127.0.0.1');
      await waitUntil(() => proc.events.length === 2, 5000, 'two datagrams');
    } finally {
      client.close();
      await src.stop();
    }
    const byHost = new Map(proc.events.map((e) => [e.headers.host, e]));
    assert.equal(byHost.get('mymachine')!.body.toString(), MSG3164);
    assert.equal(byHost.get('host5')!.headers['syslog.appName'], 'app');
    assert.equal(byHost.get('host5')!.body.toString(), MSG5424);
    for (const e of proc.events) assert.ok(e.headers.client);
  });

  it('multiport_syslogtcp listens on every port and names it in portHeader', async () => {
    const proc = new RecordingProcessor();
    const src = new MultiportSyslogTcpSource(configureSource(multiportSyslogSpec, { host: '127.0.0.1', ports: '0 0', portHeader: 'port' }), sourceContext('r1', proc));
    await src.start();
    const socks = src.ports.map((p) => connect(p, '127.0.0.1'));
    try {
      for (const s of socks) s.write(`${MSG3164}\n`);
      await waitUntil(() => proc.events.length === 2, 5000, 'one event per port');
    } finally {
      for (const s of socks) s.destroy();
      await src.stop();
    }
    assert.ok(proc.events.every((e) => e.headers.port === '0' && e.headers.host === 'mymachine'));
    assert.throws(() => configureSource(multiportSyslogSpec, { host: 'x', ports: '514 http' }), /ports: "http" is not a port number/);
  });
});
