import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/fs.js';

/**
 * `<dir>/monsoon-bus.addr` holds `host:port` (one line) while `monsoon bus serve` serves the
 * embedded log in `<dir>`. Another process that finds the directory locked reads it and connects
 * over monsoon:// instead. A process that takes the lock itself removes the file: whoever wrote it
 * is gone.
 */
export const ADDR_FILE = 'monsoon-bus.addr';

export const addrPath = (dir: string) => join(dir, ADDR_FILE);

export async function writeAddrFile(dir: string, host: string, port: number): Promise<void> {
  await writeFileAtomic(addrPath(dir), `${host.includes(':') ? `[${host}]` : host}:${port}\n`);
}

export async function removeAddrFile(dir: string): Promise<void> {
  await unlink(addrPath(dir)).catch(() => {});
}

/** The served address, or undefined when the file is missing or unreadable. */
export async function readAddrFile(dir: string): Promise<{ host: string; port: number } | undefined> {
  const text = await readFile(addrPath(dir), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return parseHostPort(text.trim());
}

export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}
