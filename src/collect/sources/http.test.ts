import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordingProcessor, sourceContext } from '../testkit.js';
import { configureSource } from './configure.js';
import { HttpSource, httpSpec } from './http.js';

async function withHttp(fn: (url: string, p: RecordingProcessor) => Promise<void>, props: Record<string, string> = {}) {
  const proc = new RecordingProcessor();
  const src = new HttpSource(configureSource(httpSpec, { bind: '127.0.0.1', port: '0', ...props }), sourceContext('r1', proc));
  await src.start();
  try {
    await fn(`http://127.0.0.1:${src.port}/`, proc);
  } finally {
    await src.stop();
  }
}

const post = (url: string, body: string | Uint8Array, type = 'application/json') => fetch(url, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers: { 'content-type': type } });

describe('http source', () => {
  it('commits a JSON array of events and answers 200', async () => {
    await withHttp(async (url, p) => {
      const r = await post(url, JSON.stringify([{ headers: { a: 'b', n: 1 }, body: 'héllo' }, { body: 'two' }, { headers: {} }]));
      assert.equal(r.status, 200);
      assert.deepEqual(p.bodies(), ['héllo', 'two', '']);
      assert.equal(p.events[0]!.headers.a, 'b');
      assert.equal(p.events[0]!.headers.n, '1');
      assert.deepEqual(p.events.map((e) => e.headers['monsoon.seq']), ['0', '1', '2']);
      assert.equal(p.batches, 1);
      const latin = await post(url, Buffer.from('[{"body": "é"}]', 'latin1'), 'application/json; charset=ISO-8859-1');
      assert.equal(latin.status, 200);
      assert.deepEqual(p.events[3]!.body, Buffer.from([0xe9]));
    });
  });

  it('answers 400 naming the problem for bad JSON or a bad shape', async () => {
    await withHttp(async (url, p) => {
      const cases: Array<[string, RegExp]> = [
        ['[{"body": "x"', /not valid JSON/],
        ['{"body": "x"}', /must be a JSON array of events/],
        ['[{"body": {"nested": true}}]', /event 0: body must be a string/],
        ['[{"body": "ok"}, {"headers": {"k": [1]}}]', /event 1: headers\.k must be a string/],
        ['[7]', /event 0 must be an object/],
      ];
      for (const [body, msg] of cases) {
        const r = await post(url, body);
        assert.equal(r.status, 400, body);
        assert.match(await r.text(), msg);
      }
      assert.equal(p.events.length, 0);
      assert.equal((await post(url, '')).status, 200, 'an empty body is an empty batch');
      assert.equal((await fetch(url)).status, 405);
      assert.equal(p.batches, 0);
    });
  });

  it('answers 503 while the channel is full and 413 for an oversized body', async () => {
    await withHttp(
      async (url, p) => {
        p.failNext = 1;
        const full = await post(url, '[{"body": "a"}]');
        assert.equal(full.status, 503);
        const again = await post(url, '[{"body": "a"}]');
        assert.equal(again.status, 200);
        assert.deepEqual(p.bodies(), ['a']);
        const big = await post(url, JSON.stringify([{ body: 'x'.repeat(2000) }]));
        assert.equal(big.status, 413);
      },
      { maxRequestBytes: '1024' },
    );
  });

  it('answers 500 when the commit fails for another reason', async () => {
    await withHttp(async (url, p) => {
      p.process = async () => {
        throw new Error('disk on fire');
      };
      const r = await post(url, '[{"body": "a"}]');
      assert.equal(r.status, 500);
      assert.match(await r.text(), /disk on fire/);
    });
  });

  it('rejects handlers and TLS settings it does not support', () => {
    assert.throws(() => configureSource(httpSpec, { port: '1', handler: 'org.apache.flume.sink.solr.morphline.BlobHandler' }), /handler .* is not supported/);
    assert.throws(() => configureSource(httpSpec, { port: '1', enableSSL: 'true' }), /enableSSL: TLS is not served/);
  });
});
