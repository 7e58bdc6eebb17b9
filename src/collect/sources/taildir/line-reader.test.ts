import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LineReader, type Line } from './line-reader.js';

async function readAll(path: string, from = 0): Promise<{ lines: Line[]; reader: LineReader }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const reader = new LineReader(from);
    const lines: Line[] = [];
    for (;;) {
      const l = reader.next();
      if (l) lines.push(l);
      else if ((await reader.fill(fh, size)) === 0) break;
    }
    return { lines, reader };
  } finally {
    await fh.close();
  }
}

describe('TAILDIR line reader', () => {
  it('keeps every line intact across many reads (lines are views of their read buffers)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-lines-'));
    try {
      const want = Array.from({ length: 9000 }, (_, i) => `line ${i} ${'x'.repeat(i % 700)}${i % 3 === 0 ? '\r' : ''}`);
      const path = join(dir, 'f.log');
      await writeFile(path, want.join('\n') + '\npartial');
      const { lines, reader } = await readAll(path);
      assert.equal(lines.length, want.length);
      let off = 0;
      for (let i = 0; i < want.length; i++) {
        assert.equal(lines[i]!.body.toString(), want[i]!.replace(/\r$/, ''), `line ${i}`);
        assert.equal(lines[i]!.offset, off);
        off += Buffer.byteLength(want[i]!) + 1;
      }
      assert.equal(reader.start, off);
      assert.equal(reader.takePartial()?.body.toString(), 'partial');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('returns lines of a small read that do not hold the whole read buffer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'monsoon-lines-'));
    try {
      const path = join(dir, 'f.log');
      await writeFile(path, 'a\nbb\n');
      const { lines } = await readAll(path);
      assert.deepEqual(lines.map((l) => l.body.toString()), ['a', 'bb']);
      for (const l of lines) assert.ok(l.body.buffer.byteLength < 64 * 1024, `a ${l.body.buffer.byteLength}-byte backing buffer`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
