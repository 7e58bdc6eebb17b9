import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LocalCluster } from '../../compute/runtime/local.js';
import { kvGet, kvScan } from '../../store/kv/lookup.js';
import { compileScript } from '../index.js';
import { planTopology } from '../planner.js';
import { RowQueue, type RowSource } from './sources.js';

/**
 * The connectors that talk to the outside (TCP, files, the key-value store, standard output), run on
 * the local runtime with the real clock: each test starts the application, feeds it, waits for the
 * effect and stops it.
 */

const work = mkdtempSync(join(tmpdir(), 'monsoon-sql-conn-'));
const clusters: LocalCluster[] = [];
after(async () => {
  for (const c of clusters) await c.shutdown();
  rmSync(work, { recursive: true, force: true });
});

interface App {
  printed: string[];
  /** Tuple trees the acker still tracks (every emitted row is acked only once its sink wrote it). */
  pending(): number;
  stop(): Promise<void>;
}

async function runApp(script: string, inputs: Record<string, RowSource> = {}): Promise<App> {
  const r = compileScript(script);
  assert.deepEqual(r.errors.map((e) => e.message), []);
  const printed: string[] = [];
  const topo = await planTopology(r.plan!, {
    inputs: new Map(Object.entries(inputs).map(([k, v]) => [k.toLowerCase(), v])),
    stdout: (t) => { printed.push(t); },
  });
  const cluster = new LocalCluster();
  clusters.push(cluster);
  const t = await cluster.submitTopology(r.plan!.application ?? 'test', {}, topo);
  return {
    printed,
    pending: () => t.page().acker!.pending,
    async stop() {
      clusters.splice(clusters.indexOf(cluster), 1);
      await cluster.shutdown();
    },
  };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = (printed: string[]): string[] => printed.join('').split('\n').filter((l) => l !== '');

/** A throwaway TCP server on a free loopback port; `close` also ends the connections it accepted. */
function listen(onSocket: (s: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  return new Promise((res, rej) => {
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      onSocket(s);
    });
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res({
      port: (server.address() as { port: number }).port,
      close: () => new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
    }));
  });
}

test('ConsoleOutput with printFrequence = 3 prints the 1st, 4th, 7th … row, across batches', async () => {
  const q = new RowQueue();
  const app = await runApp(`
    CREATE INPUT STREAM s (id INT, name STRING) SOURCE RandomGen;
    CREATE OUTPUT STREAM o (id INT, name STRING) SERDE SimpleSerDe PROPERTIES (separator = '|') SINK ConsoleOutput PROPERTIES (printFrequence = '3');
    INSERT INTO o SELECT id, name FROM s;
    SUBMIT APPLICATION console_every;`, { s: q });
  try {
    q.push([1, 'a'], [2, 'b'], [3, 'c'], [4, 'd']);
    await waitFor('rows 1 and 4', () => lines(app.printed).length >= 2);
    q.push([5, 'e'], [6, 'f'], [7, 'g'], [8, 'h'], [9, 'i'], [10, 'j']);
    await waitFor('rows 7 and 10', () => lines(app.printed).length >= 4);
    // Give any wrongly printed row time to show up.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(lines(app.printed), ['1|a', '4|d', '7|g', '10|j']);
  } finally {
    await app.stop();
  }
});

test('ConsoleOutput without printFrequence prints every row', async () => {
  const q = new RowQueue();
  const app = await runApp(`
    CREATE INPUT STREAM s (id INT) SOURCE RandomGen;
    CREATE OUTPUT STREAM o (id INT) SERDE SimpleSerDe SINK ConsoleOutput;
    INSERT INTO o SELECT id FROM s;
    SUBMIT APPLICATION console_all;`, { s: q });
  try {
    q.push([1], [2], [3]);
    await waitFor('three rows', () => lines(app.printed).length >= 3);
    assert.deepEqual(lines(app.printed), ['1', '2', '3']);
  } finally {
    await app.stop();
  }
});

