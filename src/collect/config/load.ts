import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse as parseProperties } from 'dot-properties';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';

/**
 * Reads an agent configuration file into Flume's flat `agent.kind.name.key = value` form. Java
 * properties files are read as they are; YAML files are flattened into the same keys, so both go
 * through one validation path.
 */
export type FlatConfig = Map<string, string>;

/**
 * Replaces `${NAME}` in values with the environment variable NAME, as Flume's environment-variable
 * resolver does; an unset variable is an error naming the key.
 */
export function resolveEnv(flat: FlatConfig, env: NodeJS.ProcessEnv, source: string): FlatConfig {
  const missing: string[] = [];
  for (const [k, v] of flat) {
    if (!v.includes('${')) continue;
    flat.set(
      k,
      v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
        const val = env[name];
        if (val === undefined) missing.push(`  ${k}: environment variable ${name} is not set`);
        return val ?? '';
      }),
    );
  }
  if (missing.length) throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `${source}: ${missing.length} configuration error(s):\n${missing.join('\n')}`);
  return flat;
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): FlatConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `cannot read configuration file ${path}: ${(e as Error).message}`);
  }
  return resolveEnv(/\.ya?ml$/i.test(path) ? flattenYaml(text, path) : parseFlumeProperties(text), env, path);
}

export function parseFlumeProperties(text: string): FlatConfig {
  const out: FlatConfig = new Map();
  for (const [k, v] of Object.entries(parseProperties(text) as Record<string, string>)) out.set(k.trim(), String(v).trim());
  return out;
}

/** The YAML parser, loaded on first use: properties files (the common case) start faster without it. */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text);
}

const LIST_SECTIONS = new Set(['sources', 'channels', 'sinks', 'sinkgroups']);

export function flattenYaml(text: string, path = '<yaml>'): FlatConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `${path}: invalid YAML: ${(e as Error).message}`);
  }
  const out: FlatConfig = new Map();
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `${path}: expected a mapping of agent names at the top level`);
  }
  for (const [agent, body] of Object.entries(doc as Record<string, unknown>)) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `${path}: ${agent}: expected a mapping with sources, channels, sinks`);
    }
    for (const [section, comps] of Object.entries(body as Record<string, unknown>)) {
      const prefix = `${agent}.${section}`;
      if (LIST_SECTIONS.has(section) && comps !== null && typeof comps === 'object' && !Array.isArray(comps)) {
        out.set(prefix, Object.keys(comps).join(' '));
        for (const [name, props] of Object.entries(comps as Record<string, unknown>)) flattenInto(out, `${prefix}.${name}`, props);
      } else {
        flattenInto(out, prefix, comps);
      }
    }
  }
  return out;
}

function flattenInto(out: FlatConfig, key: string, value: unknown): void {
  if (Array.isArray(value)) {
    out.set(key, value.map(String).join(' '));
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    // `interceptors: {i1: {...}, i2: {...}}` also names the interceptor chain, in order.
    if (key.endsWith('.interceptors') && entries.every(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v))) {
      out.set(key, entries.map(([k]) => k).join(' '));
    }
    for (const [k, v] of entries) flattenInto(out, `${key}.${k}`, v);
  } else if (value !== undefined && value !== null) {
    out.set(key, String(value));
  }
}
