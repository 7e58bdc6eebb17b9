import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MONSOON_BIN } from './support/procs.js';

const run = (...args: string[]) => spawnSync(process.execPath, [MONSOON_BIN, ...args], { encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'monsoon-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('monsoon CLI', () => {
  it('prints its version and help', () => {
    const v = run('--version');
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    const h = run('--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /agent/);
    assert.match(h.stdout, /components/);
  });

  it('agent --check prints the resolved pipeline and exits 0 for a valid file', () => {
    const f = join(dir, 'ok.properties');
    writeFileSync(f, 'a1.sources = r1\na1.channels = c1\na1.sinks = k1\na1.sources.r1.type = seq\na1.sources.r1.channels = c1\na1.channels.c1.type = memory\na1.sinks.k1.type = logger\na1.sinks.k1.channel = c1\n');
    const r = run('agent', '-n', 'a1', '-f', f, '--check');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /source r1: seq → \[c1\]/);
    assert.match(r.stdout, /sink k1: logger ← c1/);
    assert.match(r.stdout, /valid/);
  });

  it('agent --check lists every error with its key and exits non-zero', () => {
    const f = join(dir, 'bad.properties');
    writeFileSync(f, 'a1.sources = r1\na1.channels = c1\na1.sinks = k1\na1.sources.r1.type = seq\na1.sources.r1.channels = c2\na1.channels.c1.type = memory\na1.channels.c1.capacity = ten\na1.sinks.k1.type = elasticsearch\na1.sinks.k1.channel = c1\n');
    const r = run('agent', '-n', 'a1', '-f', f, '--check');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /error: a1\.sources\.r1\.channels: refers to channel "c2"/);
    assert.match(r.stderr, /error: a1\.channels\.c1\.capacity: expected an integer, got "ten"/);
    assert.match(r.stderr, /error: a1\.sinks\.k1\.type: sink type "elasticsearch" is not available yet/);
    assert.match(r.stderr, /3 error\(s\)/);
  });

  it('agent starts from its bundle: no module of dist/src, and no thrift file, is loaded', () => {
    const f = join(dir, 'bundled.properties');
    writeFileSync(f, 'a1.sources = r1\na1.channels = c1\na1.sinks = k1\na1.sources.r1.type = seq\na1.sources.r1.channels = c1\na1.channels.c1.type = memory\na1.sinks.k1.type = logger\na1.sinks.k1.channel = c1\n');
    const r = spawnSync(process.execPath, [MONSOON_BIN, 'agent', '-n', 'a1', '-f', f, '--check'], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'esm,module' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /valid/);
    // Node's ESM and CommonJS loaders log each module they load
    assert.match(r.stderr, /dist\/src\/cli\/agent\.bundle\.js/);
    assert.doesNotMatch(r.stderr, /dist\/src\/(collect|core)\//);
    assert.doesNotMatch(r.stderr, /node_modules\/thrift\//, 'a file of the thrift library was loaded from node_modules instead of the bundle');
  });

  it('bin/monsoon.js runs the agent bundle only when it is at least as new as every tsc output it was made from and as the last npm install', () => {
    const root = join(dir, 'chooser');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'dist/src/cli'), { recursive: true });
    mkdirSync(join(root, 'dist/src/collect'), { recursive: true });
    copyFileSync(MONSOON_BIN, join(root, 'bin/monsoon.js'));
    const cli = (name: string) => join(root, 'dist/src/cli', name);
    writeFileSync(cli('main.js'), "console.log('main');\n");
    writeFileSync(cli('agent-main.js'), "console.log('agent-main');\n");
    writeFileSync(cli('../collect/sink.js'), '\n');
    const which = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/monsoon.js'), ...args], { encoding: 'utf8' }).stdout.trim();
    assert.equal(which('agent'), 'main', 'no bundle: dist/src');
    writeFileSync(cli('agent.bundle.js'), "console.log('bundle');\n");
    for (const f of ['agent-main.js', '../collect/sink.js']) utimesSync(cli(f), 1000, 1000);
    utimesSync(cli('agent.bundle.js'), 2000, 2000);
    assert.equal(which('agent'), 'main', 'no list of the inputs: not trusted');
    writeFileSync(cli('agent.bundle.inputs'), 'agent-main.js\n../collect/sink.js\n');
    assert.equal(which('agent', '-n', 'a1'), 'bundle');
    assert.equal(which('topic'), 'main', 'other commands: dist/src');
    assert.equal(which(), 'main');
    mkdirSync(join(root, 'node_modules'));
    const lock = join(root, 'node_modules/.package-lock.json');
    writeFileSync(lock, '{}\n');
    utimesSync(lock, 1500, 1500);
    assert.equal(which('agent'), 'bundle', 'npm installed before the build');
    utimesSync(lock, 2500, 2500);
    assert.equal(which('agent'), 'main', 'npm installed after the build (the bundled libraries may have changed): stale');
    rmSync(lock);
    assert.equal(which('agent'), 'bundle', 'no record of an install: the tsc outputs decide');
    utimesSync(cli('../collect/sink.js'), 3000, 3000);
    assert.equal(which('agent'), 'main', 'one input rewritten after the bundle (tsc -w): stale');
    utimesSync(cli('../collect/sink.js'), 1000, 1000);
    rmSync(cli('../collect/sink.js'));
    assert.equal(which('agent'), 'main', 'an input gone: stale');
    rmSync(root, { recursive: true, force: true });
  });

  it('agent names a missing file', () => {
    const r = run('agent', '-n', 'a1', '-f', join(dir, 'nope.properties'), '--check');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read configuration file .*nope\.properties/);
  });
});

describe('shipped examples', () => {
  const examples = new URL('../../examples/collect/', import.meta.url);
  for (const [file, agent] of [
    ['tail-to-files.properties', 'demo'],
    ['agent-to-collectors.properties', 'agent'],
    ['collector.yaml', 'collector'],
  ] as const) {
    it(`${file} passes --check with no warnings`, () => {
      const path = new URL(file, examples).pathname;
      const r = spawnSync(process.execPath, [MONSOON_BIN, 'agent', '-n', agent, '-f', path, '--check'], { encoding: 'utf8', env: { ...process.env, EXAMPLE_DIR: dir } });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /warning/);
    });
  }
});
