import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { acceptedMessages, startReceiver, type Receiver } from '../support/receiver.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

/** Everything that names the person: identifiers and trait values, as they were sent and as stored. */
const PERSON = {
  userId: 'user-zq81', anonymousId: 'anon-zq81', email: 'zoe.quarry81@example.org', phone: '+1 415 555 0181',
  name: 'Zoe Quarrington', firstName: 'Zoe', lastName: 'Quarrington', colour: 'ultramarine-zq81', device: 'device-zq81',
};
const NEEDLES = [PERSON.userId, PERSON.anonymousId, 'anon2-zq81', PERSON.email, '4155550181', 'quarrington', PERSON.colour, PERSON.device];
/** A second person, whose data must all still be there. */
const OTHER = { userId: 'user-kept77', email: 'kept.person77@example.org', colour: 'vermilion-kept77' };

interface Hit { table: string; column: string; value: string }

/**
 * Every table of the store, every column that can hold text (text, JSON, tsvector on PostgreSQL; any
 * string on SQLite, whose columns are typed by value), read whole and searched for the needles, any case.
 */
async function scan(db: Kysely<any>, engine: string, needles: string[]): Promise<{ hits: Hit[]; tables: number; cells: number }> {
  const lower = needles.map((n) => n.toLowerCase());
  const hits: Hit[] = [];
  let cells = 0;
  const look = (table: string, column: string, value: unknown) => {
    if (value === null || value === undefined) return;
    const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('latin1') : typeof value === 'object' ? JSON.stringify(value) : String(value);
    cells++;
    const l = text.toLowerCase();
    for (const n of lower) if (l.includes(n)) hits.push({ table, column, value: text.slice(0, 200) });
  };
  if (engine === 'sqlite') {
    const tables = (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows.map((r) => r.name);
    for (const table of tables) {
      const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db)).rows;
      for (const row of rows) for (const [column, value] of Object.entries(row)) if (typeof value === 'string' || Buffer.isBuffer(value)) look(table, column, value);
    }
    return { hits, tables: tables.length, cells };
  }
  const columns = (await sql<{ table_name: string; column_name: string }>`
    select c.table_name, c.column_name from information_schema.columns c join information_schema.tables t on t.table_name = c.table_name and t.table_schema = c.table_schema
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
      and (c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'tsvector', 'bytea', 'ARRAY') or c.udt_name = 'tsvector')`.execute(db)).rows;
  const tables = new Set(columns.map((c) => c.table_name));
  for (const table of tables) {
    const mine = columns.filter((c) => c.table_name === table).map((c) => c.column_name);
    const rows = (await sql<Record<string, unknown>>`select ${sql.join(mine.map((c) => sql`${sql.ref(c)}::text as ${sql.ref(c)}`))} from ${sql.table(table)}`.execute(db)).rows;
    for (const row of rows) for (const column of mine) look(table, column, row[column]);
  }
  return { hits, tables: tables.size, cells };
}

