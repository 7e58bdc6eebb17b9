import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import '../../collect/builtins.js';
import { componentReference } from './reference.js';

it('docs/COMPONENTS.md matches the component schemas (regenerate with: monsoon components --markdown > docs/COMPONENTS.md)', () => {
  const doc = readFileSync(new URL('../../../../docs/COMPONENTS.md', import.meta.url), 'utf8');
  assert.equal(doc, componentReference());
});
