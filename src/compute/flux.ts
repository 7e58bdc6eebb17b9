/**
 * Flux-style YAML topology definitions, loaded to the same StormTopology (and IR) the builder makes:
 *
 *   name: wordcount
 *   config: { topology.workers: 1, topology.max.spout.pending: 1000 }
 *   spouts:
 *     - { id: sentences, className: "./components.js#SentenceSpout", parallelism: 1 }
 *   bolts:
 *     - id: split
 *       className: "./components.js#SplitBolt"     # module path (relative to the YAML file) # export
 *       parallelism: 2
 *       constructorArgs: [" "]                     # passed to the constructor
 *       properties: [{ name: maxWords, value: 10 }] # set on the instance
 *       configMethods: [{ name: withLimit, args: [5] }]
 *   streams:
 *     - { from: sentences, to: split, grouping: { type: SHUFFLE } }
 *     - { from: split, to: count, grouping: { type: FIELDS, args: [word], streamId: default } }
 *
 * Flux's `className` names a Java class; here it is `module#export` (`#default` when absent). FIELDS
 * and PARTIAL_KEY take their fields as `args` (Flux) or `fields`; CUSTOM takes
 * `customClass: { className, constructorArgs }`. Every error names the file and the entry at fault.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ErrorCodes, MonsoonError } from '../core/errors.js';
import type { BasicBolt, Bolt, CustomStreamGrouping, Spout } from './api.js';
import { GROUPING_TYPES } from './ir.js';
import { TopologyBuilder, type BoltDeclarer, type StormTopology } from './topology.js';
import { DEFAULT_STREAM } from './tuple.js';

const ObjectDef = z
  .object({
    className: z.string().min(1),
    constructorArgs: z.array(z.unknown()).optional(),
    properties: z.array(z.object({ name: z.string().min(1), value: z.unknown() })).optional(),
    configMethods: z.array(z.object({ name: z.string().min(1), args: z.array(z.unknown()).optional() })).optional(),
  })
  .strict();

const ComponentDef = ObjectDef.extend({
  id: z.string().min(1),
  parallelism: z.number().int().positive().default(1),
  numTasks: z.number().int().positive().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
}).strict();

const GroupingDef = z
  .object({
    type: z.enum(GROUPING_TYPES),
    args: z.array(z.string()).optional(),
    fields: z.array(z.string()).optional(),
    streamId: z.string().min(1).optional(),
    customClass: ObjectDef.optional(),
  })
  .strict();

const FluxDef = z
  .object({
    name: z.string().min(1),
    config: z.record(z.string(), z.unknown()).default({}),
    spouts: z.array(ComponentDef).min(1),
    bolts: z.array(ComponentDef).default([]),
    streams: z.array(z.object({ name: z.string().optional(), from: z.string().min(1), to: z.string().min(1), grouping: GroupingDef }).strict()).default([]),
  })
  .strict();

export type FluxDefinition = z.infer<typeof FluxDef>;

export async function loadFluxFile(path: string, overrides: { name?: string } = {}): Promise<StormTopology> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${file}: cannot read: ${(e as Error).message}`);
  }
  return loadFlux(text, file, overrides);
}

/** Builds the topology a Flux YAML text defines; module paths resolve against the file's directory. */
export async function loadFlux(text: string, file: string, overrides: { name?: string } = {}): Promise<StormTopology> {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${file}: not valid YAML: ${(e as Error).message}`);
  }
  if (raw && typeof raw === 'object' && 'includes' in raw) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${file}: includes: is not supported; put the definition in one file`);
  if (raw && typeof raw === 'object' && 'components' in raw) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${file}: components: (shared object definitions) is not supported; use constructorArgs and properties`);
  const parsed = FluxDef.safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${file}: ${msg}`);
  }
  const def = parsed.data;
  const base = dirname(file);
  const builder = new TopologyBuilder();
  const refs = new Map<string, { className: string; module: string }>();
  for (const s of def.spouts) {
    const make = await factory<Spout>(s, base, `${file}: spout ${s.id}`);
    const d = builder.setSpout(s.id, make.create, s.parallelism);
    if (s.numTasks) d.setNumTasks(s.numTasks);
    if (s.config) d.addConfigurations(s.config);
    refs.set(s.id, make.ref);
  }
  const bolts = new Map<string, BoltDeclarer>();
  for (const b of def.bolts) {
    const make = await factory<Bolt | BasicBolt>(b, base, `${file}: bolt ${b.id}`);
    const d = builder.setBolt(b.id, make.create, b.parallelism);
    if (b.numTasks) d.setNumTasks(b.numTasks);
    if (b.config) d.addConfigurations(b.config);
    bolts.set(b.id, d);
    refs.set(b.id, make.ref);
  }
  for (const [i, s] of def.streams.entries()) {
    const where = `${file}: streams[${i}] (${s.name ?? `${s.from} --> ${s.to}`})`;
    const d = bolts.get(s.to);
    if (!d) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${where}: "to" names ${JSON.stringify(s.to)}, which is not a bolt of this topology`);
    const g = s.grouping;
    const stream = g.streamId ?? DEFAULT_STREAM;
    const fields = g.fields ?? g.args ?? [];
    switch (g.type) {
      case 'SHUFFLE': d.shuffleGrouping(s.from, stream); break;
      case 'LOCAL_OR_SHUFFLE': d.localOrShuffleGrouping(s.from, stream); break;
      case 'NONE': d.noneGrouping(s.from, stream); break;
      case 'ALL': d.allGrouping(s.from, stream); break;
      case 'GLOBAL': d.globalGrouping(s.from, stream); break;
      case 'DIRECT': d.directGrouping(s.from, stream); break;
      case 'FIELDS': d.fieldsGrouping(s.from, stream, fields); break;
      case 'PARTIAL_KEY': d.partialKeyGrouping(s.from, stream, fields); break;
      case 'CUSTOM': {
        if (!g.customClass) throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${where}: a CUSTOM grouping needs customClass: {className: "module#export"}`);
        const make = await factory<CustomStreamGrouping>(g.customClass, base, `${where}: customClass`);
        d.customGrouping(s.from, stream, make.create);
        break;
      }
    }
  }
  const topo = builder.createTopology(def.config, overrides.name ?? def.name);
  for (const c of topo.ir.components) {
    const r = refs.get(c.id)!;
    c.className = r.className;
    c.module = r.module;
  }
  for (const c of topo.ir.components) for (const inp of c.inputs) {
    if (inp.grouping.type !== 'CUSTOM') continue;
    const s = def.streams.find((x) => x.to === c.id && x.from === inp.component && (x.grouping.streamId ?? DEFAULT_STREAM) === inp.stream);
    if (s?.grouping.customClass) {
      inp.grouping.customClass = s.grouping.customClass.className;
      if (s.grouping.customClass.constructorArgs) inp.grouping.args = s.grouping.customClass.constructorArgs;
    }
  }
  return topo;
}

