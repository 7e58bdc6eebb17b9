import type { z } from 'zod';
import { registeredSpecs, type AnySpec, type ComponentKind } from './component.js';

/**
 * Reference documentation generated from the component schemas themselves, so it cannot drift:
 * docs/COMPONENTS.md is this output, and a test fails when the two differ.
 */
interface FieldDoc {
  key: string;
  required: boolean;
  default?: unknown;
}

interface ZodInternals {
  _zod: { def: { type: string; defaultValue?: unknown }; optout?: string };
}

export function fieldsOf(schema: z.ZodType): FieldDoc[] {
  const shape = (schema as unknown as { shape?: Record<string, ZodInternals> }).shape ?? {};
  return Object.entries(shape).map(([key, s]) => {
    const def = s._zod.def;
    if (def.type === 'default') return { key, required: false, default: def.defaultValue };
    return { key, required: s._zod.optout === undefined };
  });
}

const KINDS: ComponentKind[] = ['source', 'channel', 'sink', 'selector', 'processor', 'interceptor'];

function fmtDefault(v: unknown): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.length ? `\`${v.join(' ')}\`` : '';
  if (typeof v === 'number' && v === Number.MAX_SAFE_INTEGER) return 'unlimited';
  return `\`${String(v)}\``;
}

function section(spec: AnySpec): string {
  const lines = [`### ${spec.type}`, '', spec.description, ''];
  const names = (spec.aliases ?? []).map((a) => `\`${a}\``);
  if (names.length) lines.push(`Also: ${names.join(', ')}`, '');
  const fields = fieldsOf(spec.schema);
  if (fields.length || spec.maps?.length) {
    lines.push('| property | default |', '|---|---|');
    for (const f of fields) lines.push(`| \`${f.key}\` | ${f.required ? '**required**' : fmtDefault(f.default)} |`);
    for (const m of spec.maps ?? []) if (!fields.some((f) => f.key === m)) lines.push(`| \`${m}.*\` | |`);
    lines.push('');
  }
  for (const [old, now] of Object.entries(spec.deprecated ?? {})) lines.push(`- \`${old}\` is accepted as a deprecated name for \`${now}\`.`);
  for (const [key, why] of Object.entries(spec.ignored ?? {})) lines.push(`- \`${key}\` is accepted and ignored: ${why}`);
  if (Object.keys(spec.deprecated ?? {}).length || Object.keys(spec.ignored ?? {}).length) lines.push('');
  return lines.join('\n');
}

export function componentReference(): string {
  const out = ['# Collect components', '', 'Generated from the component schemas (`monsoon components --markdown`); do not edit by hand.', ''];
  for (const kind of KINDS) {
    const specs = registeredSpecs(kind).sort((a, b) => a.type.localeCompare(b.type));
    if (specs.length === 0) continue;
    out.push(`## ${kind[0]!.toUpperCase()}${kind.slice(1)}s`, '');
    for (const s of specs) out.push(section(s));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}
