import assert from 'node:assert/strict';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { alignedMemory, BLOCK, DIRECT_WRITE_FLAGS, DirectSlots, writeSplitDirect } from './direct-io.js';
import { writevAll } from './fs.js';
import { scratchDirs } from './testing.js';

const scratch = scratchDirs('monsoon-direct-');

type Span = { how: 'buffered' | 'direct'; pos: number; len: number };

/** A handle that records the file ranges written through it and passes the writes on. */
function recording(fh: FileHandle, how: Span['how'], spans: Span[]): FileHandle {
  return {
    writev: async (bufs: Buffer[], pos: number) => {
      const r = await fh.writev(bufs, pos);
      spans.push({ how, pos, len: r.bytesWritten });
      return r;
    },
    write: async (buf: Buffer, off: number, len: number, pos: number) => {
      const r = await fh.write(buf, off, len, pos);
      spans.push({ how, pos, len: r.bytesWritten });
      return r;
    },
  } as unknown as FileHandle;
}

/** `n` pseudo-random bytes cut into pieces of assorted sizes, some empty. */
function pieces(n: number, seed: number): Buffer[] {
  const all = Buffer.alloc(n);
  for (let i = 0; i < n; i++) all[i] = (i * 31 + seed * 7) & 0xff;
  const out: Buffer[] = [];
  for (let at = 0, k = seed; at < n; k++) {
    const len = Math.min(n - at, [1, 0, 700, 5000, 3, 4096][k % 6]!);
    out.push(all.subarray(at, at + len));
    at += len;
  }
  return out.length > 0 ? out : [Buffer.alloc(0)];
}

describe('direct I/O appends', () => {
  it('writes whole blocks direct and the rest through the page cache, no block both ways, no padding', async () => {
    const dir = await scratch();
    const mem = await alignedMemory([dir], 2 * BLOCK);
    assert.ok(typeof mem !== 'string' && DIRECT_WRITE_FLAGS !== undefined, `this test's directory takes direct I/O (${String(mem)})`);
    const path = join(dir, 'f');
    const buffered = await open(path, 'w+');
    const direct = await open(path, DIRECT_WRITE_FLAGS);
    const spans: Span[] = [];
    const expected: Buffer[] = [];
    let pos = 0;
    let directBytes = 0;
    try {
      // sizes across block boundaries, exactly a block, empty, and larger than the memory (in parts)
      for (const [i, n] of [1, 4095, 4096, 0, 1, 10_000, 3 * BLOCK + 5, 8192, 20_000, 7].entries()) {
        const bufs = pieces(n, i);
        directBytes += await writeSplitDirect(recording(buffered, 'buffered', spans), recording(direct, 'direct', spans), mem, bufs, pos);
        expected.push(...bufs);
        pos += n;
        assert.equal((await stat(path)).size, pos, `after append ${i}: the file holds exactly the data`);
      }
    } finally {
      await direct.close();
      await buffered.close();
    }
    assert.ok((await readFile(path)).equals(Buffer.concat(expected)));
    const blocksOf = (s: Span) => Array.from({ length: Math.ceil((s.pos + s.len) / BLOCK) - Math.floor(s.pos / BLOCK) }, (_, k) => Math.floor(s.pos / BLOCK) + k);
    const directSpans = spans.filter((s) => s.how === 'direct');
    for (const s of directSpans) assert.ok(s.pos % BLOCK === 0 && s.len % BLOCK === 0 && s.len <= mem.length, `direct write ${s.pos}+${s.len} is whole blocks of the memory`);
    assert.equal(directSpans.reduce((n, s) => n + s.len, 0), directBytes);
    assert.ok(directBytes >= 8 * BLOCK, `most whole blocks went direct (${directBytes} bytes)`);
    const directBlocks = new Set(directSpans.flatMap(blocksOf));
    for (const s of spans.filter((x) => x.how === 'buffered')) {
      for (const b of blocksOf(s)) assert.ok(!directBlocks.has(b), `block ${b} written both ways (buffered ${s.pos}+${s.len})`);
    }
  });

  it('lends each slot of its memory to one writer at a time', async () => {
    const slots = await DirectSlots.for(await scratch(), 3, 2 * BLOCK);
    assert.ok(typeof slots !== 'string', String(slots));
    const taken = [slots.take(), slots.take(), slots.take()];
    assert.equal(slots.take(), undefined, 'all lent');
    for (const t of taken) assert.equal(t?.length, 2 * BLOCK);
    assert.equal(new Set(taken.map((t) => t!.byteOffset)).size, 3, 'three separate slots');
    slots.give(taken[1]!);
    assert.equal(slots.take(), taken[1]);
    await assert.rejects(DirectSlots.for(tmpdir(), 2, 1000), RangeError);
  });
});

describe('writevAll', () => {
  it('writes more buffers than one writev takes, skipping empty ones and continuing short writes', async () => {
    const dir = await scratch();
    const fh = await open(join(dir, 'v'), 'w+');
    const bufs = Array.from({ length: 1500 }, (_, i) => (i % 7 === 0 ? Buffer.alloc(0) : Buffer.from(`${i},`)));
    let calls = 0;
    // a handle that takes at most 100 bytes a call, as a device may
    const short = {
      writev: async (b: Buffer[], pos: number) => {
        calls++;
        assert.ok(b.length <= 512 && b.every((x) => x.length > 0), 'at most 512 non-empty buffers a call');
        return fh.writev([Buffer.concat(b).subarray(0, 100)], pos);
      },
    } as unknown as FileHandle;
    try {
      await writevAll(short, bufs, 5);
      const want = Buffer.concat(bufs);
      const got = await readFile(join(dir, 'v'));
      assert.ok(got.subarray(5).equals(want), 'every byte in order after the start position');
      assert.equal(calls, Math.ceil(want.length / 100));
    } finally {
      await fh.close();
    }
  });
});
