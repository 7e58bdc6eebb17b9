import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SqlHarness } from './testing.js';

const scratch: string[] = [];
after(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

const DDL = `
CREATE INPUT STREAM s (id INT, name STRING, v DOUBLE) SOURCE RandomGen;
CREATE INPUT STREAM t (id INT, label STRING) SOURCE RandomGen;
`;

async function run(sql: string, body: (h: SqlHarness) => void | Promise<void>, opts: { baseDir?: string } = {}): Promise<void> {
  const h = await SqlHarness.start(DDL + sql, opts);
  try {
    await body(h);
  } finally {
    await h.stop();
  }
}

test('filter before the window, WHERE and projection with expressions', async () => {
  await run(`CREATE OUTPUT STREAM o (id INT, up STRING, w DOUBLE) SINK ConsoleOutput;
    INSERT INTO o SELECT id, upper(name), v * 2 FROM s(id > 1) WHERE v < 10;`, (h) => {
    h.send('s', [1, 'a', 1], [2, 'b', 2], [3, 'c', 30], [4, null, 4]);
    assert.deepEqual(h.take('o'), [[2, 'B', 4], [4, null, 8]]);
  });
});

test('ROWS SLIDE with count/sum: rows leaving the window are removed from the aggregates', async () => {
  await run(`CREATE OUTPUT STREAM o (n LONG, total DOUBLE) SINK ConsoleOutput;
    INSERT INTO o SELECT count(*), sum(v) FROM s[ROWS 2 SLIDE];`, (h) => {
    h.send('s', [1, 'a', 1], [2, 'a', 2], [3, 'a', 4]);
    assert.deepEqual(h.take('o'), [[1, 1], [2, 3], [2, 6]]);
  });
});

test('ROWS BATCH with GROUP BY / HAVING / ORDER BY / LIMIT emits once per batch', async () => {
  await run(`CREATE OUTPUT STREAM o (name STRING, n LONG, m DOUBLE) SINK ConsoleOutput;
    INSERT INTO o SELECT name, count(*), max(v) AS m FROM s[ROWS 4 BATCH] GROUP BY name HAVING count(*) >= 1 ORDER BY m DESC LIMIT 2;`, (h) => {
    h.send('s', [1, 'a', 1], [2, 'b', 5], [3, 'c', 3]);
    assert.deepEqual(h.take('o'), []);
    h.send('s', [4, 'a', 2]);
    assert.deepEqual(h.take('o'), [['b', 1, 5], ['c', 1, 3]]);
    // The next batch: a, b and c leave (count 0 fails HAVING), d enters.
    h.send('s', [5, 'd', 9], [6, 'd', 1], [7, 'd', 1], [8, 'a', 0]);
    assert.deepEqual(h.take('o'), [['d', 3, 9], ['a', 1, 0]]);
  });
});

test('RANGE SLIDE on the simulated clock: the group total drops when rows expire', async () => {
  await run(`CREATE OUTPUT STREAM o (name STRING, n LONG) SINK ConsoleOutput;
    INSERT INTO o SELECT name, count(*) FROM s[RANGE 10 SECONDS SLIDE] GROUP BY name;`, (h) => {
    h.send('s', [1, 'a', 1]);
    h.advance(5000);
    h.send('s', [2, 'a', 1]);
    assert.deepEqual(h.take('o'), [['a', 1], ['a', 2]]);
    h.advance(5000);
    assert.deepEqual(h.take('o'), [['a', 1]]);
    h.advance(5000);
    assert.deepEqual(h.take('o'), [['a', 0]]);
  });
});

test('RANGE BATCH releases each interval at its end on the clock', async () => {
  await run(`CREATE OUTPUT STREAM o (n LONG) SINK ConsoleOutput;
    INSERT INTO o SELECT count(*) FROM s[RANGE 1 SECONDS BATCH];`, (h) => {
    h.send('s', [1, 'a', 1], [2, 'a', 1]);
    h.advance(500);
    h.send('s', [3, 'a', 1]);
    assert.deepEqual(h.take('o'), []);
    h.advance(600);
    assert.deepEqual(h.take('o'), [[3]]);
    h.advance(1000);
    assert.deepEqual(h.take('o'), [[0]]);
  });
});

test('aggregates without a window keep running values; DISTINCT counts and PARTITION BY', async () => {
  await run(`CREATE OUTPUT STREAM o (name STRING, n LONG, d LONG) SINK ConsoleOutput;
    CREATE OUTPUT STREAM p (id INT, n LONG) SINK ConsoleOutput;
    INSERT INTO o SELECT name, count(*), count(DISTINCT id) FROM s GROUP BY name;
    INSERT INTO p SELECT id, count(*) FROM s[ROWS 1 SLIDE PARTITION BY name] GROUP BY id;`, (h) => {
    h.send('s', [1, 'a', 0], [1, 'a', 0], [2, 'a', 0], [3, 'b', 0]);
    assert.deepEqual(h.take('o'), [['a', 1, 1], ['a', 2, 1], ['a', 3, 2], ['b', 1, 1]]);
    // Per name only the last row stays: the third a-row (id 2) pushes out id 1, whose group drops to 0.
    assert.deepEqual(h.take('p'), [[1, 1], [1, 1], [1, 0], [2, 1], [3, 1]]);
  });
});

test('SELECT DISTINCT drops duplicates within one batch; PREVIOUS looks at the row before', async () => {
  await run(`CREATE OUTPUT STREAM o (name STRING) SINK ConsoleOutput;
    CREATE OUTPUT STREAM p (id INT, before INT) SINK ConsoleOutput;
    INSERT INTO o SELECT DISTINCT name FROM s[ROWS 3 BATCH];
    INSERT INTO p SELECT id, PREVIOUS(1, id) FROM s;`, (h) => {
    h.send('s', [1, 'a', 0], [2, 'a', 0], [3, 'b', 0]);
    assert.deepEqual(h.take('o'), [['a'], ['b']]);
    assert.deepEqual(h.take('p'), [[1, null], [2, 1], [3, 2]]);
  });
});

test('inner, left and unidirectional joins of two windows', async () => {
  await run(`CREATE OUTPUT STREAM o (id INT, name STRING, label STRING) SINK ConsoleOutput;
    CREATE OUTPUT STREAM l (id INT, label STRING) SINK ConsoleOutput;
    CREATE OUTPUT STREAM u (id INT, label STRING) SINK ConsoleOutput;
    INSERT INTO o SELECT s.id, s.name, t.label FROM s[ROWS 10 SLIDE] JOIN t[ROWS 1 SLIDE] ON s.id = t.id;
    INSERT INTO l SELECT s.id, t.label FROM s[ROWS 10 SLIDE] LEFT JOIN t[ROWS 1 SLIDE] ON s.id = t.id;
    INSERT INTO u SELECT s.id, t.label FROM s UNIDIRECTION JOIN t[ROWS 10 SLIDE] ON s.id = t.id;`, (h) => {
    h.send('t', [1, 'one']);
    h.send('s', [1, 'a', 0], [2, 'b', 0]);
    assert.deepEqual(h.take('o'), [[1, 'a', 'one']]);
    assert.deepEqual(h.take('l'), [[1, 'one'], [2, null]]);
    assert.deepEqual(h.take('u'), [[1, 'one']]);
    // t's ROWS 1 window: 'two' replaces 'one'; it matches s row 2 already in s's window (not for UNIDIRECTION).
    h.send('t', [2, 'two']);
    assert.deepEqual(h.take('o'), [[2, 'b', 'two']]);
    assert.deepEqual(h.take('u'), []);
    h.send('s', [1, 'c', 0]);
    assert.deepEqual(h.take('o'), []);
    assert.deepEqual(h.take('u'), [[1, 'one']]);
  });
});

test('COMBINE emits one row once every input has a row for the key', async () => {
  await run(`CREATE OUTPUT STREAM o (id INT, name STRING, label STRING) SINK ConsoleOutput;
    INSERT INTO o SELECT s.id, s.name, t.label FROM s, t COMBINE (s.id, t.id);`, (h) => {
    h.send('s', [1, 'a', 0], [2, 'b', 0]);
    assert.deepEqual(h.take('o'), []);
    h.send('t', [2, 'two']);
    assert.deepEqual(h.take('o'), [[2, 'b', 'two']]);
  });
});

test('CREATE FUNCTION loads a JavaScript module; CREATE OPERATOR runs a user operator', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'monsoon-sql-udf-'));
  scratch.push(dir);
  writeFileSync(join(dir, 'fns.mjs'), `export function twice(x) { return x * 2; }
export class Split { prepare(p) { this.sep = p.sep; } execute(row, emit) { for (const w of String(row[1]).split(this.sep)) emit([row[0], w]); } }`);
  await run(`CREATE FUNCTION twice AS './fns.mjs#twice' RETURNS INT;
    CREATE OPERATOR split AS './fns.mjs#Split' INPUT (id INT, name STRING, v DOUBLE) OUTPUT (id INT, word STRING) PROPERTIES (sep = '-');
    CREATE OUTPUT STREAM o (x INT) SINK ConsoleOutput;
    CREATE OUTPUT STREAM w (id INT, word STRING) SINK ConsoleOutput;
    INSERT INTO o SELECT twice(id) FROM s;
    INSERT INTO w USING OPERATOR split FROM s;`, (h) => {
    h.send('s', [21, 'x-y', 0]);
    assert.deepEqual(h.take('o'), [[42]]);
    assert.deepEqual(h.take('w'), [[21, 'x'], [21, 'y']]);
  }, { baseDir: dir });
});