test('TCPClientInput reads the lines a server sends, decoded by the SerDe, including a line split across packets', async () => {
  // 'é' is two bytes in UTF-8: the first packet ends between them.
  const third = Buffer.from('3,josé,7\n');
  const cut = third.indexOf(0xc3) + 1;
  const server = await listen((s) => {
    s.write('1,alice,2.5\n2,bob,');
    setTimeout(() => s.write(Buffer.concat([Buffer.from('0.5\r\n\n'), third.subarray(0, cut)])), 50);
    setTimeout(() => s.write(third.subarray(cut)), 100);
  });
  const port = server.port;
  const app = await runApp(`
    CREATE INPUT STREAM s (id INT, name STRING, v DOUBLE) SERDE CsvSerDe SOURCE TCPClientInput PROPERTIES (server = '127.0.0.1', port = '${port}');
    CREATE OUTPUT STREAM o (name STRING, w DOUBLE) SERDE SimpleSerDe PROPERTIES (separator = ';') SINK ConsoleOutput;
    INSERT INTO o SELECT name, v * 2 FROM s WHERE id > 1;
    SUBMIT APPLICATION tcp_in;`);
  try {
    await waitFor('two rows', () => lines(app.printed).length >= 2);
    assert.deepEqual(lines(app.printed), ['bob;1', 'josé;14']);
  } finally {
    await app.stop();
    await server.close();
  }
});

test('TCPClientOutput writes one line per row to the server', async () => {
  let received = '';
  const server = await listen((s) => { s.setEncoding('utf8'); s.on('data', (d: string) => { received += d; }); });
  const port = server.port;
  const q = new RowQueue();
  const app = await runApp(`
    CREATE INPUT STREAM s (id INT, name STRING) SOURCE RandomGen;
    CREATE OUTPUT STREAM o (id INT, name STRING) SERDE JSON SINK TCPClientOutput PROPERTIES (server = '127.0.0.1', port = '${port}');
    INSERT INTO o SELECT id, upper(name) FROM s;
    SUBMIT APPLICATION tcp_out;`, { s: q });
  try {
    q.push([1, 'a'], [2, 'b']);
    q.push([3, 'c']);
    await waitFor('three lines at the server', () => received.split('\n').length > 3);
    assert.deepEqual(received.split('\n'), ['{"id":1,"name":"A"}', '{"id":2,"name":"B"}', '{"id":3,"name":"C"}', '']);
  } finally {
    await app.stop();
    await server.close();
  }
});

test('TCPClientOutput reconnects after the server drops it and writes the rows that came meanwhile', async () => {
  let received = '';
  const conns: Socket[] = [];
  const server = await listen((s) => {
    conns.push(s);
    s.setEncoding('utf8');
    s.on('data', (d: string) => { received += d; });
  });
  const q = new RowQueue();
  const app = await runApp(`
    CREATE INPUT STREAM s (id INT) SOURCE RandomGen;
    CREATE OUTPUT STREAM o (id INT) SERDE JSON SINK TCPClientOutput PROPERTIES (server = '127.0.0.1', port = '${server.port}');
    INSERT INTO o SELECT id FROM s;
    SUBMIT APPLICATION tcp_out_again;`, { s: q });
  try {
    q.push([1], [2]);
    await waitFor('two lines', () => received.split('\n').length > 2);
    conns[0]!.destroy(); // the server drops the connection
    await new Promise((r) => setTimeout(r, 50));
    q.push([3]);
    q.push([4]);
    await waitFor('a second connection and four lines', () => conns.length >= 2 && received.split('\n').length > 4, 10_000);
    assert.deepEqual(received.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: number }).id), [1, 2, 3, 4]);
  } finally {
    await app.stop();
    await server.close();
  }
});

test('KVOutput writes one store row per output row, keyed by the key column, one cell per column', async () => {
  const store = join(work, 'kv');
  const q = new RowQueue();
  const app = await runApp(`
    CREATE INPUT STREAM s (id INT, name STRING, v DOUBLE) SOURCE RandomGen;
    CREATE OUTPUT STREAM users (name STRING, id INT, v DOUBLE) SINK KVOutput PROPERTIES (path = '${store}', key = 'name');
    INSERT INTO users SELECT name, id, v FROM s;
    SUBMIT APPLICATION kv_out;`, { s: q });
  q.push([1, 'ann', 1.5], [2, 'bo', null], [3, null, 9]);
  q.push([4, 'ann', 2.5]);
  q.end();
  await waitFor('every row to be written', () => q.done() && app.pending() === 0);
  await app.stop();
  const rows = await kvScan(store, 'users', {});
  assert.deepEqual(rows.map((r) => r.row), ['ann', 'bo'], 'a row whose key is NULL is not written');
  assert.deepEqual(await kvGet(store, 'users', 'ann'), { row: 'ann', columns: { 'd:id': '4', 'd:name': 'ann', 'd:v': '2.5' } });
  assert.deepEqual(await kvGet(store, 'users', 'bo'), { row: 'bo', columns: { 'd:id': '2', 'd:name': 'bo' } }, 'a NULL column has no cell');
});

