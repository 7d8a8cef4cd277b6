import { parse } from 'csv-parse/sync';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRapport } from '../../src/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { setupWithCli } from '../support/cli.js';
import { ENGINES } from '../support/engines.js';
import { clientOf, startServer, type TestServer } from '../support/server.js';

interface Entry {
  id: number;
  seq: number;
  at: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string | null } | null;
  change: any;
  changeDigest: string | null;
  changeErasedAt: string | null;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  status: number | null;
  prevHash: string;
  hash: string;
}

describe.each(ENGINES)('the audit log on $name', (engine) => {
  let server: TestServer;
  let other: SetupResult;
  let ownerKeyId: string;
  const db = () => server.rapport.database.db as Kysely<any>;

  const call = (method: string, path: string, body?: unknown, apiKey?: string | null, headers?: Record<string, string>) => server.call(method, `/api/v1${path}`, body, apiKey, headers);
  const ok = async (answer: Promise<{ status: number; body: any }>, status = 200) => {
    const a = await answer;
    expect(a.status, JSON.stringify(a.body)).toBe(status);
    return a.body;
  };
  /** Every entry of the workspace, newest first, through the API's pages. */
  const allEntries = async (query = '', apiKey = server.setup.apiKey): Promise<Entry[]> => {
    const out: Entry[] = [];
    for (let cursor: string | null = ''; cursor !== null;) {
      const page = await ok(call('GET', `/audit?limit=1000${query}${cursor ? `&cursor=${cursor}` : ''}`, undefined, apiKey));
      out.push(...page.data);
      cursor = page.nextCursor;
    }
    return out;
  };
  const rawRows = async () => db().selectFrom('audit_log').selectAll().orderBy('id').execute();
  /** Runs a statement the store's triggers would refuse, as someone with direct access to the database could. */
  const tamper = async (statement: (db: Kysely<any>) => Promise<unknown>) => {
    if (engine.name === 'postgres') {
      await sql`alter table audit_log disable trigger user`.execute(db());
      try {
        await statement(db());
      } finally {
        await sql`alter table audit_log enable trigger user`.execute(db());
      }
      return;
    }
    const triggers = (await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'trigger' and tbl_name = 'audit_log'`.execute(db())).rows;
    for (const t of triggers) await sql.raw(`drop trigger ${t.name}`).execute(db());
    try {
      await statement(db());
    } finally {
      for (const t of triggers) await sql.raw(t.sql).execute(db());
    }
  };

  beforeAll(async () => {
    server = await startServer(engine);
    other = await setupWorkspace({ access: server.rapport.core.access.service, collect: server.rapport.core.collect.service }, { workspace: 'Globex', email: 'owner@globex.test', password: 'correct horse battery staple' });
    ownerKeyId = (await ok(call('GET', '/api-keys'))).data[0].id;
  });
  afterAll(() => server?.close());

  it("records an API key's first use, with where it came from, and not its later uses", async () => {
    await ok(call('GET', '/crm/deals'));
    const uses = await allEntries('&action=api_key.use');
    expect(uses).toEqual([
      expect.objectContaining({
        actor: { type: 'api_key', id: ownerKeyId }, action: 'api_key.use', target: { type: 'api_key', id: ownerKeyId },
        change: { request: 'GET /api/v1/api-keys' }, ip: '127.0.0.1', requestId: expect.any(String), seq: 1,
      }),
    ]);
  });

  it('names every answer with its request id: the one the client sent, else a new one', async () => {
    const sent = await server.api('/api/v1/crm/deals', { headers: { 'x-request-id': 'trace-42' } });
    expect(sent.headers.get('x-request-id')).toBe('trace-42');
    const fresh = await fetch(`${server.url}/healthz`);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // An id that is not a plain token is replaced, not echoed.
    const odd = await server.api('/api/v1/crm/deals', { headers: { 'x-request-id': 'a b <script>' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("records a deal's creation, change and deletion once each, with the actor, the target and the change", async () => {
    const before = (await allEntries()).length;
    const deal = await ok(call('POST', '/crm/deals', { name: 'Acme renewal', amount: 1200, currency: 'EUR' }, undefined, { 'user-agent': 'audit-test/1', 'x-request-id': 'req-create-1' }), 201);
    await ok(call('PATCH', `/crm/deals/${deal.id}`, { name: 'Acme renewal (2027)' }));
    await ok(call('DELETE', `/crm/deals/${deal.id}`), 204);
    const entries = await allEntries();
    expect(entries).toHaveLength(before + 3);
    const actor = { type: 'api_key', id: ownerKeyId };
    const target = { type: 'crm.deal', id: deal.id };
    expect(entries.slice(0, 3)).toEqual([
      expect.objectContaining({ actor, action: 'crm.deal.delete', target, change: null, status: 204, ip: '127.0.0.1' }),
      expect.objectContaining({ actor, action: 'crm.deal.update', target, change: { name: 'Acme renewal (2027)' }, status: 200 }),
      expect.objectContaining({ actor, action: 'crm.deal.create', target, change: { name: 'Acme renewal', amount: 1200, currency: 'EUR' }, status: 201, userAgent: 'audit-test/1', requestId: 'req-create-1' }),
    ]);
    expect(entries[0].seq).toBe(entries[1].seq + 1);
    expect(entries[0].prevHash).toBe(entries[1].hash);
  });

  it("records an API key's creation with the new key's id, and never its secret", async () => {
    const created = await ok(call('POST', '/api-keys', { name: 'CI', role: 'admin' }), 201);
    expect(created.key).toMatch(/^rk_/);
    const [entry] = await allEntries('&action=api_key.create');
    expect(entry).toMatchObject({ action: 'api_key.create', target: { type: 'api_key', id: created.apiKey.id }, change: { name: 'CI', role: 'admin' }, status: 201 });
    // Its first use is recorded under its own id; the secret is nowhere in the log, nor in an export.
    await ok(call('GET', '/crm/deals', undefined, created.key));
    expect((await allEntries('&action=api_key.use'))[0]).toMatchObject({ actor: { type: 'api_key', id: created.apiKey.id } });
    expect(JSON.stringify(await rawRows())).not.toContain(created.key);
    expect(JSON.stringify(await rawRows())).not.toContain(created.key.slice(10));
    expect(await (await server.api('/api/v1/audit/export?format=csv')).text()).not.toContain(created.key);
  });

  it('records secrets in a change as redacted', async () => {
    await ok(call('POST', '/destinations', { name: 'Hook', type: 'webhook', settings: { url: 'https://example.com/hook', secret: 'whsec_do_not_keep', headers: { 'X-Token': 'tok_do_not_keep' } } }), 201);
    const [entry] = await allEntries('&action=destination.create');
    expect(entry.change.settings).toEqual({ url: 'https://example.com/hook', secret: '[redacted]', headers: { 'X-Token': '[redacted]' } });
    const stored = JSON.stringify(await rawRows());
    expect(stored).not.toContain('whsec_do_not_keep');
    expect(stored).not.toContain('tok_do_not_keep');
  });

  it('records failed writes with their status: refused by validation, by the service, or for lack of a record', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    await ok(call('PATCH', `/crm/deals/${missing}`, { name: 'Ghost' }), 404);
    await ok(call('POST', '/crm/deals', { name: 'Bad', amount: 'lots' }), 400);
    const [invalid, notFound] = await allEntries('&action=crm.deal');
    expect(notFound).toMatchObject({ action: 'crm.deal.update', target: { type: 'crm.deal', id: missing }, change: { name: 'Ghost' }, status: 404 });
    expect(invalid).toMatchObject({ action: 'crm.deal.create', target: { type: 'crm.deal', id: null }, change: { name: 'Bad', amount: 'lots' }, status: 400 });
  });

  it('records nothing for reads, for calls without a valid key, or for the collection API', async () => {
    const before = await rawRows();
    const deal = await ok(call('POST', '/crm/deals', { name: 'Read me' }), 201);
    const afterWrite = await rawRows();
    expect(afterWrite).toHaveLength(before.length + 1);
    await ok(call('GET', `/crm/deals/${deal.id}`));
    await ok(call('GET', '/crm/deals'));
    await ok(call('GET', '/audit'));
    await ok(call('GET', '/audit/verify'));
    await ok(call('POST', '/audiences/preview', { condition: { trait: 'plan', op: 'eq', value: 'pro' } }));
    await ok(call('POST', '/crm/deals', { name: 'No key' }, null), 401);
    await ok(call('POST', '/crm/deals', { name: 'Wrong key' }, 'rk_not_a_key'), 401);
    const track = await fetch(`${server.url}/v1/track`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${server.setup.writeKey}:`).toString('base64')}`, 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'u1', event: 'Signed Up' }) });
    expect(track.status).toBe(200);
    const batch = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch: [{ type: 'identify', userId: 'u2', traits: { email: 'u2@example.com' } }] }) });
    expect(batch.status).toBe(200);
    expect(await rawRows()).toEqual(afterWrite);
  });

  it('filters by actor, action, target and time, and pages newest first through exactly the matching entries', async () => {
    const second = await ok(call('POST', '/api-keys', { name: 'Filters', role: 'admin' }), 201);
    const deals: string[] = [];
    for (let i = 0; i < 5; i++) deals.push((await ok(call('POST', '/crm/deals', { name: `Filter ${i}` }, i % 2 ? second.key : undefined), 201)).id);
    await ok(call('PATCH', `/crm/deals/${deals[2]}`, { name: 'Filter 2 renamed' }, second.key));
    const all = await allEntries();
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: all.length }, (_, i) => all.length - i));

    const bySecond = await allEntries(`&actorId=${second.apiKey.id}`);
    expect(bySecond.map((e) => e.action)).toEqual(['crm.deal.update', 'crm.deal.create', 'crm.deal.create', 'api_key.use']);
    expect(await allEntries(`&actorType=api_key&actorId=${second.apiKey.id}`)).toEqual(bySecond);
    expect(await allEntries('&actorType=user')).toEqual([]);
    expect((await allEntries(`&targetType=crm.deal&targetId=${deals[2]}`)).map((e) => e.action)).toEqual(['crm.deal.update', 'crm.deal.create']);
    expect(await allEntries('&action=crm.deal.create')).toEqual(all.filter((e) => e.action === 'crm.deal.create'));
    expect(await allEntries('&action=crm')).toEqual(all.filter((e) => e.action.startsWith('crm.')));
    expect(await allEntries('&action=crm.de')).toEqual([]);
    expect(await allEntries('&action=api_key')).toEqual(all.filter((e) => e.action.startsWith('api_key.')));
    // `_` is not a wildcard: api_key is not apixkey.
    expect(await allEntries('&action=api%25key')).toEqual([]);

    const from = all[6].at;
    const to = all[1].at;
    const inRange = await allEntries(`&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    expect(inRange).toEqual(all.filter((e) => e.at >= from && e.at < to));
    expect(inRange.length).toBeGreaterThan(0);

    const pages: number[][] = [];
    for (let cursor: string | null = ''; cursor !== null;) {
      const page = await ok(call('GET', `/audit?action=crm.deal&limit=2${cursor ? `&cursor=${cursor}` : ''}`));
      pages.push(page.data.map((e: Entry) => e.seq));
      cursor = page.nextCursor;
    }
    const expected = all.filter((e) => e.action.startsWith('crm.deal.')).map((e) => e.seq);
    expect(pages.flat()).toEqual(expected);
    expect(pages.slice(0, -1).every((p) => p.length === 2)).toBe(true);
    expect((await call('GET', '/audit?cursor=abc')).status).toBe(400);
  });

  it("shows a workspace only its own entries, and refuses the log to calls without a key", async () => {
    await ok(call('POST', '/crm/deals', { name: 'Globex deal' }, other.apiKey), 201);
    const theirs = await allEntries('', other.apiKey);
    expect(theirs.map((e) => e.action)).toEqual(['crm.deal.create', 'api_key.use']);
    expect(theirs.map((e) => e.seq)).toEqual([2, 1]);
    expect((await allEntries()).some((e) => e.change?.name === 'Globex deal')).toBe(false);
    expect((await call('GET', '/audit', undefined, null)).status).toBe(401);
    expect((await call('GET', '/audit/verify', undefined, null)).status).toBe(401);
  });

  it('exports the filtered entries in chain order as JSON lines and as CSV, with their hashes, and records the export', async () => {
    const exportsBefore = (await allEntries('&action=audit.export')).length;
    const all = (await allEntries()).reverse();
    const jsonl = await server.api('/api/v1/audit/export?format=jsonl');
    expect(jsonl.status).toBe(200);
    expect(jsonl.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await jsonl.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Entry);
    expect(lines).toEqual(all);

    const deals = all.filter((e) => e.action.startsWith('crm.deal.'));
    const csv = await server.api('/api/v1/audit/export?format=csv&action=crm.deal');
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const rows = parse(await csv.text(), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => Number(r.seq))).toEqual(deals.map((e) => e.seq));
    expect(rows.map((r) => r.hash)).toEqual(deals.map((e) => e.hash));
    expect(rows.map((r) => (r.change ? JSON.parse(r.change) : null))).toEqual(deals.map((e) => e.change));
    expect(Object.keys(rows[0])).toEqual(['id', 'seq', 'at', 'actorType', 'actorId', 'action', 'targetType', 'targetId', 'status', 'requestId', 'ip', 'userAgent', 'change', 'changeDigest', 'changeErasedAt', 'prevHash', 'hash']);

    const exports = await allEntries('&action=audit.export');
    expect(exports).toHaveLength(exportsBefore + 2);
    expect(exports.slice(0, 2)).toEqual([
      expect.objectContaining({ status: 200, change: { format: 'csv', action: 'crm.deal' }, target: { type: 'audit', id: null } }),
      expect.objectContaining({ status: 200, change: { format: 'jsonl' }, target: { type: 'audit', id: null } }),
    ]);
    expect((await call('GET', '/audit/export?format=xml')).status).toBe(400);
  });

  it('verifies an untouched chain', async () => {
    const entries = await allEntries();
    expect(await ok(call('GET', '/audit/verify'))).toEqual({ ok: true, entries: entries.length, erased: 0, head: { seq: entries[0].seq, hash: entries[0].hash } });
  });

  it('refuses, in the store itself, to change or delete an entry', async () => {
    await expect(db().updateTable('audit_log').set({ action: 'crm.deal.read' }).where('workspace_id', '=', server.setup.workspaceId).execute()).rejects.toThrow(/append-only/);
    await expect(db().updateTable('audit_log').set({ change: '{"name":"x"}' }).where('workspace_id', '=', server.setup.workspaceId).execute()).rejects.toThrow(/append-only/);
    await expect(db().deleteFrom('audit_log').where('workspace_id', '=', server.setup.workspaceId).execute()).rejects.toThrow(/append-only/);
    expect((await ok(call('GET', '/audit/verify'))).ok).toBe(true);
  });

  describe('after tampering with the database directly', () => {
    // Each case tampers with a workspace of its own, so the others' chains stay sound.
    const tampered = async (name: string) => {
      const ws = await setupWorkspace({ access: server.rapport.core.access.service, collect: server.rapport.core.collect.service }, { workspace: name, email: `owner@${name.toLowerCase()}.test`, password: 'correct horse battery staple' });
      for (let i = 0; i < 5; i++) await ok(call('POST', '/crm/deals', { name: `${name} ${i}` }, ws.apiKey), 201);
      const entries = (await allEntries('', ws.apiKey)).reverse();
      expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await ok(call('GET', '/audit/verify', undefined, ws.apiKey))).ok).toBe(true);
      return { ws, entries, verify: () => ok(call('GET', '/audit/verify', undefined, ws.apiKey)) };
    };

    it('reports an entry whose change was altered', async () => {
      const { entries, verify } = await tampered('Altered');
      await tamper((d) => d.updateTable('audit_log').set({ change: '{"name":"Something else"}' }).where('id', '=', entries[3].id).execute());
      expect(await verify()).toEqual({ ok: false, entries: 3, broken: { id: entries[3].id, seq: 4, reason: 'change_altered', message: expect.any(String) } });
    });

    it('reports an entry whose change and digest were both rewritten', async () => {
      const { entries, verify } = await tampered('Rewritten');
      const { createHash } = await import('node:crypto');
      const change = '{"name":"Something else"}';
      await tamper((d) => d.updateTable('audit_log').set({ change, change_digest: createHash('sha256').update(change).digest('hex') }).where('id', '=', entries[2].id).execute());
      expect((await verify()).broken).toMatchObject({ id: entries[2].id, seq: 3, reason: 'hash_mismatch' });
    });

    it('reports the entry after one deleted from the middle', async () => {
      const { entries, verify } = await tampered('Deleted');
      await tamper((d) => d.deleteFrom('audit_log').where('id', '=', entries[2].id).execute());
      expect((await verify()).broken).toMatchObject({ id: entries[3].id, seq: 4, reason: 'missing_entries' });
    });

    it('reports a deletion even when the later entries were renumbered to hide the gap', async () => {
      const { ws, entries, verify } = await tampered('Renumbered');
      await tamper(async (d) => {
        await d.deleteFrom('audit_log').where('id', '=', entries[2].id).execute();
        for (const e of entries.slice(3)) await d.updateTable('audit_log').set({ seq: e.seq - 1 }).where('id', '=', e.id).execute();
        await d.updateTable('audit_heads').set({ seq: 5 }).where('workspace_id', '=', ws.workspaceId).execute();
      });
      expect((await verify()).broken).toMatchObject({ id: entries[3].id, seq: 3, reason: 'prev_hash_mismatch' });
    });

    it('reports entries cut from the end', async () => {
      const { entries, verify } = await tampered('Truncated');
      await tamper((d) => d.deleteFrom('audit_log').where('id', '=', entries[5].id).execute());
      expect((await verify()).broken).toMatchObject({ id: null, seq: 6, reason: 'missing_entries' });
    });

    it('leaves the other workspaces sound', async () => {
      expect((await ok(call('GET', '/audit/verify'))).ok).toBe(true);
      expect((await ok(call('GET', '/audit/verify', undefined, other.apiKey))).ok).toBe(true);
    });
  });

  it("erases a person's details from recorded changes on request, and the chain still verifies", async () => {
    await ok(call('POST', '/crm/deals', { name: 'Deal with Erin', custom: {}, ownerId: 'erin@example.com' }), 201);
    const audit = server.rapport.core.audit;
    expect(await audit.service.eraseChanges(db(), server.setup.workspaceId, { mentioning: ['ERIN@example.com'] })).toBe(1);
    expect(JSON.stringify(await rawRows())).not.toMatch(/erin@example\.com/i);
    const [entry] = await allEntries('&action=crm.deal.create');
    expect(entry).toMatchObject({ change: null, changeErasedAt: expect.any(String), changeDigest: expect.any(String) });
    expect(await ok(call('GET', '/audit/verify'))).toMatchObject({ ok: true, erased: 1 });
    // An erasure without a record of it is tampering.
    await tamper((d) => d.updateTable('audit_log').set({ change_erased_at: null }).where('id', '=', entry.id).execute());
    expect((await ok(call('GET', '/audit/verify'))).broken).toMatchObject({ id: entry.id, reason: 'change_missing' });
    await tamper((d) => d.updateTable('audit_log').set({ change_erased_at: entry.changeErasedAt }).where('id', '=', entry.id).execute());
    expect((await ok(call('GET', '/audit/verify'))).ok).toBe(true);
  });

  it('records from code, in the caller\'s transaction: kept when it commits, gone when it rolls back', async () => {
    const { record } = server.rapport.core.audit;
    await record(db(), { workspaceId: server.setup.workspaceId, actor: { type: 'user', id: 'u-1' }, action: 'auth.login', status: 200, ip: '10.0.0.7', change: { email: 'owner@acme.test', password: 'never stored' } });
    await expect(db().transaction().execute(async (tx) => {
      await record(tx, { workspaceId: server.setup.workspaceId, actor: { type: 'system', id: 'privacy' }, action: 'privacy.delete', target: { type: 'profile', id: 'p-1' } });
      throw new Error('the deletion failed');
    })).rejects.toThrow('the deletion failed');
    const [login] = await allEntries('&actorType=user');
    expect(login).toMatchObject({ action: 'auth.login', actor: { type: 'user', id: 'u-1' }, status: 200, ip: '10.0.0.7', change: { email: 'owner@acme.test', password: '[redacted]' } });
    expect(await allEntries('&action=privacy')).toEqual([]);
    expect((await ok(call('GET', '/audit/verify'))).ok).toBe(true);
  });

  it('keeps one unbroken chain when many writes arrive at once', async () => {
    const before = (await allEntries()).length;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => call('POST', '/crm/deals', { name: `Parallel ${i}` })));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    const { record } = server.rapport.core.audit;
    await Promise.all(Array.from({ length: 50 }, (_, i) => record(db(), { workspaceId: server.setup.workspaceId, actor: { type: 'system', id: 'test' }, action: 'test.parallel', target: { type: 'test', id: String(i) } })));
    const entries = await allEntries();
    expect(entries).toHaveLength(before + 100);
    expect(new Set(entries.slice(0, 100).filter((e) => e.action === 'crm.deal.create').map((e) => e.target!.id))).toEqual(new Set(answers.map((a) => a.body.id)));
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: entries.length }, (_, i) => entries.length - i));
    expect(await ok(call('GET', '/audit/verify'))).toMatchObject({ ok: true, entries: entries.length });
  });

  it('answers a write even when its audit entry cannot be written, and says so loudly', async () => {
    const failures = async () => Number(/^rapport_audit_write_failures_total (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
    expect(await failures()).toBe(0);
    await sql`alter table audit_heads rename to audit_heads_away`.execute(db());
    try {
      const deal = await ok(call('POST', '/crm/deals', { name: 'Unaudited' }), 201);
      expect((await ok(call('GET', `/crm/deals/${deal.id}`))).name).toBe('Unaudited');
    } finally {
      await sql`alter table audit_heads_away rename to audit_heads`.execute(db());
    }
    expect(await failures()).toBe(1);
  });

  it('writes entries that arrive together in one group, and an entry that cannot be written costs only itself', async () => {
    const failures = async () => Number(/^rapport_audit_write_failures_total (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
    const before = await failures();
    const { recordRequest } = server.rapport.core.audit;
    const entry = (i: number) => ({ workspaceId: other.workspaceId, actor: { type: 'system', id: 'test' }, action: 'test.group', target: { type: 'test', id: String(i) } });
    // An actor without an id breaks the NOT NULL of its row, and so the group's transaction.
    await Promise.all([recordRequest(entry(1)), recordRequest({ ...entry(2), actor: { type: 'system', id: undefined as unknown as string } }), recordRequest(entry(3))]);
    expect((await allEntries('&action=test.group', other.apiKey)).map((e) => e.target!.id)).toEqual(['3', '1']);
    expect(await failures()).toBe(before + 1);
    expect((await ok(call('GET', '/audit/verify', undefined, other.apiKey))).ok).toBe(true);
  });

  it('lists the audit routes in the OpenAPI document, each behind an API key', async () => {
    const doc = (await (await fetch(`${server.url}/api/docs/json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    for (const path of ['/api/v1/audit', '/api/v1/audit/export', '/api/v1/audit/verify']) expect(doc.paths[path].get.security, path).toEqual([{ apiKey: [] }, { session: [] }]);
  });
});

const postgres = ENGINES.find((e) => e.name === 'postgres');

describe.skipIf(!postgres)('the audit log of two nodes on one PostgreSQL', () => {
  it('keeps one chain when both take writes at once', async () => {
    const server = await startServer(postgres!);
    const { createRapport } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/platform/config.js');
    const second = await createRapport({ ...loadConfig({ RAPPORT_DATA_DIR: server.store.dataDir, DATABASE_URL: server.store.databaseUrl!, LOG_LEVEL: 'warn' }), role: 'api' });
    try {
      await second.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = second.app.server.address() as { port: number };
      const nodes = [server, clientOf(`http://127.0.0.1:${port}`, server.setup)];
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => nodes[i % 2].call('POST', '/api/v1/crm/deals', { name: `Node ${i % 2} deal ${i}` })));
      expect(answers.map((a) => a.status)).toEqual(Array(60).fill(201));
      const verify = await server.call('GET', '/api/v1/audit/verify');
      // 60 creations, and the key's first use on each node.
      expect(verify.body).toMatchObject({ ok: true, entries: 62 });
    } finally {
      await second.close();
      await server.close();
    }
  });
});

describe.each(ENGINES)('`rapport setup` in the audit log on $name', (engine) => {
  it('records the setup and the API key it minted, as the CLI, each time it runs', async () => {
    const store = await engine.create();
    try {
      const first = await setupWithCli(store);
      const again = await setupWithCli(store);
      const config = loadConfig({ RAPPORT_DATA_DIR: store.dataDir, ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}), LOG_LEVEL: 'warn' });
      const core = await openRapport(config);
      try {
        const { entries } = await core.audit.service.list(core.database.db, first.workspaceId, {}, 10);
        const seen = entries.map((e) => [e.action, e.actor_type, e.actor_id]).reverse();
        expect(seen).toEqual([
          ['workspace.setup', 'system', 'cli:setup'], ['api_key.create', 'system', 'cli:setup'],
          ['workspace.setup', 'system', 'cli:setup'], ['api_key.create', 'system', 'cli:setup'],
        ]);
        const setups = entries.filter((e) => e.action === 'workspace.setup').reverse().map((e) => JSON.parse(e.change!));
        expect(setups[0]).toMatchObject({ workspaceCreated: true, sourceId: first.sourceId, sourceCreated: true });
        expect(setups[1]).toMatchObject({ workspaceCreated: false, sourceId: again.sourceId, sourceCreated: false });
        // The key's secret is never in the log, only its id.
        expect(JSON.stringify(entries)).not.toContain(first.apiKey);
        expect((await core.audit.service.verify(core.database.db, first.workspaceId)).ok).toBe(true);
      } finally {
        await core.database.close();
      }
    } finally {
      await store.drop();
    }
  }, 120_000);
});
