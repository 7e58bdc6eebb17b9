import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteSlab, SLAB_BYTES } from './slab.js';

describe('ByteSlab', () => {
  it('copies bytes: later changes to the source do not reach the copy', () => {
    const slab = new ByteSlab();
    const src = Buffer.from('hello, world');
    const a = slab.copy(src);
    src.fill(0x21);
    assert.equal(a.toString(), 'hello, world');
    assert.equal(slab.copy(Buffer.alloc(0)).length, 0);
    assert.equal(slab.copy(Buffer.alloc(0)).buffer.byteLength, 0, 'an empty body holds no slab');
    assert.equal(slab.utf8('').buffer.byteLength, 0);
  });

  it('encodes UTF-8 as Buffer.from does, lone surrogates included', () => {
    const slab = new ByteSlab();
    for (const s of ['', 'plain ascii', 'José Müller, Zoë', '日本語のテキスト', 'pair 😀 end', 'lone \ud800 high', 'lone \udc00 low', 'x\ud83d']) {
      assert.deepEqual(slab.utf8(s), Buffer.from(s, 'utf8'), JSON.stringify(s));
    }
  });

  it('puts consecutive pieces side by side in one slab, and never lets them overlap', () => {
    const slab = new ByteSlab();
    const pieces: [Buffer, string][] = [];
    // 3-byte characters need the worst-case room exactly; mixed widths leave gaps of different sizes
    for (let i = 0; i < 2000; i++) {
      const s = i % 3 === 0 ? '語'.repeat(i % 700) : i % 3 === 1 ? `line ${i} ` + 'é'.repeat(i % 300) : 'a'.repeat(i % 1500);
      pieces.push([i % 2 ? slab.utf8(s) : slab.copy(Buffer.from(s)), s]);
    }
    for (const [b, s] of pieces) assert.equal(b.toString('utf8'), s);
    const backings = new Set(pieces.map(([b]) => b.buffer));
    assert.ok(backings.size < pieces.length / 20, `${backings.size} backing buffers for ${pieces.length} pieces`);
    const first = pieces.slice(1, 10).map(([b]) => b);
    assert.equal(first[0]!.buffer, first[1]!.buffer);
    assert.equal(first[0]!.buffer.byteLength, SLAB_BYTES);
  });

  it('gives a large piece a buffer of its own', () => {
    const slab = new ByteSlab();
    const small = slab.copy(Buffer.from('small'));
    const big = slab.copy(Buffer.alloc(SLAB_BYTES, 0x61));
    const bigText = slab.utf8('b'.repeat(SLAB_BYTES / 2));
    assert.notEqual(big.buffer, small.buffer);
    assert.notEqual(bigText.buffer, small.buffer);
    assert.equal(big.length, SLAB_BYTES);
    assert.equal(bigText.toString(), 'b'.repeat(SLAB_BYTES / 2));
    assert.equal(slab.copy(Buffer.from('next')).buffer, small.buffer);
  });

  it('turns ISO-8859-1 bytes into the UTF-8 of their text, at any alignment and length', () => {
    const slab = new ByteSlab();
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const arena = Buffer.alloc(SLAB_BYTES);
    const kept: [Buffer, Buffer][] = [];
    for (let i = 0; i < 3000; i++) {
      // lengths past the own-buffer threshold too; high bytes from none to all, runs short and long
      const n = i % 500 === 0 ? 5000 + ((rand() * 30_000) | 0) : (rand() * (i % 7 === 0 ? 40 : 1200)) | 0;
      const share = [0, 0.005, 0.05, 0.5, 1][(i + ((i / 500) | 0)) % 5]!;
      const at = (rand() * 16) | 0;
      const src = i % 500 === 0 ? Buffer.alloc(n + 4).subarray((i / 500) % 4, (i / 500) % 4 + n) : arena.subarray(at, at + n);
      for (let k = 0; k < n; k++) src[k] = rand() < share ? 0x80 + ((rand() * 128) | 0) : 0x20 + ((rand() * 95) | 0);
      const want = Buffer.from(src.toString('latin1'), 'utf8');
      const got = slab.latin1AsUtf8(src);
      assert.deepEqual(got, want, `line ${i}: ${n} bytes at offset ${at}, high share ${share}`);
      if (got.length >= SLAB_BYTES / 8) assert.equal(got.buffer.byteLength, got.length, 'a large body has a buffer of exactly its size');
      kept.push([got, want]);
    }
    for (const [got, want] of kept) assert.deepEqual(got, want, 'a later piece never overwrites an earlier one');
    assert.equal(slab.latin1AsUtf8(Buffer.alloc(0)).buffer.byteLength, 0);
  });
});
