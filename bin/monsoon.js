#!/usr/bin/env node
import { readFileSync, statSync } from 'node:fs';

// `monsoon agent` starts from its bundle (scripts/bundle.mjs) when the bundle is at least as new as
// every tsc output file it was made from and as the last npm install (the libraries it copied in
// may have changed; npm keeps the files' packed dates, but rewrites node_modules/.package-lock.json
// on every install); everything else, and an agent without a fresh bundle, starts from dist/src.
const cli = new URL('../dist/src/cli/', import.meta.url);

/** When npm last installed into node_modules, or 0 when it cannot tell. */
function installedAt() {
  try {
    return statSync(new URL('../node_modules/.package-lock.json', import.meta.url)).mtimeMs;
  } catch {
    return 0;
  }
}

function freshBundle() {
  try {
    const made = statSync(new URL('agent.bundle.js', cli)).mtimeMs;
    const inputs = readFileSync(new URL('agent.bundle.inputs', cli), 'utf8').split('\n').filter(Boolean);
    return inputs.length > 0 && inputs.every((f) => statSync(new URL(f, cli)).mtimeMs <= made) && installedAt() <= made;
  } catch {
    return false; // no bundle, or an input gone
  }
}

await import(process.argv[2] === 'agent' && freshBundle() ? '../dist/src/cli/agent.bundle.js' : '../dist/src/cli/main.js');
