import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inputCharset } from './charset.js';
import { LineReader, type ReadPos, type ReadResult } from './line-reader.js';
import { SLAB_BYTES } from '../../../core/slab.js';

const dir = mkdtempSync(join(tmpdir(), 'monsoon-lines-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A small deterministic PRNG so the generated files are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Reads every line and piece from `bytes`, joining split pieces back into lines. */
async function readAll(bytes: Buffer, charset: string, maxChars: number): Promise<{ lines: string[]; pieces: number }> {
  const path = join(dir, `f-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, bytes);
  const fh = await open(path, 'r');
  try {
    const r = new LineReader(fh, bytes.length, inputCharset(charset)!, 'REPLACE', maxChars);
    const lines: string[] = [];
    let pieces = 0;
    let pos: ReadPos = { offset: 0 };
    let joined = '';
    let cachedHits = 0;
    const step = async (): Promise<ReadResult> => {
      const fast = r.nextCached(pos);
      const res = await r.next(pos);
      if (fast !== undefined) {
        cachedHits++;
        assert.deepEqual(fast, res, 'the cached path answers as next() does');
      }
      return res;
    };
    for (let res = await step(); res !== null; res = await step()) {
      assert.ok(!('badAt' in res));
      assert.ok([...res.line.text].length <= maxChars, 'a piece never exceeds maxLineLength characters');
      pieces++;
      joined += res.line.text;
      if (!res.line.split || res.line.split.index + 1 === res.line.split.total) {
        lines.push(joined);
        joined = '';
      }
      pos = res.next;
    }
    if (lines.length > 2) assert.ok(cachedHits > 0, 'lines in the read window come from the cached path');
    return { lines, pieces };
  } finally {
    await fh.close();
  }
}

describe('spool line reader', () => {
  it('splits and rejoins random UTF-8 lines of every size exactly', async () => {
    const rand = rng(42);
    const alphabet = ['a', 'b', ' ', 'é', '你', '😀', '\r', '\0'];
    const lines: string[] = [];
    for (let i = 0; i < 60; i++) {
      const len = i % 15 === 0 ? 70_000 + Math.floor(rand() * 70_000) : Math.floor(rand() * 40);
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
      lines.push(s.replace(/\r+$/, ''));
    }
    const content = lines.map((l, i) => (i % 3 === 0 ? `${l}\r\n` : `${l}\n`)).join('');
    for (const max of [3, 7, 2048]) {
      const got = await readAll(Buffer.from(content), 'UTF-8', max);
      assert.deepEqual(got.lines, lines, `maxLineLength ${max}`);
    }
  });

  it('splits GBK lines on character boundaries', async () => {
    const ni = Buffer.from([0xc4, 0xe3]);
    const parts: Buffer[] = [];
    for (let i = 0; i < 70_000; i++) parts.push(i % 3 === 0 ? Buffer.from('x') : ni);
    const line = Buffer.concat(parts);
    const got = await readAll(Buffer.concat([line, Buffer.from('\nend')]), 'GBK', 5);
    assert.deepEqual(got.lines, [new TextDecoder('gbk').decode(line), 'end']);
  });

  it('counts a line of exactly maxLineLength characters as one event', async () => {
    const got = await readAll(Buffer.from('héllo\nhéllo!\n'), 'UTF-8', 5);
    assert.deepEqual(got.lines, ['héllo', 'héllo!']);
    assert.equal(got.pieces, 3);
  });

  it('hands an ASCII line over as its bytes and decodes any other', async () => {
    const path = join(dir, 'ascii-and-latin1');
    const bytes = Buffer.from([...Buffer.from('plain,ascii\0line\r\n'), 0x63, 0x61, 0x66, 0xe9, 0x0a, ...Buffer.from('tail')]);
    writeFileSync(path, bytes);
    const fh = await open(path, 'r');
    try {
      const r = new LineReader(fh, bytes.length, inputCharset('ISO-8859-1')!, 'FAIL', 2048);
      const first = await r.next({ offset: 0 });
      assert.ok(first && 'line' in first);
      assert.equal(first.line.ascii?.toString('latin1'), 'plain,ascii\0line', 'the bytes without the line end');
      assert.equal(first.line.text, 'plain,ascii\0line');
      assert.equal(first.line.ascii!.buffer.byteLength, SLAB_BYTES, 'a copy in a body slab, not a view of the read window');
      const second = r.nextCached(first.next);
      assert.ok(second && 'line' in second);
      assert.equal(second.line.ascii, undefined, 'a byte over 0x7f is decoded');
      assert.equal(second.line.text, 'café');
      const third = r.nextCached(second.next);
      assert.ok(third && 'line' in third);
      assert.equal(third.line.ascii?.toString(), 'tail');
    } finally {
      await fh.close();
    }
  });

  it('with UTF-8 bodies, hands a Latin-1 or well-formed UTF-8 line over as its UTF-8 bytes, and decodes malformed input', async () => {
    const lines = async (bytes: Buffer, charset: string, policy: 'FAIL' | 'REPLACE') => {
      const path = join(dir, `utf8-body-${charset}-${policy}`);
      writeFileSync(path, bytes);
      const fh = await open(path, 'r');
      try {
        const r = new LineReader(fh, bytes.length, inputCharset(charset)!, policy, 2048, undefined, true);
        const out: ReadResult[] = [];
        for (let res = await r.next({ offset: 0 }); res !== null && 'line' in res; res = await r.next(res.next)) out.push(res);
        return out.map((res) => (res && 'line' in res ? res.line : undefined)!);
      } finally {
        await fh.close();
      }
    };
    const latin1 = await lines(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0x41, 0xc5, 0x72, 0x68, 0x75, 0x73, 0x0a, 0x70, 0x6c, 0x61, 0x69, 0x6e]), 'ISO-8859-1', 'FAIL');
    assert.deepEqual(
      latin1.map((l) => [l.utf8?.toString('hex'), l.ascii?.toString(), l.text]),
      [
        [Buffer.from('café').toString('hex'), undefined, 'café'],
        [Buffer.from('AÅrhus').toString('hex'), undefined, 'AÅrhus'],
        [undefined, 'plain', 'plain'],
      ],
    );
    assert.equal(latin1[0]!.utf8!.buffer.byteLength, SLAB_BYTES, 'written into the body slab, not a view of the read window');
    const utf8 = await lines(Buffer.concat([Buffer.from('Zoë 😀\n'), Buffer.from([0x62, 0x61, 0x64, 0xff, 0x0a])]), 'UTF-8', 'REPLACE');
    assert.equal(utf8[0]!.utf8?.toString(), 'Zoë 😀', 'well-formed UTF-8: its bytes as they are');
    assert.equal(utf8[1]!.utf8, undefined, 'malformed UTF-8 goes through the decode policy');
    assert.equal(utf8[1]!.text, 'bad\ufffd');
    const off = await lines(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'ISO-8859-1', 'FAIL');
    assert.equal(off[0]!.utf8?.toString(), 'café', 'a last line without a line end too');
    const path = join(dir, 'utf8-body-fail');
    const bad = Buffer.concat([Buffer.from('ok é\n'), Buffer.from([0x62, 0x61, 0x64, 0xc3, 0x28, 0x0a])]);
    writeFileSync(path, bad);
    const fh = await open(path, 'r');
    try {
      const r = new LineReader(fh, bad.length, inputCharset('UTF-8')!, 'FAIL', 2048, undefined, true);
      const first = await r.next({ offset: 0 });
      assert.ok(first && 'line' in first);
      assert.equal(first.line.utf8?.toString(), 'ok é');
      assert.deepEqual(await r.next(first.next), { badAt: Buffer.byteLength('ok é\n') + 3 }, 'under FAIL a malformed line still names its bad byte');
    } finally {
      await fh.close();
    }
  });

  it('lines read before a refill of the reused read window keep their bytes', async () => {
    // ~2.6 MB: the 1 MiB window is refilled twice, lines straddle its ends
    const r0 = rng(11);
    const expected: Buffer[] = [];
    for (let size = 0; size < 2_600_000; ) {
      const line = Buffer.alloc(1 + Math.floor(r0() * 3000), 0x61 + (expected.length % 26));
      if (expected.length % 3 === 0) line[0] = 0xe9; // Latin-1 'é': decoded, not handed over as bytes
      expected.push(line);
      size += line.length + 1;
    }
    const bytes = Buffer.concat(expected.flatMap((l) => [l, Buffer.from('\n')]));
    const path = join(dir, 'windows');
    writeFileSync(path, bytes);
    const fh = await open(path, 'r');
    try {
      const r = new LineReader(fh, bytes.length, inputCharset('ISO-8859-1')!, 'FAIL', 8192);
      const got: Array<{ ascii?: Buffer; text: string }> = [];
      let pos: ReadPos = { offset: 0 };
      for (let res = r.nextCached(pos) ?? (await r.next(pos)); res !== null; res = r.nextCached(pos) ?? (await r.next(pos))) {
        assert.ok(!('badAt' in res));
        got.push({ ascii: res.line.ascii, text: res.line.text });
        pos = res.next;
      }
      assert.equal(got.length, expected.length);
      for (let i = 0; i < got.length; i++) {
        const want = expected[i]!.toString('latin1');
        if (got[i]!.ascii) assert.equal(got[i]!.ascii!.toString('latin1'), want, `line ${i}'s bytes after the whole file was read`);
        assert.equal(got[i]!.text, want, `line ${i}`);
      }
      assert.ok(got.some((g) => g.ascii), 'ASCII lines are handed over as bytes');
    } finally {
      await fh.close();
    }
  });
});
