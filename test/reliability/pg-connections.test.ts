import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appliedEverywhere } from '../../src/pipeline/partitions.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { send } from '../collect/requests.js';

/**
 * What a PostgreSQL restart does to a node, without restarting the server every other test shares: every
 * connection of the node's database is terminated, several times, while batches arrive and the pipeline
 * applies them. A client losing its server mid-transaction used to crash the process (an unhandled 'error').
 */
const postgres = ENGINES.find((e) => e.name === 'postgres');

describe.skipIf(!postgres)('a node whose PostgreSQL connections are cut under load', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(postgres!);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('stays up, loses no acknowledged call and applies each once', async () => {
    const admin = new pg.Client({ connectionString: server.store.databaseUrl });
    await admin.connect();
    const acknowledged = new Set<string>();
    let seq = 0;
    let sending = true;
    const answers = new Map<number, number>();
    const client = async () => {
      while (sending) {
        const batch = Array.from({ length: 20 }, () => ({ type: 'track', event: 'Order Completed', userId: `u${seq % 30}`, messageId: `cut-${seq++}` }));
        const body = JSON.stringify({ batch });
        // As an SDK does: again until answered 200.
        for (;;) {
          const status = await send(server, '/v1/batch', body).then((r) => r.status, () => 0);
          answers.set(status, (answers.get(status) ?? 0) + 1);
          if (status === 200) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        for (const e of batch) acknowledged.add(e.messageId);
      }
    };
    try {
      const clients = Array.from({ length: 4 }, () => client());
      let cut = 0;
      for (let round = 0; round < 5; round++) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const { rowCount } = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
        cut += rowCount ?? 0;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      sending = false;
      await Promise.all(clients);
      expect(cut, 'no connection was cut').toBeGreaterThan(0);
      // A request whose append lost its connection is refused as the store being unavailable, never a 500.
      expect([...answers.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

      const db = server.rapport.database.db;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
        const end = Number((await db.selectFrom('events').select((eb) => eb.fn.max('offset').as('m')).executeTakeFirstOrThrow()).m);
        if ((await appliedEverywhere(db)) >= end) break;
      }
      const logged = new Set((await db.selectFrom('events').select('message_id').where('source_id', 'not like', 'rapport:%').execute()).map((r: { message_id: string }) => r.message_id));
      expect([...acknowledged].filter((m) => !logged.has(m)), 'acknowledged calls missing from the log').toEqual([]);
      // Each logged call on its profile's timeline exactly once.
      const timeline = await db.selectFrom('profile_events').select((eb) => [eb.fn.countAll().as('n'), eb.fn.count('event_offset').distinct().as('distinct')]).executeTakeFirstOrThrow();
      expect(Number(timeline.n)).toBe(logged.size);
      expect(Number(timeline.distinct)).toBe(logged.size);
      console.log(`connections cut: ${cut} in 5 rounds; ${acknowledged.size} calls acknowledged; answers ${JSON.stringify(Object.fromEntries(answers))}`);
    } finally {
      sending = false;
      await admin.end();
    }
  }, 120_000);
});
