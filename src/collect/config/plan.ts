import { resolveComponent, validateComponent, type AnySpec, type ComponentKind, type Diagnostic } from '../../core/config/component.js';
import { suggest } from '../../core/config/suggest.js';
import type { FlatConfig } from './load.js';

/**
 * Turns Flume's flat keys for one agent into a validated plan. Every problem is collected (not just
 * the first) and names the exact key; the plan is built only when there are no errors.
 */
export interface PlannedComponent {
  name: string;
  /** The full key prefix, e.g. `a1.sources.r1`. */
  key: string;
  spec: AnySpec;
  config: unknown;
  /** The raw properties, for change detection on reload. */
  raw: Record<string, string>;
}

export interface PlannedSource extends PlannedComponent {
  channels: string[];
  selector: PlannedComponent;
  interceptors: PlannedComponent[];
}

export interface PlannedSink extends PlannedComponent {
  channel: string;
}

export interface PlannedGroup {
  name: string;
  sinks: string[];
  processor: PlannedComponent;
}

export interface AgentPlan {
  agent: string;
  sources: PlannedSource[];
  channels: PlannedComponent[];
  sinks: PlannedSink[];
  groups: PlannedGroup[];
}

export interface PlanResult {
  plan?: AgentPlan;
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

function listOf(v: string | undefined): string[] {
  return (v ?? '').split(/[\s,]+/).filter(Boolean);
}

/** Sub-keys of `prefix.` as a map, e.g. all `a1.sources.r1.*`. */
function subkeys(flat: FlatConfig, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  const p = `${prefix}.`;
  for (const [k, v] of flat) if (k.startsWith(p)) out[k.slice(p.length)] = v;
  return out;
}

function pick(raw: Record<string, string>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  const p = `${prefix}.`;
  for (const [k, v] of Object.entries(raw)) if (k.startsWith(p)) out[k.slice(p.length)] = v;
  return out;
}

export function planAgent(flat: FlatConfig, agent: string): PlanResult {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const agentKeys = [...flat.keys()].filter((k) => k.startsWith(`${agent}.`));
  if (agentKeys.length === 0) {
    const agents = [...new Set([...flat.keys()].map((k) => k.split('.')[0]!))];
    const hint = suggest(agent, agents);
    errors.push({ key: agent, message: `no configuration for agent "${agent}"${agents.length ? `; the file configures: ${agents.join(', ')}${hint ? ` (did you mean ${hint}?)` : ''}` : ''}` });
    return { errors, warnings };
  }

  const build = (kind: ComponentKind, key: string, raw: Record<string, string>, defaultType?: string): PlannedComponent | undefined => {
    const type = raw.type ?? defaultType;
    if (type === undefined || type === '') {
      errors.push({ key: `${key}.type`, message: 'is required' });
      return undefined;
    }
    const r = resolveComponent(kind, type);
    if ('error' in r) {
      errors.push({ key: `${key}.type`, message: r.error });
      return undefined;
    }
    const v = validateComponent(r.spec, raw, key);
    errors.push(...v.errors);
    warnings.push(...v.warnings);
    if (v.config === undefined) return undefined;
    return { name: key.split('.').pop()!, key, spec: r.spec, config: v.config, raw };
  };

  const declared = (section: string) => listOf(flat.get(`${agent}.${section}`));
  const channelNames = declared('channels');
  const sourceNames = declared('sources');
  const sinkNames = declared('sinks');
  const groupNames = declared('sinkgroups');
  if (sourceNames.length === 0) warnings.push({ key: `${agent}.sources`, message: 'no sources are declared' });
  if (channelNames.length === 0) errors.push({ key: `${agent}.channels`, message: 'at least one channel must be declared' });

  // Components configured but not declared are ignored by Flume; say so instead of staying silent.
  for (const section of ['sources', 'channels', 'sinks', 'sinkgroups']) {
    const names = new Set(declared(section));
    const seen = new Set<string>();
    for (const k of agentKeys) {
      const parts = k.split('.');
      if (parts[1] === section && parts.length > 3 && !names.has(parts[2]!) && !seen.has(parts[2]!)) {
        seen.add(parts[2]!);
        warnings.push({ key: `${agent}.${section}.${parts[2]}`, message: `is configured but not listed in ${agent}.${section}; it is ignored` });
      }
    }
  }
  for (const k of agentKeys) {
    const section = k.split('.')[1]!;
    if (!['sources', 'channels', 'sinks', 'sinkgroups'].includes(section)) {
      warnings.push({ key: k, message: `is not a Flume agent key (expected ${agent}.sources|channels|sinks|sinkgroups…); it is ignored` });
    }
  }

  const channels: PlannedComponent[] = [];
  for (const name of channelNames) {
    const c = build('channel', `${agent}.channels.${name}`, subkeys(flat, `${agent}.channels.${name}`));
    if (c) channels.push(c);
  }
  const channelByName = new Map(channels.map((c) => [c.name, c]));
  const txCap = (name: string) => (channelByName.get(name)?.config as { transactionCapacity?: number } | undefined)?.transactionCapacity;
  const checkChannelRef = (key: string, name: string) => {
    if (!channelNames.includes(name)) {
      const hint = suggest(name, channelNames);
      errors.push({ key, message: `refers to channel "${name}", which is not declared in ${agent}.channels${hint ? ` (did you mean ${hint}?)` : ''}` });
      return false;
    }
    return true;
  };
  const checkBatch = (comp: PlannedComponent, channel: string) => {
    const b = comp.spec.batchSize?.(comp.config);
    const cap = txCap(channel);
    if (b !== undefined && cap !== undefined && b > cap) {
      const key = ['batchSize', 'batch-size', 'hdfs.batchSize', 'sink.batchSize'].find((k) => comp.raw[k] !== undefined) ?? 'batchSize';
      errors.push({ key: `${comp.key}.${key}`, message: `(${b}) exceeds transactionCapacity (${cap}) of channel ${channel}; lower it or raise ${agent}.channels.${channel}.transactionCapacity` });
    }
  };

  const sources: PlannedSource[] = [];
  for (const name of sourceNames) {
    const key = `${agent}.sources.${name}`;
    const raw = subkeys(flat, key);
    const chans = listOf(raw.channels);
    if (chans.length === 0) errors.push({ key: `${key}.channels`, message: 'is required: name the channel(s) this source writes to' });
    const okChans = chans.filter((c) => checkChannelRef(`${key}.channels`, c));
    const base = build('source', key, raw);
    const selector = build('selector', `${key}.selector`, pick(raw, 'selector'), 'replicating');
    const interceptors: PlannedComponent[] = [];
    for (const i of listOf(raw.interceptors)) {
      const ic = build('interceptor', `${key}.interceptors.${i}`, pick(raw, `interceptors.${i}`));
      if (ic) interceptors.push(ic);
    }
    if (base && selector) {
      for (const c of okChans) checkBatch(base, c);
      sources.push({ ...base, channels: okChans, selector, interceptors });
    }
  }

  const sinks: PlannedSink[] = [];
  for (const name of sinkNames) {
    const key = `${agent}.sinks.${name}`;
    const raw = subkeys(flat, key);
    const channel = raw.channel;
    if (!channel) errors.push({ key: `${key}.channel`, message: 'is required: name the channel this sink takes from' });
    else if (listOf(channel).length > 1) errors.push({ key: `${key}.channel`, message: 'a sink takes from exactly one channel' });
    const base = build('sink', key, raw);
    if (base && channel && checkChannelRef(`${key}.channel`, channel)) {
      checkBatch(base, channel);
      sinks.push({ ...base, channel });
    }
  }

  const groups: PlannedGroup[] = [];
  const grouped = new Map<string, string>();
  for (const name of groupNames) {
    const key = `${agent}.sinkgroups.${name}`;
    const raw = subkeys(flat, key);
    const members = listOf(raw.sinks);
    if (members.length === 0) errors.push({ key: `${key}.sinks`, message: 'is required: list the sinks of this group' });
    for (const s of members) {
      if (!sinkNames.includes(s)) errors.push({ key: `${key}.sinks`, message: `refers to sink "${s}", which is not declared in ${agent}.sinks` });
      else if (grouped.has(s)) errors.push({ key: `${key}.sinks`, message: `sink "${s}" is already in sink group ${grouped.get(s)}` });
      else grouped.set(s, name);
    }
    const processor = build('processor', `${key}.processor`, pick(raw, 'processor'), 'default');
    if (processor) groups.push({ name, sinks: members, processor });
  }
  for (const s of sinks) {
    if (grouped.has(s.name)) continue;
    const processor = build('processor', `${agent}.sinks.${s.name}`, { type: 'default' });
    if (processor) groups.push({ name: `${s.name}`, sinks: [s.name], processor });
  }

  if (errors.length > 0) return { errors, warnings };
  return { plan: { agent, sources, channels, sinks, groups }, errors, warnings };
}

export function describePlan(plan: AgentPlan): string {
  const lines: string[] = [`agent ${plan.agent}`];
  for (const c of plan.channels) lines.push(`  channel ${c.name}: ${c.spec.type}${fmt(c.config, ['capacity', 'transactionCapacity', 'checkpointDir', 'dataDirs'])}`);
  for (const s of plan.sources) {
    const ic = s.interceptors.map((i) => `${i.name}(${i.spec.type})`).join(' → ');
    lines.push(`  source ${s.name}: ${s.spec.type} → [${s.channels.join(', ')}] selector=${s.selector.spec.type}${ic ? ` interceptors: ${ic}` : ''}`);
  }
  for (const k of plan.sinks) lines.push(`  sink ${k.name}: ${k.spec.type} ← ${k.channel}`);
  for (const g of plan.groups) lines.push(`  sink group ${g.name}: ${g.processor.spec.type} over [${g.sinks.join(', ')}]`);
  return lines.join('\n');
}

function fmt(config: unknown, keys: string[]): string {
  const c = config as Record<string, unknown>;
  const parts = keys.filter((k) => c[k] !== undefined).map((k) => `${k}=${String(c[k])}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
