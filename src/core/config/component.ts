import { z } from 'zod';
import { ErrorCodes, MonsoonError } from '../errors.js';
import { suggest } from './suggest.js';

/**
 * The config kit: a component declares a schema over its Flume property names, its aliases and a
 * factory. Validation is pure (no I/O) and names the full key in every message; building comes after.
 */

export type ComponentKind = 'source' | 'channel' | 'sink' | 'interceptor' | 'selector' | 'processor';

export interface ComponentSpec<C = unknown, Ctx = unknown, R = unknown> {
  kind: ComponentKind;
  /** Canonical short type name, as written after `type =`. */
  type: string;
  /** Other accepted names (case-insensitive), including Flume's fully qualified class names. */
  aliases?: readonly string[];
  description: string;
  schema: z.ZodType<C>;
  /**
   * Key prefixes whose sub-keys are gathered into a map, e.g. `headers` for `headers.f1.k = v`. The map
   * goes to the schema key `<prefix>.*` when the schema has one, else to `<prefix>`.
   * The prefix's own value (`serializers = s1 s2`) lands under '' unless the schema has that key.
   */
  maps?: readonly string[];
  /** Legacy property names still found in old configs → the current name. */
  deprecated?: Readonly<Record<string, string>>;
  /** Properties accepted for compatibility but without effect in Monsoon → why (a warning says so). */
  ignored?: Readonly<Record<string, string>>;
  /** Keys handled by the agent config itself rather than by the component (e.g. `channels`). */
  reserved?: readonly string[];
  /** The batch size this component moves per channel transaction, checked against transactionCapacity. */
  batchSize?: (config: C) => number | undefined;
  /** Cross-key checks that the schema cannot express; return [key, message] pairs. */
  check?: (config: C) => Array<[string, string]>;
  create: (config: C, ctx: Ctx) => R;
}

// Specs of different config types share one registry; the factory's types are checked where defined.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySpec = ComponentSpec<any, any, any>;

interface Unavailable {
  kind: ComponentKind;
  names: readonly string[];
  reason: string;
}

const specs = new Map<string, AnySpec>();
const unavailable = new Map<string, Unavailable>();

const keyOf = (kind: ComponentKind, name: string) => `${kind}:${name.trim().toLowerCase()}`;

export function registerComponent<C, Ctx, R>(spec: ComponentSpec<C, Ctx, R>): ComponentSpec<C, Ctx, R> {
  for (const name of [spec.type, ...(spec.aliases ?? [])]) {
    const k = keyOf(spec.kind, name);
    const existing = specs.get(k);
    if (existing && existing !== spec) throw new Error(`${spec.kind} type ${name} is registered twice`);
    specs.set(k, spec);
  }
  return spec;
}

/** Names a component that exists in Flume but whose tier Monsoon has not built yet: a clear error, never ignored. */
export function registerUnavailable(kind: ComponentKind, names: readonly string[], reason: string): void {
  for (const n of names) unavailable.set(keyOf(kind, n), { kind, names, reason });
}

export type Resolved = { spec: AnySpec } | { error: string };

export function resolveComponent(kind: ComponentKind, type: string): Resolved {
  const k = keyOf(kind, type);
  const spec = specs.get(k);
  if (spec) return { spec };
  const u = unavailable.get(k);
  if (u) return { error: `${kind} type "${type}" is not available yet: ${u.reason}` };
  const known = [...specs.values()].filter((s) => s.kind === kind).map((s) => s.type);
  const hint = suggest(type, new Set(known));
  return {
    error: `unknown ${kind} type "${type}"${hint ? ` (did you mean "${hint}"?)` : ''}; known types: ${[...new Set(known)].sort().join(', ')}`,
  };
}

export function registeredSpecs(kind?: ComponentKind): AnySpec[] {
  return [...new Set(specs.values())].filter((s) => kind === undefined || s.kind === kind);
}

export interface Diagnostic {
  key: string;
  message: string;
}

export interface Validated<C> {
  config?: C;
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

function schemaKeys(schema: z.ZodType): string[] {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/**
 * Validates a flat property map for one component. `prefix` is the full key of the component
 * (e.g. `a1.sources.r1`) so that every message names the exact line a user has to fix.
 */
export function validateComponent<C>(spec: ComponentSpec<C>, raw: Record<string, unknown>, prefix: string): Validated<C> {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const known = schemaKeys(spec.schema as z.ZodType);
  const input: Record<string, unknown> = {};
  const maps: Record<string, Record<string, string>> = {};
  for (const m of spec.maps ?? []) maps[m] = {};
  const reserved = new Set(['type', ...(spec.reserved ?? [])]);

  for (const [key, value] of Object.entries(raw)) {
    if (reserved.has(key) || [...reserved].some((r) => key.startsWith(`${r}.`))) continue;
    const why = spec.ignored?.[key];
    if (why !== undefined) {
      warnings.push({ key: `${prefix}.${key}`, message: `is ignored: ${why}` });
      continue;
    }
    const renamed = spec.deprecated?.[key];
    if (renamed !== undefined) {
      warnings.push({ key: `${prefix}.${key}`, message: `is deprecated; use ${prefix}.${renamed}` });
      if (raw[renamed] === undefined) input[renamed] = value;
      continue;
    }
    // A map's own key (`serializers = s1 s2` beside `serializers.s1.name = …`) is kept under ''.
    const map = (spec.maps ?? []).find((m) => key.startsWith(`${m}.`) || (key === m && !known.includes(`${m}.*`)));
    if (map !== undefined) {
      maps[map]![key === map ? '' : key.slice(map.length + 1)] = String(value);
      continue;
    }
    if (known.includes(key)) {
      input[key] = value;
      continue;
    }
    const hint = suggest(key, [...known, ...(spec.maps ?? []).map((m) => `${m}.*`)]);
    warnings.push({ key: `${prefix}.${key}`, message: `is not a known property of ${spec.kind} type ${spec.type}${hint ? ` (did you mean ${prefix}.${hint}?)` : ''}; it is ignored` });
  }
  // A key may be both a plain property and a map prefix (TAILDIR's `filegroups = f1 f2` beside
  // `filegroups.f1 = /var/log/app.log`); such a schema names the gathered map `<prefix>.*`.
  for (const m of spec.maps ?? []) input[known.includes(`${m}.*`) ? `${m}.*` : m] = maps[m];

  const parsed = (spec.schema as z.ZodType<C>).safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String).join('.');
      errors.push({ key: path ? `${prefix}.${path}` : prefix, message: issue.message === 'Invalid input: expected string, received undefined' ? 'is required' : issue.message });
    }
    return { errors, warnings };
  }
  for (const [k, msg] of spec.check?.(parsed.data) ?? []) errors.push({ key: `${prefix}.${k}`, message: msg });
  return { config: parsed.data, errors, warnings };
}

export class ConfigError extends MonsoonError {
  readonly diagnostics: Diagnostic[];
  constructor(source: string, diagnostics: Diagnostic[]) {
    super(ErrorCodes.CONFIG_INVALID, `${source}: ${diagnostics.length} configuration error(s):\n${diagnostics.map((d) => `  ${d.key}: ${d.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}
