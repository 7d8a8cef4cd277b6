import BetterSqlite3 from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/platform/db/database.js';
import { isStorageFault } from '../../src/platform/db/storage-fault.js';
import { freePort, setupWithCli, startServerProcess, type ServerProcess } from '../support/cli.js';
import { smallFileSystem, smallFileSystemAvailable, type SmallFileSystem } from './small-filesystem.js';

const CLIENTS = 6;
const EVENTS_PER_BATCH = 50;
const AVAILABLE = smallFileSystemAvailable();
if (!AVAILABLE) process.stderr.write('note: the embedded store fault tests need root to mount a small tmpfs; skipped here\n');

interface Batch {
  messageIds: string[];
  body: string;
}

function makeBatch(label: string, client: number, seq: number): Batch {
  const messageIds = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => `${label}-${client}-${seq}-${i}`);
  const batch = messageIds.map((messageId, i) => ({
    type: i % 10 === 0 ? 'identify' : 'track', event: 'Order Completed', userId: `user-${client}-${seq % 20}`, messageId,
    traits: { plan: 'pro', seq }, properties: { client, seq, i, total: 19.99 },
  }));
  return { messageIds, body: JSON.stringify({ batch }) };
}

function post(server: ServerProcess, writeKey: string, body: string): Promise<Response> {
  return fetch(`${server.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(15_000),
  });
}

/** The store read around the server: its messageIds in log order and SQLite's own integrity check. */
function inspect(dataDir: string): { messageIds: string[]; integrity: string; processedUpTo: number; end: number; sources: string[] } {
  const sqlite = new BetterSqlite3(join(dataDir, 'rapport.db'), { fileMustExist: true });
  try {
    const messageIds = (sqlite.prepare('select message_id from events order by "offset"').all() as { message_id: string }[]).map((r) => r.message_id);
    const integrity = (sqlite.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    const end = Number((sqlite.prepare('select coalesce(max("offset"), 0) as n from events').get() as { n: number }).n);
    const consumer = sqlite.prepare(`select min("offset") as "offset" from log_consumers where name like 'pipeline/%'`).get() as { offset: number | null } | undefined;
    const sources = (sqlite.prepare('select name from sources').all() as { name: string }[]).map((r) => r.name);
    return { messageIds, integrity, processedUpTo: Number(consumer?.offset ?? 0), end, sources };
  } finally {
    sqlite.close();
  }
}

/** Hashes of every file of the store, to prove a refused start wrote nothing. */
function filesOf(dataDir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dataDir).map((f) => [f, createHash('sha256').update(readFileSync(join(dataDir, f))).digest('hex')]));
}

describe.skipIf(!AVAILABLE)('the embedded store on a full or read-only file system', () => {
  let fs: SmallFileSystem | undefined;
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    fs?.unmount();
    fs = undefined;
  });

  it('refuses to start on a read-only data directory with a clear error and a non-zero exit, and leaves the store as it was', async () => {
    fs = smallFileSystem(16);
    const { writeKey } = await setupWithCli(fs.store);
    const port = await freePort();
    server = await startServerProcess(fs.store, port);
    const batch = makeBatch('before-ro', 0, 0);
    expect((await post(server, writeKey, batch.body)).status).toBe(200);
    await server.stop();
    const before = filesOf(fs.store.dataDir);

    fs.remount('ro');
    server = await startServerProcess(fs.store, port, { waitUntilHealthy: false });
    const [code] = await once(server.child, 'exit');
    expect(code).not.toBe(0);
    expect(server.output()).toMatch(/read-only/i);
    expect(server.output()).toContain(fs.store.dataDir);
    expect(filesOf(fs.store.dataDir)).toEqual(before);

    fs.remount('rw');
    server = await startServerProcess(fs.store, port);
    expect((await post(server, writeKey, makeBatch('after-ro', 0, 0).body)).status).toBe(200);
    await server.stop();
    const store = inspect(fs.store.dataDir);
    expect(store.integrity).toBe('ok');
    expect(store.messageIds.filter((id) => id.startsWith('before-ro'))).toEqual(batch.messageIds);
  }, 60_000);

  it('refuses to start on a read-only file system where the data directory does not exist yet', async () => {
    fs = smallFileSystem(4);
    fs.remount('ro');
    server = await startServerProcess({ ...fs.store, dataDir: join(fs.store.dataDir, 'new') }, await freePort(), { waitUntilHealthy: false });
    const [code] = await once(server.child, 'exit');
    expect(code).not.toBe(0);
    expect(server.output()).toMatch(/read-only/i);
  }, 30_000);

  it('fails a transaction that runs out of disk with the disk\'s error, not with a failed rollback', async () => {
    fs = smallFileSystem(4);
    const database = openDatabase({ dataDir: fs.store.dataDir });
    try {
      await sql`create table filler (x blob)`.execute(database.db);
      fs.fill();
      const failure = await database.db.transaction().execute(async (tx) => {
        for (let i = 0; i < 16; i++) await sql`insert into filler values (randomblob(262144))`.execute(tx);
      }).catch((error: unknown) => error);
      expect((failure as { code?: string }).code).toBe('SQLITE_FULL');
      expect(isStorageFault(failure)).toBe(true);
      fs.free();
      await sql`insert into filler values (randomblob(1024))`.execute(database.db);
    } finally {
      await database.close();
    }
  }, 30_000);

  it('answers 503 with Retry-After while the disk is full, never 200 for an event it did not store, and takes every event once space returns', async () => {
    fs = smallFileSystem(64);
    const { writeKey, apiKey } = await setupWithCli(fs.store);
    server = await startServerProcess(fs.store, await freePort());

    const acked = new Set<string>();
    const statuses = new Map<number, number>();
    let full = false;
    const whileFull = new Map<number, number>();
    let retryAfterMissing = 0;
    let stopping = false;
    // Once stopping, a client retries for 20 s at most: past that the store has not recovered.
    let giveUpAt = Infinity;
    const stuck: string[] = [];
    // Clients send batch after batch; a batch not acknowledged is sent again, after Retry-After, as SDKs do.
    const load = Array.from({ length: CLIENTS }, async (_, client) => {
      for (let seq = 0; !stopping; seq++) {
        // About ten batches a second per client, so the disk fills when the test fills it, not from the load itself.
        await new Promise((resolve) => setTimeout(resolve, 100));
        const batch = makeBatch('full', client, seq);
        for (;;) {
          const res = await post(server!, writeKey, batch.body);
          const answer = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (full) whileFull.set(res.status, (whileFull.get(res.status) ?? 0) + 1);
          if (res.status === 200) {
            for (const id of batch.messageIds) acked.add(id);
            break;
          }
          if (res.status === 503 && !res.headers.get('retry-after')) retryAfterMissing++;
          if (stopping && Date.now() > giveUpAt) {
            stuck.push(`client ${client}: ${res.status} ${answer.slice(0, 200)}`);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    });

    let ackedBeforeFull = 0;
    let management: { status: number; retryAfter: string | null; body: string } | undefined;
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      ackedBeforeFull = acked.size;
      full = true;
      fs.fill();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // A management write on the full disk is refused the same way.
      const res = await fetch(`${server.url}/api/v1/sources`, {
        method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Full disk', type: 'server' }),
        signal: AbortSignal.timeout(10_000),
      });
      management = { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    } finally {
      full = false;
      fs.free();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      giveUpAt = Date.now() + 20_000;
      stopping = true;
      await Promise.all(load);
    }
    expect(stuck, `${JSON.stringify([...statuses])}\n${execFileSync('du', ['-a', fs.store.dataDir]).toString()}`).toEqual([]);
    // A small write can still fit in WAL pages already allocated; then it is stored, and must be there afterwards.
    expect([201, 503], management?.body).toContain(management?.status);
    if (management?.status === 503) expect(management.retryAfter).toBeTruthy();

    // Not vacuous: events were taken before the disk filled, the full disk refused some, and recovery took more.
    expect(ackedBeforeFull).toBeGreaterThan(0);
    expect(whileFull.get(503) ?? 0, `answers while full: ${JSON.stringify([...whileFull])}`).toBeGreaterThan(0);
    expect([...statuses.keys()].filter((s) => s !== 200 && s !== 503), JSON.stringify([...statuses])).toEqual([]);
    expect(retryAfterMissing).toBe(0);
    expect(acked.size).toBeGreaterThan(ackedBeforeFull + EVENTS_PER_BATCH);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    // The pipeline, stalled while the disk was full, catches up.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      if (/^rapport_pipeline_lag_events 0$/m.test(text)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await server.stop();
    server = undefined;

    const store = inspect(fs.store.dataDir);
    expect(store.integrity).toBe('ok');
    expect(store.sources.includes('Full disk')).toBe(management?.status === 201);
    expect(new Set(store.messageIds).size).toBe(store.messageIds.length);
    const stored = new Set(store.messageIds);
    const missing = [...acked].filter((id) => !stored.has(id));
    expect(missing, `${missing.length} of ${acked.size} acknowledged events are missing`).toEqual([]);
    expect(store.processedUpTo).toBe(store.end);
    process.stdout.write(`full disk: management write ${management?.status}; answers while full ${JSON.stringify(Object.fromEntries(whileFull))}, all answers ${JSON.stringify(Object.fromEntries(statuses))}; `
      + `${acked.size} events acknowledged (${ackedBeforeFull} before the disk filled), ${store.messageIds.length} in the log, missing 0, integrity ${store.integrity}\n`);
  }, 90_000);
});
