import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Read positions. The JSON array is Flume's position file format ({inode, pos, file}) extended with
 * Monsoon's fields: `ino` (the inode as an exact string), `id` (the identity part of the file's events),
 * `line` (lines delivered under that identity), `size` (the file's size when last seen, so that the
 * unread rest of a file gone while stopped can be reported)
 * and `fp`/`fpLen` (a fingerprint of the first fpLen bytes, to tell a reused inode from the same file).
 * The same text is committed as a channel marker with every batch, so positions and events agree.
 */
export interface PositionEntry {
  inode: number;
  pos: number;
  /** Lines before `pos` (the next line's sequence number under `id`). */
  line?: number;
  file: string;
  ino?: string;
  id?: string;
  fp?: string;
  fpLen?: number;
  size?: number;
}

export interface SavedPosition {
  ino: string;
  pos: number;
  line?: number;
  file: string;
  id?: string;
  fp?: string;
  fpLen: number;
  size?: number;
}

/** Parses a position list; throws with a message naming `what` when the text is not one. */
export function parsePositions(text: string, what: string): Map<string, SavedPosition> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new Error(`${what} is not a JSON array of positions`);
  const out = new Map<string, SavedPosition>();
  for (const r of raw as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const o = r as Record<string, unknown>;
    const ino = typeof o.ino === 'string' ? o.ino : typeof o.inode === 'number' || typeof o.inode === 'string' ? String(o.inode) : undefined;
    const pos = Number(o.pos);
    if (ino === undefined || !Number.isSafeInteger(pos) || pos < 0) continue;
    const e: SavedPosition = { ino, pos, file: typeof o.file === 'string' ? o.file : '', fpLen: 0 };
    if (typeof o.id === 'string' && Number.isSafeInteger(o.line)) {
      // An identity is only resumed together with its line count; otherwise the file gets a new one.
      e.id = o.id;
      e.line = o.line as number;
    }
    if (typeof o.fp === 'string' && typeof o.fpLen === 'number' && o.fpLen > 0) {
      e.fp = o.fp;
      e.fpLen = o.fpLen;
    }
    if (Number.isSafeInteger(o.size)) e.size = o.size as number;
    out.set(ino, e);
  }
  return out;
}

export function formatPositions(entries: readonly PositionEntry[]): string {
  return JSON.stringify(entries);
}

/** Replaces the position file atomically (write aside, then rename), creating its directory. */
async function writePositionFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

async function readPositionFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The position file: read at start when the channel holds no marker, rewritten at most every
 * `intervalMs` while positions change (Flume's writePosInterval) and once more at stop.
 */
export class PositionFile {
  private changed = false;
  private lastWrite = 0;

  constructor(
    readonly path: string,
    private readonly intervalMs: number,
  ) {}

  /** Saved positions: the committed marker if there is one, else the file. Throws on unreadable text. */
  async load(marker: string | undefined, markerKey: string): Promise<Map<string, SavedPosition>> {
    if (marker !== undefined) return parsePositions(marker, `position marker ${markerKey}`);
    const text = await readPositionFile(this.path);
    return text === undefined ? new Map() : parsePositions(text, `position file ${this.path}`);
  }

  markChanged(): void {
    this.changed = true;
  }

  /** Writes `text()` if positions changed and the interval passed (or `force`); throws on I/O errors. */
  async write(text: () => string, force: boolean): Promise<void> {
    const now = Date.now();
    if (!this.changed || (!force && now - this.lastWrite < this.intervalMs)) return;
    this.changed = false;
    this.lastWrite = now;
    try {
      await writePositionFile(this.path, text());
    } catch (e) {
      this.changed = true;
      throw e;
    }
  }
}