interface Made<T> {
  create: () => T;
  ref: { className: string; module: string };
}

/** Imports `module#export` and returns a factory applying constructorArgs, properties and configMethods. */
async function factory<T>(def: z.infer<typeof ObjectDef>, base: string, where: string): Promise<Made<T>> {
  const hash = def.className.lastIndexOf('#');
  const spec = hash >= 0 ? def.className.slice(0, hash) : def.className;
  const name = hash >= 0 ? def.className.slice(hash + 1) : 'default';
  const isPath = spec.startsWith('.') || isAbsolute(spec);
  const module = isPath ? resolve(base, spec) : spec;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(isPath ? pathToFileURL(module).href : module)) as Record<string, unknown>;
  } catch (e) {
    throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${where}: cannot load module ${JSON.stringify(spec)}: ${(e as Error).message}`);
  }
  const ctor = mod[name];
  if (typeof ctor !== 'function') {
    const have = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${where}: module ${JSON.stringify(spec)} has no exported class ${JSON.stringify(name)}${have.length ? `; it exports ${have.join(', ')}` : ''}`);
  }
  const C = ctor as new (...args: unknown[]) => T;
  const args = def.constructorArgs ?? [];
  const create = (): T => {
    const obj = new C(...args) as Record<string, unknown>;
    for (const p of def.properties ?? []) obj[p.name] = p.value;
    for (const m of def.configMethods ?? []) {
      const fn = obj[m.name];
      if (typeof fn !== 'function') throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${where}: ${def.className} has no method ${m.name} (configMethods)`);
      (fn as (...a: unknown[]) => unknown).apply(obj, m.args ?? []);
    }
    return obj as T;
  };
  try {
    create();
  } catch (e) {
    if (e instanceof MonsoonError) throw e;
    throw new MonsoonError(ErrorCodes.TOPOLOGY_INVALID, `${where}: constructing ${def.className} failed: ${(e as Error).message}`);
  }
  return { create, ref: { className: `${spec}#${name}`, module } };
}
