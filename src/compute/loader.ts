/**
 * Loads a topology from a file: a Flux YAML definition (.yaml / .yml), or a TypeScript/JavaScript
 * module whose default export (or the named export given as `path#name`) is a built StormTopology or
 * a function (possibly async) returning one; the function receives the submit options. The IR
 * records the module so a distributed worker can rebuild the same instances.
 */
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { TopologyConfig } from './api.js';
import { loadFluxFile } from './flux.js';
import { validateIR } from './ir.js';
import type { StormTopology } from './topology.js';

export interface LoadOptions {
  name?: string;
  config?: TopologyConfig;
  args?: string[];
}

export function isStormTopology(x: unknown): x is StormTopology {
  return !!x && typeof x === 'object' && 'ir' in x && 'components' in x && (x as StormTopology).components instanceof Map;
}

export async function loadTopology(ref: string, opts: LoadOptions = {}): Promise<StormTopology> {
  const hash = ref.lastIndexOf('#');
  const path = hash > 0 ? ref.slice(0, hash) : ref;
  const exp = hash > 0 ? ref.slice(hash + 1) : 'default';
  if (/\.ya?ml$/i.test(path)) return loadFluxFile(path, opts.name ? { name: opts.name } : {});
  const file = compiledPath(resolve(path));
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${file}: cannot load the topology module: ${(e as Error).message}`);
  }
  let value = mod[exp];
  if (typeof value === 'function') value = await (value as (o: LoadOptions) => unknown)(opts);
  if (!isStormTopology(value)) {
    throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${file}: export ${JSON.stringify(exp)} is not a topology; export default builder.createTopology() or a function returning one`);
  }
  const ir = { ...value.ir, source: { module: file, export: exp } };
  if (opts.name) ir.name = opts.name;
  validateIR(ir);
  return { ...value, ir };
}

/**
 * Node 20 does not load TypeScript: a `.ts` topology is taken from its tsc output (`dist/<path>.js`
 * under the working directory, this project's layout) when that exists.
 */
function compiledPath(file: string): string {
  if (!/\.[cm]?ts$/.test(file)) return file;
  const js = resolve('dist', relative(process.cwd(), file)).replace(/\.([cm]?)ts$/, '.$1js');
  if (existsSync(js)) return js;
  throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${file}: Node 20 cannot load TypeScript directly and ${js} does not exist; compile the module (npx tsc) or pass the compiled .js`);
}
