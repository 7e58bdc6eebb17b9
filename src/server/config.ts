/**
 * `monsoon server`'s one YAML file (monsoon.yaml). Every key has a default, so `monsoon server`
 * starts without a file:
 *
 *   dataDir: ./monsoon-data            # bus/, kv/, archive/, collector/ live under it
 *   http:      { host: 127.0.0.1, port: 9393 }        # HTTP API, /health, /metrics
 *   bus:       { host: 127.0.0.1, port: 9392, topics: [] }   # monsoon:// for agents, CLI, processes
 *   collector: { enabled: true, host: 127.0.0.1, port: 4141, topic: cdr, partitions: 4, batchSize: 10000 }
 *              # batchSize: the most events one write to the topic carries (larger batches are split)
 *   stores:    { kv: <dataDir>/kv, archive: <dataDir>/archive }
 *   topologies: []                     # [{ path: module.js[#export] | flux.yaml, name, config }]
 *
 * Relative paths are resolved against the config file's directory (the working directory without a
 * file). Validation is pure; errors name the key path (`collector.port: …`).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, MonsoonError } from '../core/errors.js';

const port = z.number().int().min(0).max(65535);
const name = z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/, 'letters, digits, _ . - only');

const schema = z
  .object({
    dataDir: z.string().min(1).default('./monsoon-data'),
    http: z.object({ host: z.string().min(1).default('127.0.0.1'), port: port.default(9393) }).strict().default({ host: '127.0.0.1', port: 9393 }),
    bus: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(9392),
        topics: z.array(z.object({ name, partitions: z.number().int().min(1).max(1024).default(1) }).strict()).default([]),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 9392, topics: [] }),
    collector: z
      .object({
        enabled: z.boolean().default(true),
        /** A Flume properties/YAML file run instead of the built-in collector; `name` is its agent. */
        file: z.string().min(1).optional(),
        name: name.default('collector'),
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(4141),
        topic: name.default('cdr'),
        partitions: z.number().int().min(1).max(1024).default(4),
        batchSize: z.number().int().min(1).max(100_000).default(10_000),
      })
      .strict()
      .default({ enabled: true, name: 'collector', host: '127.0.0.1', port: 4141, topic: 'cdr', partitions: 4, batchSize: 10000 }),
    stores: z.object({ kv: z.string().min(1).optional(), archive: z.string().min(1).optional() }).strict().default({}),
    topologies: z
      .array(
        z
          .object({
            path: z.string().min(1),
            name: name.optional(),
            config: z.record(z.string(), z.unknown()).default({}),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export type ServerConfigInput = z.input<typeof schema>;

export interface ServerConfig {
  dataDir: string;
  http: { host: string; port: number };
  bus: { host: string; port: number; topics: { name: string; partitions: number }[]; dir: string };
  collector: { enabled: boolean; file?: string; name: string; host: string; port: number; topic: string; partitions: number; batchSize: number; dataDir: string };
  stores: { kv: string; archive: string };
  topologies: { path: string; name?: string; config: Record<string, unknown> }[];
}

function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(top level)';
}

/** Validates a parsed document; `source` names the file in messages, `base` resolves relative paths. */
export function parseServerConfig(doc: unknown, source: string, base: string): ServerConfig {
  const r = schema.safeParse(doc ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') return `  ${i.keys.map((k) => issuePath([...i.path, k])).join(', ')}: unknown key`;
      return `  ${issuePath(i.path)}: ${i.message}`;
    });
    throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `${source}: ${lines.length} configuration error(s):\n${lines.join('\n')}`);
  }
  const c = r.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const dataDir = abs(c.dataDir);
  return {
    dataDir,
    http: c.http,
    bus: { ...c.bus, dir: resolve(dataDir, 'bus') },
    collector: { ...c.collector, ...(c.collector.file ? { file: abs(c.collector.file) } : {}), dataDir: resolve(dataDir, 'collector') },
    stores: { kv: c.stores.kv ? abs(c.stores.kv) : resolve(dataDir, 'kv'), archive: c.stores.archive ? abs(c.stores.archive) : resolve(dataDir, 'archive') },
    topologies: c.topologies.map((t) => ({ ...t, path: abs(t.path.replace(/#.*$/, '')) + (t.path.includes('#') ? t.path.slice(t.path.indexOf('#')) : '') })),
  };
}

/** Reads and validates a config file; without a file, the defaults relative to the working directory. */
export async function loadServerConfig(file?: string): Promise<ServerConfig> {
  if (!file) return parseServerConfig({}, 'defaults', process.cwd());
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `cannot read the server configuration ${file}: ${(e as Error).message}`);
  }
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `${file}: invalid YAML: ${(e as Error).message}`);
  }
  return parseServerConfig(doc, file, dirname(resolve(file)));
}