test('FileInput reads the existing lines of a file, then lines appended while it runs', async () => {
  const file = join(work, 'in.txt');
  writeFileSync(file, '1|x\n2|y\n3|');
  const app = await runApp(`
    CREATE INPUT STREAM s (id INT, name STRING) SERDE SimpleSerDe PROPERTIES (separator = '|') SOURCE FileInput PROPERTIES (path = '${file}');
    CREATE OUTPUT STREAM o (id INT, name STRING) SERDE CsvSerDe SINK ConsoleOutput;
    INSERT INTO o SELECT id * 10, name FROM s WHERE id <> 2;
    SUBMIT APPLICATION file_in;`);
  try {
    await waitFor('the first row', () => lines(app.printed).length >= 1);
    appendFileSync(file, 'z\n4|w\n');
    await waitFor('three rows', () => lines(app.printed).length >= 3);
    assert.deepEqual(lines(app.printed), ['10,x', '30,z', '40,w']);
  } finally {
    await app.stop();
  }
});

test('FileInput follows the file across rotation by rename, reading what the old file got after the rename first', async () => {
  const file = join(work, 'rot.txt');
  writeFileSync(file, '1\n2\n');
  const app = await runApp(`
    CREATE INPUT STREAM s (id INT) SERDE SimpleSerDe SOURCE FileInput PROPERTIES (path = '${file}');
    CREATE OUTPUT STREAM o (id INT) SERDE SimpleSerDe SINK ConsoleOutput;
    INSERT INTO o SELECT id FROM s;
    SUBMIT APPLICATION file_rot;`);
  try {
    await waitFor('two rows', () => lines(app.printed).length >= 2);
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, '3\n4'); // the writer's last lines, before it reopens the path
    writeFileSync(file, '5\n6\n');
    await waitFor('six rows', () => lines(app.printed).length >= 6);
    writeFileSync(file, '7\n'); // truncated in place and rewritten (copytruncate)
    await waitFor('seven rows', () => lines(app.printed).length >= 7);
    assert.deepEqual(lines(app.printed), ['1', '2', '3', '4', '5', '6', '7']);
  } finally {
    await app.stop();
  }
});

test('FileInput decodes a UTF-8 character that straddles its read chunks', async () => {
  const file = join(work, 'wide.txt');
  // Each line is 'é' repeated (2 bytes each) so one falls across every 64 KiB boundary.
  const line = 'é'.repeat(999);
  writeFileSync(file, `${line}\n`.repeat(100));
  const app = await runApp(`
    CREATE INPUT STREAM s (name STRING) SERDE SimpleSerDe SOURCE FileInput PROPERTIES (path = '${file}');
    CREATE OUTPUT STREAM o (name STRING) SERDE SimpleSerDe SINK ConsoleOutput;
    INSERT INTO o SELECT name FROM s;
    SUBMIT APPLICATION file_utf8;`);
  try {
    await waitFor('100 rows', () => lines(app.printed).length >= 100);
    const got = lines(app.printed);
    assert.equal(got.length, 100);
    assert.equal(got.filter((l) => l !== line).length, 0, 'every line reads back unchanged');
  } finally {
    await app.stop();
  }
});

test('FileInput with fromBeginning = false skips what the file held when the application started', async () => {
  const file = join(work, 'tail.txt');
  writeFileSync(file, 'old\n');
  const app = await runApp(`
    CREATE INPUT STREAM s (name STRING) SERDE SimpleSerDe SOURCE FileInput PROPERTIES (path = '${file}', fromBeginning = 'false');
    CREATE OUTPUT STREAM o (name STRING) SERDE SimpleSerDe SINK ConsoleOutput;
    INSERT INTO o SELECT name FROM s;
    SUBMIT APPLICATION file_tail;`);
  try {
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(file, 'new\n');
    await waitFor('the appended row', () => lines(app.printed).length >= 1);
    assert.deepEqual(lines(app.printed), ['new']);
  } finally {
    await app.stop();
  }
});