test('PARALLEL 3 GROUP BY routes each key to one task; intermediate streams feed later queries', async () => {
  await run(`CREATE STREAM mid (name STRING, v DOUBLE);
    CREATE OUTPUT STREAM o (name STRING, total DOUBLE) SINK ConsoleOutput;
    INSERT INTO mid SELECT name, v FROM s WHERE v > 0 PARALLEL 2;
    INSERT INTO o SELECT name, sum(v) FROM mid GROUP BY name PARALLEL 3;`, (h) => {
    for (let i = 0; i < 30; i++) h.send('s', [i, `k${i % 5}`, 1]);
    const rows = h.take('o');
    assert.equal(rows.length, 30);
    const final = new Map<unknown, unknown>();
    for (const r of rows) final.set(r[0], r[1]);
    assert.deepEqual([...final.entries()].sort(), [['k0', 6], ['k1', 6], ['k2', 6], ['k3', 6], ['k4', 6]]);
  });
});

test('a self-join of one stream under two aliases', async () => {
  await run(`CREATE OUTPUT STREAM o (a INT, b INT) SINK ConsoleOutput;
    INSERT INTO o SELECT x.id AS a, y.id AS b FROM s[ROWS 5 SLIDE] AS x JOIN s[ROWS 5 SLIDE] AS y ON x.name = y.name WHERE x.id < y.id;`, (h) => {
    h.send('s', [1, 'a', 0], [2, 'a', 0]);
    assert.deepEqual(h.take('o'), [[1, 2]]);
  });
});

test('FileOutput writes the rows with the stream SerDe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'monsoon-sql-file-'));
  scratch.push(dir);
  const h = await SqlHarness.start(`${DDL}
    CREATE OUTPUT STREAM o (id INT, name STRING) SERDE CsvSerDe SINK FileOutput PROPERTIES (path = '${join(dir, 'out')}');
    INSERT INTO o SELECT id, name FROM s WHERE id > 1;`, { realSinks: true });
  h.send('s', [1, 'x', 0], [2, 'a,b', 0], [3, 'c', 0]);
  await h.stop();
  const files = readdirSync(join(dir, 'out'));
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^o-\d+\.txt$/);
  assert.equal(readFileSync(join(dir, 'out', files[0]!), 'utf8'), '2,"a,b"\n3,c\n');
});
