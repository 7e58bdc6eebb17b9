import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { RecordingProcessor, sourceContext, waitUntil } from '../testkit.js';
import { configureSource } from './configure.js';
import { NetcatSource, NetcatUdpSource, netcatSpec, netcatUdpSpec } from './netcat.js';

async function withNetcat(props: Record<string, string>, fn: (s: Socket, replies: () => string, p: RecordingProcessor) => Promise<void>, proc = new RecordingProcessor()) {
  const src = new NetcatSource(configureSource(netcatSpec, { bind: '127.0.0.1', port: '0', ...props }), sourceContext('r1', proc));
  await src.start();
  const sock = connect(src.port, '127.0.0.1');
  let got = '';
  sock.on('data', (d) => (got += d.toString()));
  await new Promise((r) => sock.once('connect', r));
  try {
    await fn(sock, () => got, proc);
  } finally {
    sock.destroy();
    await src.stop();
  }
}

describe('netcat source', () => {
  it('acknowledges each line with OK after the commit, stamping identities', async () => {
    await withNetcat({}, async (s, replies, p) => {
      s.write('hello\nworld\r\npart');
      await waitUntil(() => replies() === 'OK\nOK\n', 5000, 'two OKs');
      assert.deepEqual(p.bodies(), ['hello', 'world\r']);
      assert.equal(p.batches, 1, 'lines of one chunk go in one batch');
      s.write('ial\n');
      await waitUntil(() => replies() === 'OK\nOK\nOK\n', 5000, 'third OK');
      assert.equal(p.bodies()[2], 'partial');
      assert.deepEqual(p.events.map((e) => e.headers['monsoon.seq']), ['0', '1', '2']);
      assert.match(p.events[0]!.headers['monsoon.origin']!, /^test-host\/a1\/r1\/\w+$/);
    });
  });

  it('refuses a line over max-line-length with the FAILED reply and keeps going', async () => {
    await withNetcat({ 'max-line-length': '8' }, async (s, replies, p) => {
      s.write('short\n' + 'x'.repeat(20));
      s.write('y'.repeat(20) + '\nok\n');
      await waitUntil(() => replies().split('\n').length >= 4, 5000, 'three replies');
      assert.equal(replies(), 'OK\nFAILED: Event exceeds the maximum length (8 chars, including newline)\nOK\n');
      assert.deepEqual(p.bodies(), ['short', 'ok']);
    });
  });

  it('holds the batch while the channel is full and acknowledges once committed', async () => {
    const proc = new RecordingProcessor();
    proc.failNext = 3;
    await withNetcat({ 'ack-every-event': 'true' }, async (s, replies, p) => {
      s.write('kept\n');
      await waitUntil(() => replies() === 'OK\n', 5000, 'the OK after retries');
      assert.deepEqual(p.bodies(), ['kept']);
      assert.equal(p.failNext, 0);
    }, proc);
  });

  it('sends no OK when ack-every-event is false', async () => {
    await withNetcat({ 'ack-every-event': 'false' }, async (s, replies, p) => {
      s.write('a\nb\n');
      await waitUntil(() => p.events.length === 2, 5000, 'two events');
      s.write('x'.repeat(600) + '\n');
      await waitUntil(() => replies().length > 0, 5000, 'the FAILED reply');
      assert.match(replies(), /^FAILED: Event exceeds the maximum length \(512 chars/);
    });
  });

  it('netcatudp turns each datagram into an event with the sender address', async () => {
    const proc = new RecordingProcessor();
    const src = new NetcatUdpSource(configureSource(netcatUdpSpec, { bind: '127.0.0.1', port: '0', remoteAddressHeader: 'from' }), sourceContext('r1', proc));
    await src.start();
    const client = createSocket('udp4');
    try {
      client.send('one\n', src.port, '127.0.0.1');
      await waitUntil(() => proc.events.length === 1, 5000, 'the datagram');
    } finally {
      client.close();
      await src.stop();
    }
    assert.deepEqual(proc.bodies(), ['one']);
    assert.equal(proc.events[0]!.headers.from, '127.0.0.1');
  });
});
