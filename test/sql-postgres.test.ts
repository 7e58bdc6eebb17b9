import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SqlHarness } from '../src/sql/runtime/testing.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StreamCQL with a throwaway PostgreSQL', () => {
  let server: PostgresServer;
  let db: pg.Client;
  before(async () => {
    server = await startPostgres();
    db = new pg.Client({ connectionString: server.url });
    await db.connect();
    await db.query(`CREATE TABLE users (id int, name text); INSERT INTO users VALUES (1, 'alice'), (2, 'bob'), (2, 'bobby');
      CREATE TABLE totals (id int, name text)`);
  });
  after(async () => {
    await db?.end();
    await server?.stop();
  });

  it('DATASOURCE RDBDataSource joins each row with its query result, cached; PostgresOutput inserts rows', async () => {
    const h = await SqlHarness.start(`
      CREATE INPUT STREAM s (id INT, v DOUBLE) SOURCE RandomGen;
      CREATE DATASOURCE users SOURCE RDBDataSource PROPERTIES (url = '${server.url}', cacheSize = '10');
      CREATE OUTPUT STREAM o (id INT, name STRING) SINK PostgresOutput PROPERTIES (url = '${server.url}', table = 'totals');
      INSERT INTO o SELECT s.id, u.name FROM s, DATASOURCE users [SCHEMA (name STRING), QUERY ('select name from users where id = ? order by name', s.id)] AS u;`, { realSinks: true });
    try {
      h.send('s', [1, 0], [2, 0], [3, 0]);
      let rows: { name: string; id: number }[] = [];
      for (let i = 0; i < 200 && rows.length < 3; i++) {
        await sleep(20);
        h.advance(50);
        rows = (await db.query<{ name: string; id: number }>('SELECT name, id FROM totals ORDER BY name')).rows;
      }
      assert.deepEqual(rows.map((r) => [r.name, r.id]), [['alice', 1], ['bob', 2], ['bobby', 2]]);
      // A cached key is answered without a query: change the table, the old answer still comes.
      await db.query(`UPDATE users SET name = 'alicia' WHERE id = 1`);
      h.send('s', [1, 0]);
      for (let i = 0; i < 200 && rows.length < 4; i++) {
        await sleep(20);
        h.advance(50);
        rows = (await db.query<{ name: string; id: number }>('SELECT name, id FROM totals ORDER BY name')).rows;
      }
      assert.deepEqual(rows.map((r) => r.name), ['alice', 'alice', 'bob', 'bobby']);
    } finally {
      await h.stop();
    }
  });
});
