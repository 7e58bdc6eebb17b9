import { spawnSync } from 'node:child_process';
import { chownSync } from 'node:fs';

/**
 * Database servers that refuse to run as root (PostgreSQL; ClickHouse in some versions) run as their
 * own system user when the tests run as root: setpriv execs, so the child's pid is the server's.
 */
export const runningAsRoot = process.getuid?.() === 0;

function idOf(flag: '-u' | '-g', user: string): number | undefined {
  const r = spawnSync('id', [flag, user], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** The command line running `argv` as `user` when this process is root and the user exists, else as is. */
export function commandAs(user: string, argv: string[]): [string, string[]] {
  if (!runningAsRoot || idOf('-u', user) === undefined) return [argv[0]!, argv.slice(1)];
  return ['setpriv', [`--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', ...argv]];
}

/** Hands `dir` to `user` when this process is root and the user exists (the server writes there). */
export function giveDir(user: string, dir: string): void {
  const uid = idOf('-u', user);
  const gid = idOf('-g', user);
  if (runningAsRoot && uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);
}
