/** CPU profile summaries for the benches' BENCH_PROFILE=1 runs (`node --cpu-prof` output). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

/**
 * A frame of bundled code (the agent's agent.bundle.js) as the frame of the source it came from,
 * through the bundle's source map; other frames as they are.
 */
function sourceFrame(f: CallFrame, maps: Map<string, SourceMap | undefined>): CallFrame {
  if (!/\.bundle(\/|\.js$)/.test(f.url)) return f;
  let map = maps.get(f.url);
  if (!maps.has(f.url)) {
    const file = `${fileURLToPath(f.url)}.map`;
    map = existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
    maps.set(f.url, map);
  }
  const e = map?.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
  if (!e?.originalSource) return f;
  return { functionName: f.functionName, url: new URL(e.originalSource, f.url).href, lineNumber: e.originalLine ?? 0, columnNumber: e.originalColumn ?? 0 };
}

/**
 * Top functions by self time of a process's CPU profiles: one per thread (`node --cpu-prof` names
 * them CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread).
 */
export function summariseProfile(what: string, dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  if (files.length === 0) return 'no CPU profile was written\n';
  return files.map((f) => summariseFile(files.length === 1 ? what : `${what} ${threadOf(f) === '0' ? 'main thread' : `worker thread ${threadOf(f)}`}`, join(dir, f))).join('');
}

const threadOf = (file: string) => file.split('.').at(-3) ?? '?';

function summariseFile(what: string, path: string): string {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] };
  const total = prof.samples.length;
  const maps = new Map<string, SourceMap | undefined>();
  for (const n of prof.nodes) n.callFrame = sourceFrame(n.callFrame, maps);
  const self = new Map<string, number>();
  for (const n of prof.nodes) {
    const f = n.callFrame;
    const where = f.url ? `${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^.*\/(src\/)/, '$1')}:${f.lineNumber + 1}` : '';
    const k = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(k, (self.get(k) ?? 0) + (n.hitCount ?? 0));
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15);
  // self time per area: Monsoon's folders (src/<tier>/<part>), node_modules packages, the engine
  const areas = new Map<string, number>();
  for (const n of prof.nodes) {
    const url = n.callFrame.url;
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)|\/src\/([^/]+\/[^/]+)/.exec(url);
    const area = m ? (m[1] ?? m[2]!).replace(/\.[jt]s$/, '') : url.startsWith('node:') ? 'node core' : n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : 'native';
    areas.set(area, (areas.get(area) ?? 0) + (n.hitCount ?? 0));
  }
  let out = `${what} CPU profile (${((prof.endTime - prof.startTime) / 1e6).toFixed(1)} s, ${total} samples), top self time:\n`;
  for (const [k, n] of top) out += `  ${((100 * n) / total).toFixed(1).padStart(5)}%  ${k}\n`;
  out += `${what}: self time by area:\n`;
  for (const [k, n] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 12)) out += `  ${((100 * n) / total).toFixed(1).padStart(5)}%  ${k}\n`;
  return out;
}
