#!/usr/bin/env node
import { statSync } from 'node:fs';

// `monsoon agent` starts from its bundle (scripts/bundle.mjs) when the build made one from the
// current tsc output; everything else, and an agent without a fresh bundle, from dist/src.
const cli = new URL('../dist/src/cli/', import.meta.url);
const mtime = (name) => {
  try {
    return statSync(new URL(name, cli)).mtimeMs;
  } catch {
    return undefined;
  }
};
const bundled = process.argv[2] === 'agent' && (mtime('agent.bundle.js') ?? -1) >= (mtime('agent-main.js') ?? Infinity);
await import(bundled ? '../dist/src/cli/agent.bundle.js' : '../dist/src/cli/main.js');
