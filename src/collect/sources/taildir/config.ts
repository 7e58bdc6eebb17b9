import { isAbsolute, dirname, basename } from 'node:path';
import { z } from 'zod';
import { prop } from '../../../core/config/props.js';

/**
 * TAILDIR properties, named and defaulted as in Flume's TaildirSource. `filegroups` is both the list of
 * group names and the prefix of `filegroups.<group> = /dir/<file-name regex>`; the config kit gathers
 * the prefixed keys into `filegroups.*`. positionFile defaults to a file in the agent's data dir.
 */
export const schema = z.object({
  filegroups: prop.list(),
  'filegroups.*': z.record(z.string(), z.string()).default({}),
  headers: z.record(z.string(), z.string()).default({}),
  positionFile: prop.optionalString(),
  byteOffsetHeader: prop.bool(false),
  skipToEnd: prop.bool(false),
  idleTimeout: prop.int(120_000, 1),
  writePosInterval: prop.int(3000, 1),
  batchSize: prop.int(100, 1),
  maxBatchCount: prop.int(Number.MAX_SAFE_INTEGER, 1),
  backoffSleepIncrement: prop.int(1000, 1),
  maxBackoffSleep: prop.int(5000, 1),
  cachePatternMatching: prop.bool(true),
  fileHeader: prop.bool(false),
  fileHeaderKey: prop.string('file'),
});
export type TaildirConfig = z.infer<typeof schema>;

/** One filegroup: a literal directory, a regex over file names in it, and headers for its events. */
export interface FileGroup {
  name: string;
  dir: string;
  pattern: RegExp;
  headers: Readonly<Record<string, string>>;
}

/** Cross-key checks: every listed group has an absolute path whose file-name part is a valid regex. */
export function checkConfig(c: TaildirConfig): Array<[string, string]> {
  const errors: Array<[string, string]> = [];
  if (c.filegroups.length === 0) errors.push(['filegroups', 'is required: list the filegroup names, e.g. "f1 f2"']);
  for (const fg of c.filegroups) {
    const path = c['filegroups.*'][fg];
    if (path === undefined || path.trim() === '') {
      errors.push([`filegroups.${fg}`, `is required: filegroup ${fg} is listed in filegroups but has no path`]);
    } else if (!isAbsolute(path.trim())) {
      errors.push([`filegroups.${fg}`, `must be an absolute path, got ${JSON.stringify(path)}`]);
    } else {
      try {
        fileNamePattern(basename(path.trim()));
      } catch (e) {
        errors.push([`filegroups.${fg}`, `file-name part is not a valid regular expression: ${(e as Error).message}`]);
      }
    }
  }
  return errors;
}

/** Flume matches the whole file name (Java's Matcher.matches), hence the anchors. */
function fileNamePattern(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

export function fileGroups(c: TaildirConfig): FileGroup[] {
  return c.filegroups.map((name) => {
    const path = (c['filegroups.*'][name] ?? '').trim();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.headers)) {
      if (k.startsWith(`${name}.`) && k.length > name.length + 1) headers[k.slice(name.length + 1)] = v;
    }
    return { name, dir: dirname(path), pattern: fileNamePattern(basename(path)), headers };
  });
}
