import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Test and benchmark harness: free loopback ports, `monsoon` child processes, peak RSS. */
export const MONSOON_BIN = fileURLToPath(new URL('../../../bin/monsoon.js', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  /** Last lines of the process's stderr, for failure messages. */
  tail(): string;
  /** Everything kept of the process's stderr (the last 2,000 lines). */
  output(): string;
  exited: Promise<number | null>;
}

export function spawnMonsoon(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeArgs, MONSOON_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MONSOON_LOG_LEVEL: 'warn', ...env } });
  const lines: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    lines.push(...d.split('\n').filter(Boolean));
    if (lines.length > 2000) lines.splice(0, lines.length - 2000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, tail: () => lines.slice(-20).join('\n'), output: () => lines.join('\n') };
}

export async function kill9(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

/** A memory field of /proc/<pid>/status (kB there) in MiB, or 0 when it cannot be read. */
function statusMiB(pid: number | undefined, field: string): number {
  if (pid === undefined) return 0;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Peak resident set size of a live process in MiB (VmHWM), or 0 when it cannot be read. */
export const peakRssMiB = (pid: number | undefined): number => statusMiB(pid, 'VmHWM');

/**
 * A live process's resident anonymous memory (heap, buffers) in MiB, or 0 when it cannot be read:
 * RSS without the pages of files it maps (an LMDB store's map counts in RSS, as page cache).
 */
export const rssAnonMiB = (pid: number | undefined): number => statusMiB(pid, 'RssAnon');

/** CPU time (user + system) a live process has used so far, in seconds, or 0 when it cannot be read. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // /proc/<pid>/stat: fields after the parenthesised command name; utime and stime are fields 14 and 15
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return 0;
  }
}
