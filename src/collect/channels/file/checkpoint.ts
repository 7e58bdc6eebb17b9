import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from '../../../core/crc32.js';
import type { Pointer } from './records.js';
import { writeFileAtomic } from '../../../core/fs.js';
import type { LogPosition } from './wal.js';

/**
 * A checkpoint: the channel's queue of event pointers and its markers as of log position `pos`.
 * Recovery loads it and replays the log from `pos` on.
 *
 *   file = MAGIC(8) crc32(4) bodyLength(4) body         crc32 covers the body
 *   body = fileId(4) offset(4) count(4) (fileId(4) offset(4) length(4))^count nMarkers(4) (str str)^nMarkers
 *   str  = byteLength(4) utf8
 *
 * It is written to a temporary file, synced and renamed over the previous one, so a crash leaves
 * either the old or the new checkpoint whole.
 */
const CK_MAGIC = Buffer.from('MSNCKP01');
const NAME = 'checkpoint';

export interface Checkpoint {
  pos: LogPosition;
  queue: Pointer[];
  markers: Map<string, string>;
}

export function encodeCheckpoint(ck: Checkpoint): Buffer {
  const marks = [...ck.markers].map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
  let size = 16 + 12 + ck.queue.length * 12 + 4;
  for (const [k, v] of marks) size += 8 + k.length + v.length;
  const buf = Buffer.allocUnsafe(size);
  CK_MAGIC.copy(buf, 0);
  let off = 16;
  buf.writeUInt32LE(ck.pos.f, off);
  buf.writeUInt32LE(ck.pos.o, off + 4);
  buf.writeUInt32LE(ck.queue.length, off + 8);
  off += 12;
  for (const p of ck.queue) {
    buf.writeUInt32LE(p.f, off);
    buf.writeUInt32LE(p.o, off + 4);
    buf.writeUInt32LE(p.l, off + 8);
    off += 12;
  }
  buf.writeUInt32LE(marks.length, off);
  off += 4;
  for (const [k, v] of marks) {
    buf.writeUInt32LE(k.length, off);
    k.copy(buf, off + 4);
    off += 4 + k.length;
    buf.writeUInt32LE(v.length, off);
    v.copy(buf, off + 4);
    off += 4 + v.length;
  }
  buf.writeUInt32LE(crc32(buf.subarray(16)), 8);
  buf.writeUInt32LE(size - 16, 12);
  return buf;
}

/** Parses a checkpoint file's bytes; a string says why they are not a valid checkpoint. */
export function decodeCheckpoint(buf: Buffer): Checkpoint | string {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(CK_MAGIC)) return 'bad header';
  if (buf.readUInt32LE(12) !== buf.length - 16) return 'truncated';
  if (crc32(buf.subarray(16)) !== buf.readUInt32LE(8)) return 'checksum mismatch';
  try {
    let off = 16;
    const pos = { f: buf.readUInt32LE(off), o: buf.readUInt32LE(off + 4) };
    const n = buf.readUInt32LE(off + 8);
    off += 12;
    const queue: Pointer[] = new Array(n);
    for (let i = 0; i < n; i++, off += 12) queue[i] = { f: buf.readUInt32LE(off), o: buf.readUInt32LE(off + 4), l: buf.readUInt32LE(off + 8) };
    const markers = new Map<string, string>();
    const m = buf.readUInt32LE(off);
    off += 4;
    for (let i = 0; i < m; i++) {
      const kl = buf.readUInt32LE(off);
      const k = buf.toString('utf8', off + 4, off + 4 + kl);
      off += 4 + kl;
      const vl = buf.readUInt32LE(off);
      markers.set(k, buf.toString('utf8', off + 4, off + 4 + vl));
      off += 4 + vl;
    }
    return { pos, queue, markers };
  } catch {
    return 'malformed body';
  }
}

export async function writeCheckpoint(dir: string, ck: Checkpoint): Promise<void> {
  await writeFileAtomic(join(dir, NAME), encodeCheckpoint(ck));
}

/** The stored checkpoint, undefined when there is none, or a string saying why it is unusable. */
export async function readCheckpoint(dir: string): Promise<Checkpoint | string | undefined> {
  await unlink(join(dir, `${NAME}.tmp`)).catch(() => {});
  let buf: Buffer;
  try {
    buf = await readFile(join(dir, NAME));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return decodeCheckpoint(buf);
}

export const checkpointPath = (dir: string): string => join(dir, NAME);
