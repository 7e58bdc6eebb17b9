#!/usr/bin/env node
/**
 * Bundles `monsoon agent` (dist/src/cli/agent-main.js, as tsc emitted it) with the libraries it loads
 * at start into dist/src/cli/agent.bundle.js, which bin/monsoon.js runs for `monsoon agent`. Loading
 * one file instead of ~250 modules takes ~100 ms off every agent start on a small machine.
 *
 * Libraries in BUNDLED are copied in; every other package stays an import of node_modules as in
 * dist/src (native addons such as LMDB, and clients an agent loads only when a config asks for
 * them: fastify, pg, ClickHouse, the bus clients). `npm run build` runs this after tsc.
 *
 * Beside the bundle, agent.bundle.inputs lists the tsc output files it was made from: bin/monsoon.js
 * passes over a bundle older than any of them (`tsc` or `tsc -w` ran after it), or than the last npm
 * install (the libraries copied in may have changed), so a stale bundle never runs. Lazy chunks (agent.bundle/<name>-<hash>.js) are named by their content and never
 * removed here: an agent started before a rebuild still finds the chunks its bundle names when a
 * reloaded config first needs one.
 */
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUNDLED = new Set(['zod', 'pino', 'commander', 'dot-properties', 'thrift']);
const root = fileURLToPath(new URL('..', import.meta.url));

/** The package a bare specifier names (`@scope/name/x` → `@scope/name`), or undefined for paths and node: builtins. */
function packageOf(spec) {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

const onlyListedPackages = {
  name: 'only-listed-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const pkg = args.kind === 'entry-point' ? undefined : packageOf(args.path);
      if (pkg === undefined) return undefined;
      // a listed library's own dependencies come with it
      if (BUNDLED.has(pkg) || args.importer.includes('/node_modules/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

// Modules an agent imports only when a config asks for them (the bus clients, the stores) stay
// separate chunks, loaded as lazily as from dist/src.
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'agent.bundle': 'dist/src/cli/agent-main.js' },
  outdir: 'dist/src/cli',
  chunkNames: 'agent.bundle/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
  metafile: true,
  plugins: [onlyListedPackages],
  // CommonJS libraries in the bundle (pino) call require() for Node's own modules
  banner: { js: "import { createRequire as monsoonCreateRequire } from 'node:module'; const require = monsoonCreateRequire(import.meta.url);" },
});

const inputs = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('dist/'));
writeFileSync(`${root}/dist/src/cli/agent.bundle.inputs`, `${inputs.map((f) => relative('dist/src/cli', f)).join('\n')}\n`);
