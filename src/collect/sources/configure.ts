import { validateComponent, type ComponentSpec } from '../../core/config/component.js';
import type { Source, SourceContext } from '../contracts.js';

/** Validates properties for a source spec the way the agent does; throws with every message. Used by tests. */
export function configureSource<C>(spec: ComponentSpec<C, SourceContext, Source>, props: Record<string, unknown>): C {
  const v = validateComponent(spec as unknown as ComponentSpec<C>, props, 'a1.sources.r1');
  if (!v.config || v.errors.length > 0) throw new Error(v.errors.map((e) => `${e.key}: ${e.message}`).join('; '));
  return v.config;
}
