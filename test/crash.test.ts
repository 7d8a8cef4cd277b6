import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, setupWithCli, startServerProcess, type ServerProcess } from './support/cli.js';
import { ENGINES, type EngineStore } from './support/engines.js';

const CLIENTS = 8;
const EVENTS_PER_BATCH = 100;
const LOAD_MS = 1_000;

interface Batch {
  messageIds: string[];
  body: string;
}

function makeBatch(client: number, seq: number): Batch {
  const messageIds = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => `crash-${client}-${seq}-${i}`);
  const batch = messageIds.map((messageId, i) => ({
    type: 'track',
    event: 'Order Completed',
    userId: `user-${client}`,
    messageId,
    timestamp: new Date().toISOString(),
    properties: { client, seq, i, total: 19.99, products: [{ sku: 'A-1', quantity: 2 }] },
  }));
  return { messageIds, body: JSON.stringify({ batch, sentAt: new Date().toISOString() }) };
}

/** The event log as it is on disk, read around the server rather than through it. */
async function readLog(store: EngineStore): Promise<{ offset: number; messageId: string }[]> {
  const query = 'select "offset", message_id from events order by "offset"';
  if (store.databaseUrl) {
    const client = new pg.Client({ connectionString: store.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ offset: string; message_id: string }>(query);
      return rows.map((r) => ({ offset: Number(r.offset), messageId: r.message_id }));
    } finally {
      await client.end();
    }
  }
  const sqlite = new BetterSqlite3(join(store.dataDir, 'rapport.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = sqlite.prepare(query).all() as { offset: number; message_id: string }[];
    return rows.map((r) => ({ offset: Number(r.offset), messageId: r.message_id }));
  } finally {
    sqlite.close();
  }
}

/** The first place a sequence of offsets fails to grow, or undefined when it grows throughout. */
function firstOutOfOrder(ids: string[], offsets: number[]): string | undefined {
  const at = offsets.findIndex((offset, i) => i > 0 && !(offset > offsets[i - 1]));
  return at < 0 ? undefined : `${ids[at]} has offset ${offsets[at]} after ${ids[at - 1]} at ${offsets[at - 1]}`;
}

function post(server: ServerProcess, writeKey: string, body: string): Promise<Response> {
  return fetch(`${server.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(15_000),
  });
}

describe.each(ENGINES)('a server killed with kill -9 during a load of batches, on $name', (engine) => {
  let store: EngineStore | undefined;
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    await store?.drop();
  });

  it('keeps every event it acknowledged, exactly once and in order, and takes events again after a restart', async () => {
    store = await engine.create();
    const { writeKey } = await setupWithCli(store);
    const port = await freePort();
    server = await startServerProcess(store, port);

    // Several clients, each sending one batch after another, as SDKs flushing their queues do.
    const acked: string[][] = Array.from({ length: CLIENTS }, () => []);
    const unacked: Batch[] = [];
    let inFlight = 0;
    let networkFailures = 0;
    const load = Array.from({ length: CLIENTS }, async (_, client) => {
      for (let seq = 0; ; seq++) {
        const batch = makeBatch(client, seq);
        inFlight++;
        try {
          const res = await post(server!, writeKey, batch.body);
          if (res.status === 200) acked[client].push(...batch.messageIds);
          else unacked.push(batch);
          await res.arrayBuffer().catch(() => {});
        } catch {
          // The server is gone: this client's batch is unacknowledged and the client stops, to retry later.
          networkFailures++;
          unacked.push(batch);
          return;
        } finally {
          inFlight--;
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
    const inFlightAtKill = inFlight;
    await server.kill9();
    await Promise.all(load);

    const ackedIds = acked.flat();
    // Not vacuous: the load was running when the server died, and it had acknowledged real work before.
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(networkFailures).toBe(CLIENTS);
    expect(ackedIds.length).toBeGreaterThanOrEqual(10 * EVENTS_PER_BATCH);

    server = await startServerProcess(store, port);
    const afterCrash = await readLog(store);
    const offsetOf = new Map<string, number>();
    for (const row of afterCrash) {
      expect(offsetOf.has(row.messageId), `${row.messageId} is in the log twice`).toBe(false);
      offsetOf.set(row.messageId, row.offset);
    }
    const missing = ackedIds.filter((id) => !offsetOf.has(id));
    expect(missing, `${missing.length} of ${ackedIds.length} acknowledged events are missing`).toEqual([]);
    // Each client waited for one answer before sending its next batch, so its events sit in the log in the order it sent them.
    for (const ids of acked) expect(firstOutOfOrder(ids, ids.map((id) => offsetOf.get(id)!))).toBeUndefined();
    // A batch the server never answered was committed whole or not at all.
    for (const batch of unacked) {
      const stored = batch.messageIds.filter((id) => offsetOf.has(id)).length;
      expect([0, EVENTS_PER_BATCH]).toContain(stored);
    }
    const sent = new Set([...ackedIds, ...unacked.flatMap((b) => b.messageIds)]);
    expect(afterCrash.filter((row) => !sent.has(row.messageId))).toEqual([]);

    // The clients retry what was not acknowledged, then carry on with new events.
    for (const batch of unacked) expect((await post(server, writeKey, batch.body)).status).toBe(200);
    const fresh = makeBatch(CLIENTS, 0);
    expect((await post(server, writeKey, fresh.body)).status).toBe(200);

    const final = await readLog(store);
    const lastBeforeRestart = afterCrash.at(-1)?.offset ?? 0;
    expect(final.map((r) => r.messageId).sort()).toEqual([...sent, ...fresh.messageIds].sort());
    const freshOffsets = final.filter((r) => fresh.messageIds.includes(r.messageId)).map((r) => r.offset);
    expect(Math.min(...freshOffsets)).toBeGreaterThan(lastBeforeRestart);
    expect(firstOutOfOrder(final.map((r) => r.messageId), final.map((r) => r.offset))).toBeUndefined();
  }, 60_000);
});