describe.each(ENGINES)('deleting a person on $name', (engine) => {
  let server: TestServer;
  let receiver: Receiver;
  const call = (method: string, path: string, body?: unknown) => server.call(method, path, body);
  const ok = (r: { status: number; body: any }, status = [200, 201]) => {
    expect(status, JSON.stringify(r.body)).toContain(r.status);
    return r.body;
  };
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };
  const profileIdOf = async (userId: string) => (await call('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${userId}`)}`)).body.data[0]?.id as string | undefined;

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startServer(engine, { delivery: { pollMs: 50 } });
    await server.rapport.core.privacy.worker.stop();
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('leaves no trace of the person\'s identifiers or traits in any table, keeps everyone else\'s, and keeps them out', async () => {
    ok(await call('POST', '/api/v1/privacy/consent-categories', { name: 'Advertising' }));
    ok(await call('POST', '/api/v1/computed-traits', { key: 'orders', name: 'Orders', kind: 'count', event: { name: 'Order Completed' } }));
    ok(await call('POST', '/api/v1/computed-traits', { key: 'colour', name: 'Colour', kind: 'last', event: { name: 'Order Completed' }, property: 'colour' }));
    ok(await call('POST', '/api/v1/audiences', { key: 'buyers', name: 'Buyers', condition: { computed_trait: 'orders', op: 'gte', value: 1 } }));
    ok(await call('POST', '/api/v1/destinations', { name: 'Hook', type: 'webhook', settings: { url: `${receiver.url}/hook`, mode: 'single' }, retry: { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 60_000, minAttempts: 3 } }));
    // A destination that is down: the person's messages wait in its outbox, then in its dead letters.
    ok(await call('POST', '/api/v1/destinations', { name: 'Down', type: 'webhook', enabled: true, settings: { url: 'http://127.0.0.1:9/down' }, retry: { minDelayMs: 10, maxDelayMs: 10, maxAgeMs: 10, minAttempts: 1 } }));

    const consent = { consent: { categoryPreferences: { Advertising: true } } };
    const traits = { email: PERSON.email, name: PERSON.name, firstName: PERSON.firstName, lastName: PERSON.lastName, phone: PERSON.phone, favouriteColour: PERSON.colour };
    await send([
      { type: 'page', anonymousId: PERSON.anonymousId, messageId: 'zq-1', name: 'Pricing', context: { device: { id: PERSON.device } } },
      { type: 'identify', anonymousId: PERSON.anonymousId, userId: PERSON.userId, messageId: 'zq-2', traits, context: consent },
      { type: 'track', userId: PERSON.userId, event: 'Order Completed', messageId: 'zq-3', properties: { total: 30, colour: PERSON.colour, note: `for ${PERSON.name}` } },
      { type: 'identify', userId: OTHER.userId, messageId: 'ok-1', traits: { email: OTHER.email, favouriteColour: OTHER.colour } },
      { type: 'track', userId: OTHER.userId, event: 'Order Completed', messageId: 'ok-2', properties: { total: 5, colour: OTHER.colour } },
    ]);
    // A second device's visitor, merged into the person when they sign in there.
    await send([{ type: 'page', anonymousId: 'anon2-zq81', messageId: 'zq-m1', name: 'Docs' }]);
    await send([{ type: 'identify', anonymousId: 'anon2-zq81', userId: PERSON.userId, messageId: 'zq-m2' }]);
    // A call refused at collection (a track without a name), kept for the debugger with the person's email.
    const rejected = await fetch(`${server.url}/v1/track`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, userId: PERSON.userId, properties: { email: PERSON.email } }) });
    expect(rejected.status).toBe(200);
    const id = (await profileIdOf(PERSON.userId))!;
    const otherId = (await profileIdOf(OTHER.userId))!;

    // The CRM: the contact's own fields, a note about them alone, a call about them and a deal, a deal, a ticket, a task.
    ok(await call('PATCH', `/api/v1/crm/contacts/${id}`, { lifecycleStage: 'customer', ownerId: 'rep-1' }));
    ok(await call('POST', '/api/v1/crm/activities', { kind: 'note', body: `${PERSON.name} prefers ${PERSON.email}`, contactIds: [id] }));
    const deal = ok(await call('POST', '/api/v1/crm/deals', { name: `${PERSON.name} renewal`, amount: 100, contactIds: [id, otherId] }));
    ok(await call('POST', '/api/v1/crm/activities', { kind: 'call', subject: `Call with ${PERSON.firstName}`, body: `Rang ${PERSON.phone}`, contactIds: [id], dealIds: [deal.id] }));
    ok(await call('POST', '/api/v1/crm/tickets', { subject: `Login trouble for ${PERSON.email}`, description: `${PERSON.firstName} cannot sign in`, contactId: id }));
    ok(await call('POST', '/api/v1/crm/tasks', { title: `Call ${PERSON.name} back`, contactIds: [id] }));
    ok(await call('PUT', `/api/v1/profiles/${id}/consent`, { categoryPreferences: { Advertising: false } }));
    // An earlier export: its document holds everything about them.
    ok(await call('POST', '/api/v1/privacy/requests', { type: 'export', identifier: { type: 'email', value: PERSON.email } }), [202]);
    await server.rapport.core.privacy.drain();
    await send([{ type: 'track', userId: PERSON.userId, event: 'Order Completed', messageId: 'zq-4', properties: { total: 1 } }]);

    // Before: the scan finds them (it can fail), in the tables one would expect.
    const before = await scan(server.rapport.database.db, engine.name, NEEDLES);
    const where = new Set(before.hits.map((h) => h.table));
    for (const table of ['events', 'identifiers', 'profile_traits', 'computed_values', 'crm_activities', 'crm_deals', 'crm_tickets', 'crm_tasks', 'crm_search', 'privacy_exports', 'rejected_events', 'audit_log']) {
      expect(where, table).toContain(table);
    }
    const membersBefore = (await call('GET', '/api/v1/audiences/buyers')).body.size;

    const made = ok(await call('POST', '/api/v1/privacy/requests', { type: 'delete', identifier: { type: 'email', value: PERSON.email.toUpperCase() } }), [202]);
    await server.rapport.core.privacy.drain();
    const done = ok(await call('GET', `/api/v1/privacy/requests/${made.id}`));
    expect(done).toMatchObject({ status: 'completed', type: 'delete', identifier: { type: 'email', value: null }, profileId: id });
    // The person's profile and the one merged into it.
    expect(done.result).toMatchObject({ profileFound: true, profiles: 2, contacts: 1, activities: 1, tasks: 1, exports: 1, destinationsNotified: 2 });
    expect(done.result.identifiers).toBeGreaterThanOrEqual(4);
    // Its own four calls, and what the CRM and audiences logged about them (deal, note, call, ticket, task, audience entered…).
    expect(done.result.events).toBeGreaterThan(4);

    // The destination that takes it hears of the deletion.
    await until('User Deleted', () => acceptedMessages(receiver).find((m) => m.event === 'User Deleted'));
    const told = acceptedMessages(receiver).find((m) => m.event === 'User Deleted')!;
    expect(told).toMatchObject({ type: 'track', userId: PERSON.userId, properties: { privacyRequestId: made.id } });
    // The down destination's message is given up for now: remove the destination, the way an operator would.
    for (const d of (await call('GET', '/api/v1/destinations')).body.data) if (d.name === 'Down') ok(await call('DELETE', `/api/v1/destinations/${d.id}`), [204]);
    await until('the outbox to empty', async () => (await server.rapport.database.db.selectFrom('outbox').select('id').execute()).length === 0);

    // An SDK retrying what it sent before, and the person coming back with a new anonymous id: dropped.
    await send([
      { type: 'identify', anonymousId: PERSON.anonymousId, userId: PERSON.userId, messageId: 'zq-2', traits, context: consent },
      { type: 'page', anonymousId: 'anon-new-zq81', userId: PERSON.userId, messageId: 'zq-5', name: 'Home' },
      { type: 'identify', anonymousId: 'anon-new2', messageId: 'zq-6', traits: { email: PERSON.email } },
    ]);
    expect(await profileIdOf(PERSON.userId)).toBeUndefined();

    const after = await scan(server.rapport.database.db, engine.name, [...NEEDLES, 'anon-new-zq81', 'Zoe', id]);
    expect(after.hits.filter((h) => !(h.value === id && ['audit_log', 'privacy_requests', 'suppressions'].includes(h.table)))).toEqual([]);
    expect(after.tables).toBeGreaterThan(40);

    // Everyone else is untouched: their profile, events, audience, the deal (without the person).
    const kept = await scan(server.rapport.database.db, engine.name, [OTHER.userId, OTHER.email, OTHER.colour]);
    const keptIn = new Set(kept.hits.map((h) => h.table));
    for (const table of ['events', 'identifiers', 'profile_traits', 'computed_values']) expect(keptIn, table).toContain(table);
    expect((await call('GET', `/api/v1/profiles/${otherId}`)).body.traits.favouriteColour).toBe(OTHER.colour);
    expect((await call('GET', '/api/v1/audiences/buyers')).body.size).toBe(membersBefore - 1);
    const dealAfter = ok(await call('GET', `/api/v1/crm/deals/${deal.id}`));
    expect(dealAfter.name).toBe('[erased] renewal');
    expect(dealAfter.contactIds ?? dealAfter.contacts?.map((c: { id: string }) => c.id)).toEqual([otherId]);

    // Entries about others keep their change (a short name is not looked for inside other words).
    const audienceMade = (await call('GET', '/api/v1/audit?action=audience.create')).body.data[0];
    expect(audienceMade.change).toMatchObject({ key: 'buyers', name: 'Buyers' });
    // The audit log still verifies; the entries about the person lost their change, not their place in the chain.
    expect(ok(await call('GET', '/api/v1/audit/verify'))).toMatchObject({ ok: true });
    const actions = (await call('GET', `/api/v1/audit?targetId=${made.id}`)).body.data.map((e: { action: string; change: unknown }) => [e.action, e.change]);
    expect(actions).toEqual([['privacy.delete.complete', expect.objectContaining({ profiles: 2 })], ['privacy.delete', { type: 'delete', identifierType: 'email' }]]);
  });

  it('does not bring the person back when their events are being processed while the deletion runs', async () => {
    const person = { userId: 'user-race55', email: 'race.person55@example.org', colour: 'teal-race55' };
    await send([{ type: 'identify', userId: person.userId, messageId: 'race-0', traits: { email: person.email, favouriteColour: person.colour } }]);
    expect(await profileIdOf(person.userId)).toBeDefined();
    // The pipeline's own loop runs (the server started it) while batches keep arriving and the deletion runs.
    let n = 0;
    let stop = false;
    const stream = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 20 }, () => ({ type: 'track', userId: person.userId, event: 'Clicked', messageId: `race-${++n}`, properties: { colour: person.colour } }));
        const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
        expect(res.status).toBe(200);
      }
    })();
    await until('a few batches', () => n >= 100);
    const made = ok(await call('POST', '/api/v1/privacy/requests', { type: 'delete', identifier: { type: 'user_id', value: person.userId } }), [202]);
    await server.rapport.core.privacy.drain();
    await until('more batches after the deletion', () => n >= 300 || undefined);
    stop = true;
    await stream;
    await server.rapport.core.pipeline.drain();
    expect(ok(await call('GET', `/api/v1/privacy/requests/${made.id}`)).status).toBe('completed');
    expect(await profileIdOf(person.userId)).toBeUndefined();
    // The User Deleted call carries the user id until it is delivered.
    await until('User Deleted', () => acceptedMessages(receiver).some((m) => (m.properties as { privacyRequestId?: string } | undefined)?.privacyRequestId === made.id));
    await until('the outbox to empty', async () => (await server.rapport.database.db.selectFrom('outbox').select('id').execute()).length === 0);
    const after = await scan(server.rapport.database.db, engine.name, [person.userId, person.email, person.colour]);
    expect(after.hits).toEqual([]);
  });
});
