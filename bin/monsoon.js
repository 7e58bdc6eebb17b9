#!/usr/bin/env node
import { readFileSync, statSync } from 'node:fs';

// `monsoon agent` starts from its bundle (scripts/bundle.mjs) when the bundle is at least as new as
// every tsc output file it was made from; everything else, and an agent without a fresh bundle,
// starts from dist/src.
const cli = new URL('../dist/src/cli/', import.meta.url);

function freshBundle() {
  try {
    const made = statSync(new URL('agent.bundle.js', cli)).mtimeMs;
    const inputs = readFileSync(new URL('agent.bundle.inputs', cli), 'utf8').split('\n').filter(Boolean);
    return inputs.length > 0 && inputs.every((f) => statSync(new URL(f, cli)).mtimeMs <= made);
  } catch {
    return false; // no bundle, or an input gone
  }
}

await import(process.argv[2] === 'agent' && freshBundle() ? '../dist/src/cli/agent.bundle.js' : '../dist/src/cli/main.js');
