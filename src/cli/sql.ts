import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { homedir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { appendFileSync } from 'node:fs';
import { Command } from 'commander';
import { compileScript, explainText } from '../sql/index.js';
import type { SqlError } from '../sql/errors.js';

/**
 * `monsoon sql <file.cql>` runs a StreamCQL application in the foreground on the local compute
 * runtime (named by its SUBMIT APPLICATION, else by the file name) and serves Storm UI's REST paths;
 * `--explain [--json]` prints the logical plan instead. Without a file it opens an interactive shell
 * where each `;` runs the statements typed so far through the analyzer, and SHOW APPLICATIONS,
 * DROP APPLICATION and ACTIVE/DEACTIVE APPLICATION talk to a running application's REST API (--api).
 */
export function sqlCommand(): Command {
  return new Command('sql')
    .description('check a StreamCQL application and print its logical plan (or open a StreamCQL shell)')
    .argument('[file]', 'a .cql file')
    .option('--explain', 'print the logical plan and exit 0 when the application is valid')
    .option('--json', 'with --explain: print the plan as JSON')
    .option('--bus <url>', 'bus for KafkaInput/KafkaOutput without brokers (a directory is the embedded log)')
    .option('--api-host <host>', 'address for the REST API', '127.0.0.1')
    .option('--api-port <port>', 'port for the REST API (Storm UI paths); 0 picks a free one', '8080')
    .option('--no-api', 'do not serve the REST API')
    .option('--api <url>', 'shell: the REST API of a running application', 'http://127.0.0.1:8080')
    .action(async (file: string | undefined, o: { explain?: boolean; json?: boolean; bus?: string; apiHost: string; apiPort: string; api: boolean | string }) => {
      if (file === undefined) return shell(typeof o.api === 'string' ? o.api : 'http://127.0.0.1:8080', o.bus);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        process.stderr.write(`monsoon sql: cannot read ${file}: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const r = compileScript(text);
      for (const w of r.warnings) process.stderr.write(`${where(file, w)}: warning: ${w.detail}\n`);
      if (r.errors.length > 0) {
        for (const e of r.errors) process.stderr.write(`${where(file, e)}: error ${e.code}: ${e.detail}\n`);
        process.stderr.write(`${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; nothing of ${file} was submitted\n`);
        process.exitCode = 1;
        return;
      }
      if (o.explain) {
        process.stdout.write(o.json ? JSON.stringify(r.plan, null, 2) + '\n' : explainText(r.plan!));
        return;
      }
      await runApplication(file, r.plan!, o);
    });
}

/** Runs the application until SIGINT/SIGTERM or until it is killed through the REST API. */
async function runApplication(file: string, plan: NonNullable<ReturnType<typeof compileScript>['plan']>, o: { bus?: string; apiHost: string; apiPort: string; api: boolean | string }): Promise<void> {
  const name = plan.application ?? basename(file, extname(file));
  try {
    const { planTopology } = await import('../sql/planner.js');
    const { LocalCluster } = await import('../compute/runtime/local.js');
    const { createLogger } = await import('../core/log.js');
    const log = createLogger('sql');
    const topo = await planTopology(plan, { baseDir: dirname(resolve(file)), ...(o.bus ? { bus: o.bus } : {}) });
    const cluster = new LocalCluster({ logger: log });
    const t = await cluster.submitTopology(name, {}, topo);
    let api: { port: number; close(): Promise<void> } | undefined;
    if (o.api !== false) {
      const { startComputeApi } = await import('../compute/rest.js');
      const port = Number(o.apiPort);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--api-port must be a port number, got ${o.apiPort}`);
      api = await startComputeApi(cluster, { host: o.apiHost, port });
    }
    log.info({ application: name, topology: t.id, api: api ? `http://${o.apiHost}:${api.port}` : null }, `application ${name} is running${api ? ` (API at http://${o.apiHost}:${api.port}/api/v1/topology/summary)` : ''}`);
    await new Promise<void>((done) => {
      const stop = (): void => { void cluster.shutdown().then(done, done); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const timer = setInterval(() => {
        if (cluster.list().length === 0) { clearInterval(timer); done(); }
      }, 200);
    });
    await api?.close();
    log.info({ application: name }, `application ${name} stopped`);
  } catch (e) {
    process.stderr.write(`monsoon sql: ${file}: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}

/** The REST API of a running application: SHOW APPLICATIONS, DROP APPLICATION, ACTIVE/DEACTIVE APPLICATION. */
async function appCommand(api: string, stmt: { kind: string; name?: string; ifExists?: boolean; active?: boolean; workers?: number }): Promise<string> {
  const call = async (method: 'GET' | 'POST', path: string, payload?: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(new URL(path, api), { method, ...(payload === undefined ? {} : { body: JSON.stringify(payload), headers: { 'content-type': 'application/json' } }) });
    } catch (e) {
      throw new Error(`cannot reach an application's API at ${api} (is \`monsoon sql app.cql\` running? start the shell with --api <url>): ${(e as Error).message}`);
    }
    const body = (await res.json()) as { errorMessage?: string };
    if (!res.ok) throw new Error(body.errorMessage ?? `HTTP ${res.status}`);
    return body;
  };
  const summary = async () => ((await call('GET', '/api/v1/topology/summary')) as { topologies: { name: string; id: string; status: string; uptime: string }[] }).topologies;
  if (stmt.kind === 'showApplications') {
    const list = await summary();
    return list.length === 0 ? '(no applications)\n' : list.map((t) => `${t.name}\t${t.status}\t${t.uptime}\t${t.id}\n`).join('');
  }
  const found = (await summary()).find((t) => t.name.toLowerCase() === stmt.name!.toLowerCase());
  if (!found) {
    if (stmt.kind === 'dropApplication' && stmt.ifExists) return '';
    throw new Error(`no application ${stmt.name} runs at ${api}`);
  }
  const id = encodeURIComponent(found.id);
  if (stmt.kind === 'dropApplication') await call('POST', `/api/v1/topology/${id}/kill/0`);
  else if (stmt.kind === 'rebalanceApplication') {
    await call('POST', `/api/v1/topology/${id}/rebalance/0`, { rebalanceOptions: { numWorkers: stmt.workers } });
    return `rebalanced ${found.name}\n`;
  } else await call('POST', `/api/v1/topology/${id}/${stmt.active ? 'activate' : 'deactivate'}`);
  return `${stmt.kind === 'dropApplication' ? 'dropped' : stmt.active ? 'activated' : 'deactivated'} ${found.name}\n`;
}

function where(file: string, e: SqlError): string {
  return e.pos ? `${file}:${e.pos.line}:${e.pos.column}` : file;
}

/**
 * Interactive shell: statements accumulate into one application; each ';' re-checks it. SUBMIT
 * APPLICATION runs the application inside the shell's process (on the local runtime, with Storm UI's
 * REST paths on a free port) and starts a new, empty application; from then on SHOW / DROP / ACTIVE /
 * DEACTIVE / REBALANCE APPLICATION address the shell's own applications (before that, --api's).
 * Quitting the shell stops them.
 */
function shell(remoteApi: string, bus: string | undefined): void {
  type Hosted = { cluster: import('../compute/runtime/local.js').LocalCluster; url: string; close(): Promise<void> };
  let hosted: Promise<Hosted> | undefined;
  const host = (): Promise<Hosted> =>
    (hosted ??= (async () => {
      const { LocalCluster } = await import('../compute/runtime/local.js');
      const { createLogger } = await import('../core/log.js');
      const { startComputeApi } = await import('../compute/rest.js');
      const cluster = new LocalCluster({ logger: createLogger('sql') });
      const api = await startComputeApi(cluster, { host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${api.port}`;
      return { cluster, url, close: async () => { await cluster.shutdown(); await api.close(); } };
    })());
  const apiUrl = async (): Promise<string> => (hosted ? (await hosted).url : remoteApi);
  const submit = async (plan: NonNullable<ReturnType<typeof compileScript>['plan']>, name: string, force: boolean): Promise<string> => {
    const h = await host();
    if (h.cluster.getTopology(name)) {
      if (!force) throw new Error(`application ${name} is running; SUBMIT APPLICATION FORCE ${name} replaces it`);
      await h.cluster.killTopology(name, 0);
    }
    const { planTopology } = await import('../sql/planner.js');
    const topo = await planTopology(plan, { baseDir: process.cwd(), ...(bus ? { bus } : {}) });
    await h.cluster.submitTopology(name, {}, topo);
    return `submitted ${name}; it runs in this shell (Storm UI paths at ${h.url}/api/v1/topology/summary) until DROP APPLICATION ${name} or \\q; a new application starts empty\n`;
  };
  const history = join(homedir(), '.monsoon_sql_history');
  let past: string[] = [];
  try { past = readFileSync(history, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500); } catch { /* no history yet */ }
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'monsoon> ', history: past, historySize: 500 } as Parameters<typeof createInterface>[0]);
  const accepted: string[] = [];
  let pending = '';
  const out = (s: string) => process.stdout.write(s);
  out('StreamCQL shell. End statements with ;  EXPLAIN APPLICATION x; prints the plan; \\q quits.\n');
  rl.prompt();
  // Lines are handled one after another, so a statement sent to a running application finishes
  // before the next line (already buffered when input is piped) is looked at.
  let chain: Promise<void> = Promise.resolve();
  rl.on('line', (line) => { chain = chain.then(() => handle(line)); });
  const handle = async (line: string): Promise<void> => {
    if (pending === '' && line.trim() === '\\q') { rl.close(); return; }
    try { if (line.trim() !== '') appendFileSync(history, line + '\n'); } catch { /* history is optional */ }
    pending += line + '\n';
    if (!/;\s*(--.*)?$/.test(line)) { rl.setPrompt('      -> '); rl.prompt(); return; }
    const candidate = [...accepted, pending].join('');
    const r = compileScript(candidate);
    if (r.errors.length > 0) {
      const offset = accepted.join('').split('\n').length - 1;
      for (const e of r.errors) out(`error ${e.code}${e.pos ? ` at ${e.pos.line - offset}:${e.pos.column}` : ''}: ${e.detail}\n`);
    } else {
      accepted.push(pending);
      for (const w of r.warnings) out(`warning: ${w.detail}\n`);
      const last = r.statements[r.statements.length - 1];
      if (last?.kind === 'explainApplication') out(explainText(r.plan!));
      if (last?.kind === 'submitApplication') {
        try {
          out(await submit(r.plan!, last.name, last.force));
          accepted.length = 0;
        } catch (e) {
          out(`error: ${(e as Error).message}\n`);
        }
      }
      if (last && (last.kind === 'showApplications' || last.kind === 'dropApplication' || last.kind === 'activateApplication' || last.kind === 'rebalanceApplication')) {
        try {
          out(await appCommand(await apiUrl(), last as { kind: string }));
        } catch (e) {
          out(`error: ${(e as Error).message}\n`);
        }
      }
      if (last?.kind === 'get') out(`${last.key} = ${r.analysis!.settings.get(last.key) ?? '(not set)'}\n`);
      if (last?.kind === 'showFunctions') out([...r.analysis!.functions.values()].map((f) => `${f.name} = ${f.ref}\n`).join('') || '(no functions)\n');
      out('ok\n');
    }
    pending = '';
    rl.setPrompt('monsoon> ');
    rl.prompt();
  };
  rl.on('close', () => {
    void chain
      .then(async () => (hosted ? (await hosted).close() : undefined))
      .catch((e: unknown) => out(`error: ${(e as Error).message}\n`))
      .then(() => out('\n'));
  });
}
