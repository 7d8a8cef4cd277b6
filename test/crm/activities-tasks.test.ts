import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';

interface Answer {
  status: number;
  etag: string | null;
  body: any;
}

describe.each(ENGINES)('activities and tasks on $name', (engine) => {
  let server: TestServer;
  let other: SetupResult;
  const ids = { ada: '', bob: '', acme: '', deal: '', ticket: '', stranger: '', strangerDeal: '' };

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, apiKey = server.setup.apiKey): Promise<Answer> =>
    fetch(`${server.url}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, etag: res.headers.get('etag'), body: await res.text().then((t) => (t ? JSON.parse(t) : null)) }));
  const ok = (answer: Answer, status: number) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const send = async (writeKey: string, batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };
  const profileOf = async (ref: string, apiKey = server.setup.apiKey) => ok(await call('GET', `/profiles?q=${encodeURIComponent(ref)}`, undefined, {}, apiKey), 200).data[0].id as string;
  const activityRows = async () => Number((await server.rapport.database.db.selectFrom('crm_activities').select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirst() as { n: unknown }).n);
  const listOn = async (object: string, id: string, query = '') => ok(await call('GET', `/crm/activities?object=${object}&id=${id}${query}`), 200).data as any[];

  beforeAll(async () => {
    server = await startServer(engine);
    other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another correct horse battery' },
    );
    await send(server.setup.writeKey, [
      { type: 'identify', userId: 'ada', traits: { email: 'ada@example.com' } },
      { type: 'identify', userId: 'bob', traits: { email: 'bob@example.com' } },
      { type: 'group', userId: 'ada', groupId: 'acme-1', traits: { name: 'Acme' } },
    ]);
    await send(other.writeKey, [{ type: 'identify', userId: 'stranger', traits: { email: 'stranger@globex.test' } }]);
    ids.ada = await profileOf('user_id:ada');
    ids.bob = await profileOf('user_id:bob');
    ids.acme = ok(await call('POST', '/crm/companies', { groupId: 'acme-1' }), 200).id;
    ids.deal = ok(await call('POST', '/crm/deals', { name: 'Acme renewal' }), 201).id;
    ids.ticket = ok(await call('POST', '/crm/tickets', { subject: 'Cannot export', contactId: ids.ada }), 201).id;
    ids.stranger = await profileOf('user_id:stranger', other.apiKey);
    ids.strangerDeal = ok(await call('POST', '/crm/deals', { name: 'Globex pilot' }, {}, other.apiKey), 201).id;
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('activities', () => {
    it('keeps the fields each kind of activity has: duration for calls and meetings, direction for calls and emails, outcome for calls', async () => {
      const call1 = ok(await call('POST', '/crm/activities', { kind: 'call', subject: 'Intro', direction: 'inbound', outcome: 'left_voicemail', durationSeconds: 45, contactIds: [ids.bob] }), 201);
      expect(call1).toMatchObject({ kind: 'call', direction: 'inbound', outcome: 'left_voicemail', durationSeconds: 45, contactIds: [ids.bob], companyIds: [], dealIds: [], ticketIds: [], version: 1 });
      const meeting = ok(await call('POST', '/crm/activities', { kind: 'meeting', subject: 'Demo', durationSeconds: 3600, contactIds: [ids.bob] }), 201);
      expect(meeting).toMatchObject({ kind: 'meeting', durationSeconds: 3600, direction: null, outcome: null });
      const email = ok(await call('POST', '/crm/activities', { kind: 'email', subject: 'Pricing', direction: 'outbound', contactIds: [ids.bob] }), 201);
      expect(email).toMatchObject({ kind: 'email', direction: 'outbound', durationSeconds: null, outcome: null });
      const note = ok(await call('POST', '/crm/activities', { kind: 'note', body: 'Prefers email', contactIds: [ids.bob] }), 201);
      expect(note).toMatchObject({ kind: 'note', body: 'Prefers email', durationSeconds: null, direction: null, outcome: null });

      const before = await activityRows();
      for (const wrong of [
        { kind: 'note', durationSeconds: 10 }, { kind: 'email', durationSeconds: 10 },
        { kind: 'note', direction: 'outbound' }, { kind: 'meeting', direction: 'inbound' },
        { kind: 'note', outcome: 'connected' }, { kind: 'email', outcome: 'connected' }, { kind: 'meeting', outcome: 'busy' },
        { kind: 'call', outcome: 'went_great' }, { kind: 'call', direction: 'sideways' }, { kind: 'chat' },
      ]) {
        expect((await call('POST', '/crm/activities', { ...wrong, contactIds: [ids.bob] })).status, JSON.stringify(wrong)).toBe(400);
      }
      // A change cannot give a kind a field it does not have either.
      expect((await call('PATCH', `/crm/activities/${meeting.id}`, { outcome: 'connected' })).status).toBe(400);
      expect((await call('PATCH', `/crm/activities/${note.id}`, { durationSeconds: 60 })).status).toBe(400);
      expect(await activityRows()).toBe(before);
    });

    it('logs an activity on contacts, a company, a deal and a ticket at once, and lists it on each of them', async () => {
      const logged = ok(await call('POST', '/crm/activities', {
        kind: 'meeting', subject: 'Quarterly review', durationSeconds: 1800, contactIds: [ids.ada, ids.bob], companyIds: [ids.acme], dealIds: [ids.deal], ticketIds: [ids.ticket],
      }), 201);
      expect(logged).toMatchObject({ contactIds: [ids.ada, ids.bob], companyIds: [ids.acme], dealIds: [ids.deal], ticketIds: [ids.ticket] });
      for (const [object, id] of [['contact', ids.ada], ['contact', ids.bob], ['company', ids.acme], ['deal', ids.deal], ['ticket', ids.ticket]]) {
        expect((await listOn(object, id)).map((a) => a.id), `${object} ${id}`).toContain(logged.id);
      }
      const read = await call('GET', `/crm/activities/${logged.id}`);
      expect(read.body).toEqual(logged);
      expect(read.etag).toBe(`"${logged.id}.1"`);
    });

    it('refuses a target that does not exist or belongs to another workspace, and writes nothing', async () => {
      const before = await activityRows();
      const adaBefore = await listOn('contact', ids.ada);
      for (const targets of [
        { contactIds: ['no-such-profile'] }, { companyIds: [ids.ada] }, { contactIds: [ids.acme] }, { dealIds: ['no-such-deal'] }, { ticketIds: ['no-such-ticket'] },
        { contactIds: [ids.ada, ids.stranger] }, { contactIds: [ids.ada], dealIds: [ids.strangerDeal] }, {},
      ]) {
        const refused = await call('POST', '/crm/activities', { kind: 'note', body: 'should not exist', ...targets });
        expect(refused.status, JSON.stringify(targets)).toBe(400);
        expect(refused.body.error.code).toBe('validation_error');
      }
      expect(await activityRows()).toBe(before);
      expect(await listOn('contact', ids.ada)).toEqual(adaBefore);
      expect((await logRows(server)).filter((r) => (r.payload.properties as { subject?: unknown } | undefined)?.subject === 'should not exist')).toEqual([]);
      // The other workspace does not see this workspace's activities either.
      const mine = adaBefore[0];
      expect((await call('GET', `/crm/activities/${mine.id}`, undefined, {}, other.apiKey)).status).toBe(404);
      expect((await call('PATCH', `/crm/activities/${mine.id}`, { subject: 'hijacked' }, {}, other.apiKey)).status).toBe(404);
      expect((await call('DELETE', `/crm/activities/${mine.id}`, undefined, {}, other.apiKey)).status).toBe(404);
      expect(ok(await call('GET', `/crm/activities?object=contact&id=${ids.ada}`, undefined, {}, other.apiKey), 200).data).toEqual([]);
    });

    it('lists the activities of a record newest first by when they happened, and pages back with before', async () => {
      const { id: carol } = ok(await call('POST', '/crm/contacts', { email: 'carol@example.com' }), 201);
      const times = ['2026-03-01T10:00:00.000Z', '2026-01-15T09:00:00.000Z', '2026-05-20T16:30:00.000Z', '2026-02-02T08:00:00.000Z', '2026-04-04T12:00:00.000Z'];
      for (const occurredAt of times) ok(await call('POST', '/crm/activities', { kind: 'note', body: occurredAt, occurredAt, contactIds: [carol] }), 201);
      const newestFirst = [...times].sort().reverse();
      expect((await listOn('contact', carol)).map((a) => a.occurredAt)).toEqual(newestFirst);

      const seen: string[] = [];
      let page = await listOn('contact', carol, '&limit=2');
      while (page.length > 0) {
        seen.push(...page.map((a) => a.occurredAt));
        page = await listOn('contact', carol, `&limit=2&before=${encodeURIComponent(page[page.length - 1].occurredAt)}`);
      }
      expect(seen).toEqual(newestFirst);
      expect((await call('GET', `/crm/activities?object=contact&id=${carol}&before=yesterday`)).status).toBe(400);
      expect((await call('GET', `/crm/activities?object=invoice&id=${carol}`)).status).toBe(400);
    });

    it('pages back without losing activities logged at the same moment', async () => {
      const { id: dan } = ok(await call('POST', '/crm/contacts', { email: 'dan@example.com' }), 201);
      const occurredAt = '2026-06-01T12:00:00.000Z';
      const made: string[] = [];
      for (let i = 0; i < 3; i++) made.push(ok(await call('POST', '/crm/activities', { kind: 'note', body: `same moment ${i}`, occurredAt, contactIds: [dan] }), 201).id);
      const first = (await call('GET', `/crm/activities?object=contact&id=${dan}&limit=2`)).body;
      const rest = (await call('GET', `/crm/activities?object=contact&id=${dan}&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`)).body;
      expect([...first.data, ...rest.data].map((a: { id: string }) => a.id).sort()).toEqual([...made].sort());
      expect(rest.nextCursor).toBeNull();
    });

    it('changes an activity with the current ETag, refuses a stale one, and lets one of two concurrent changes win', async () => {
      const created = await call('POST', '/crm/activities', { kind: 'call', subject: 'Discovery', direction: 'outbound', contactIds: [ids.ada] });
      const first = created.body;
      const changed = await call('PATCH', `/crm/activities/${first.id}`, { outcome: 'connected', durationSeconds: 600, companyIds: [ids.acme] }, { 'if-match': created.etag! });
      expect(ok(changed, 200)).toMatchObject({ outcome: 'connected', durationSeconds: 600, direction: 'outbound', contactIds: [ids.ada], companyIds: [ids.acme], version: 2 });
      expect(changed.etag).toBe(`"${first.id}.2"`);
      const stale = await call('PATCH', `/crm/activities/${first.id}`, { subject: 'Overwritten' }, { 'if-match': created.etag! });
      expect(stale.status).toBe(412);
      expect(stale.body.error.code).toBe('precondition_failed');
      expect((await call('GET', `/crm/activities/${first.id}`)).body.subject).toBe('Discovery');

      const racers = await Promise.all(['Alice wins', 'Bob wins'].map((subject) => call('PATCH', `/crm/activities/${first.id}`, { subject }, { 'if-match': changed.etag! })));
      expect(racers.map((r) => r.status).sort()).toEqual([200, 412]);
      const winner = racers.find((r) => r.status === 200)!.body;
      expect((await call('GET', `/crm/activities/${first.id}`)).body).toMatchObject({ subject: winner.subject, version: 3 });
      expect((await call('DELETE', `/crm/activities/${first.id}`, undefined, { 'if-match': changed.etag! })).status).toBe(412);
    });

    it('deletes an activity: gone from its record and its own address', async () => {
      const created = await call('POST', '/crm/activities', { kind: 'note', body: 'Temporary', contactIds: [ids.bob], dealIds: [ids.deal] });
      expect((await call('DELETE', `/crm/activities/${created.body.id}`, undefined, { 'if-match': created.etag! })).status).toBe(204);
      expect((await call('GET', `/crm/activities/${created.body.id}`)).status).toBe(404);
      expect((await listOn('deal', ids.deal)).map((a) => a.id)).not.toContain(created.body.id);
      expect((await listOn('contact', ids.bob)).map((a) => a.id)).not.toContain(created.body.id);
      expect((await call('DELETE', `/crm/activities/${created.body.id}`)).status).toBe(404);
    });

    it('tells the log about every activity, as a "<Kind> Logged" event about its first contact', async () => {
      const logged: Record<string, string> = {};
      for (const [kind, extra] of [['note', {}], ['call', { direction: 'outbound' }], ['email', { direction: 'inbound' }], ['meeting', { durationSeconds: 900 }]] as const) {
        logged[kind] = ok(await call('POST', '/crm/activities', { kind, subject: `log ${kind}`, ...extra, contactIds: [ids.bob, ids.ada], companyIds: [ids.acme] }), 201).id;
      }
      const rows = await logRows(server);
      for (const [kind, event] of [['note', 'Note Logged'], ['call', 'Call Logged'], ['email', 'Email Logged'], ['meeting', 'Meeting Logged']]) {
        const row = rows.find((r) => (r.payload.properties as { activity_id?: string } | undefined)?.activity_id === logged[kind]);
        expect(row, kind).toBeDefined();
        expect(row!.payload).toMatchObject({ type: 'track', event, userId: 'bob', properties: { kind, subject: `log ${kind}` }, context: { rapport: { profileId: ids.bob, collection: 'users' } } });
      }
      // With no contact, the event is about the company.
      const onAcme = ok(await call('POST', '/crm/activities', { kind: 'note', body: 'Account plan', companyIds: [ids.acme] }), 201);
      const row = (await logRows(server)).find((r) => (r.payload.properties as { activity_id?: string } | undefined)?.activity_id === onAcme.id);
      expect(row!.payload).toMatchObject({ event: 'Note Logged', userId: null, context: { groupId: 'acme-1', rapport: { profileId: ids.acme, collection: 'accounts' } } });
    });
  });

  describe('tasks', () => {
    it('creates, changes, completes and reopens a task: completedAt is set, then cleared', async () => {
      const created = await call('POST', '/crm/tasks', { title: '  Send proposal  ', body: 'v2 pricing', dueAt: '2099-06-01T09:00:00.000Z', assigneeId: 'rep-1', priority: 'high', contactIds: [ids.ada], dealIds: [ids.deal] });
      expect(ok(created, 201)).toMatchObject({
        title: 'Send proposal', body: 'v2 pricing', dueAt: '2099-06-01T09:00:00.000Z', assigneeId: 'rep-1', status: 'open', priority: 'high', overdue: false, completedAt: null,
        contactIds: [ids.ada], dealIds: [ids.deal], version: 1,
      });
      const changed = await call('PATCH', `/crm/tasks/${created.body.id}`, { status: 'in_progress', assigneeId: 'rep-2', dueAt: null }, { 'if-match': created.etag! });
      expect(ok(changed, 200)).toMatchObject({ status: 'in_progress', assigneeId: 'rep-2', dueAt: null, completedAt: null, contactIds: [ids.ada], version: 2 });
      expect((await call('PATCH', `/crm/tasks/${created.body.id}`, { title: 'Stale' }, { 'if-match': created.etag! })).status).toBe(412);

      const done = ok(await call('PATCH', `/crm/tasks/${created.body.id}`, { status: 'done' }, { 'if-match': changed.etag! }), 200);
      expect(done.completedAt).toEqual(expect.any(String));
      // Changing a done task keeps the moment it was completed.
      const retitled = ok(await call('PATCH', `/crm/tasks/${created.body.id}`, { title: 'Proposal sent' }), 200);
      expect(retitled).toMatchObject({ status: 'done', completedAt: done.completedAt });
      const reopened = ok(await call('PATCH', `/crm/tasks/${created.body.id}`, { status: 'open' }), 200);
      expect(reopened).toMatchObject({ status: 'open', completedAt: null });
      expect(ok(await call('POST', '/crm/tasks', { title: 'Already done', status: 'done' }), 201).completedAt).toEqual(expect.any(String));

      expect((await call('POST', '/crm/tasks', { title: 'On a stranger', contactIds: [ids.stranger] })).status).toBe(400);
      expect((await call('POST', '/crm/tasks', { title: '' })).status).toBe(400);
      expect((await call('POST', '/crm/tasks', { title: 'x', status: 'waiting' })).status).toBe(400);
      expect((await call('GET', `/crm/tasks/${created.body.id}`, undefined, {}, other.apiKey)).status).toBe(404);
      expect((await call('DELETE', `/crm/tasks/${created.body.id}`)).status).toBe(204);
      expect((await call('GET', `/crm/tasks/${created.body.id}`)).status).toBe(404);
    });

    it("shows someone's active tasks soonest due first, undated last, flagging the overdue ones", async () => {
      const make = async (title: string, extra: Record<string, unknown>) => ok(await call('POST', '/crm/tasks', { title, assigneeId: 'rep-9', ...extra }), 201);
      await make('Undated', {});
      await make('Next year', { dueAt: '2099-01-01T00:00:00.000Z' });
      await make('Last year', { dueAt: '2020-01-01T00:00:00.000Z' });
      await make('Done long ago', { dueAt: '2019-01-01T00:00:00.000Z', status: 'done' });
      await make('Cancelled', { dueAt: '2019-06-01T00:00:00.000Z', status: 'cancelled' });
      await make('Started', { dueAt: '2021-01-01T00:00:00.000Z', status: 'in_progress' });
      ok(await call('POST', '/crm/tasks', { title: 'Someone else', assigneeId: 'rep-8', dueAt: '2020-01-01T00:00:00.000Z' }), 201);

      const active = ok(await call('GET', '/crm/tasks?assigneeId=rep-9&status=active'), 200);
      expect(active.data.map((t: any) => [t.title, t.overdue])).toEqual([['Last year', true], ['Started', true], ['Next year', false], ['Undated', false]]);
      expect(active.nextCursor).toBeNull();
      const all = ok(await call('GET', '/crm/tasks?assigneeId=rep-9'), 200).data;
      expect(all.map((t: any) => [t.title, t.overdue])).toEqual([
        ['Done long ago', false], ['Cancelled', false], ['Last year', true], ['Started', true], ['Next year', false], ['Undated', false],
      ]);
      expect(ok(await call('GET', '/crm/tasks?assigneeId=rep-9&status=done'), 200).data.map((t: any) => t.title)).toEqual(['Done long ago']);
      expect(ok(await call('GET', `/crm/tasks?assigneeId=rep-9&dueBefore=${encodeURIComponent('2020-06-01T00:00:00.000Z')}`), 200).data.map((t: any) => t.title))
        .toEqual(['Done long ago', 'Cancelled', 'Last year']);
      expect(ok(await call('GET', '/crm/tasks?assigneeId=rep-9', undefined, {}, other.apiKey), 200).data).toEqual([]);
    });

    it('pages through twelve tasks five at a time, each exactly once, and refuses a cursor it did not give out', async () => {
      const made: string[] = [];
      for (let i = 0; i < 12; i++) {
        // Some share a due date and some have none: the id breaks the ties.
        const dueAt = i % 4 === 3 ? undefined : `2030-0${1 + (i % 3)}-01T00:00:00.000Z`;
        made.push(ok(await call('POST', '/crm/tasks', { title: `Paged ${i}`, assigneeId: 'pager', ...(dueAt ? { dueAt } : {}) }), 201).id);
      }
      const seen: any[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const page: any = ok(await call('GET', `/crm/tasks?assigneeId=pager&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), 200);
        sizes.push(page.data.length);
        seen.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      expect(sizes).toEqual([5, 5, 2]);
      expect(seen.map((t) => t.id).sort()).toEqual([...made].sort());
      const dues = seen.map((t) => t.dueAt ?? '9999');
      expect(dues).toEqual([...dues].sort());
      expect(seen.slice(-3).map((t) => t.dueAt)).toEqual([null, null, null]);

      for (const garbage of ['garbage', 'abc_def', '_x', '12']) {
        const refused = await call('GET', `/crm/tasks?assigneeId=pager&cursor=${garbage}`);
        expect(refused.status, garbage).toBe(400);
      }
    });

    it('tells the log when a task is created and when it is completed, about its first contact', async () => {
      const created = ok(await call('POST', '/crm/tasks', { title: 'Call back', contactIds: [ids.ada], dueAt: '2099-02-01T00:00:00.000Z', assigneeId: 'rep-1' }), 201);
      await call('PATCH', `/crm/tasks/${created.id}`, { title: 'Call back today' });
      await call('PATCH', `/crm/tasks/${created.id}`, { status: 'done' });
      await call('PATCH', `/crm/tasks/${created.id}`, { body: 'Went well' });
      const events = (await logRows(server)).filter((r) => (r.payload.properties as { task_id?: string } | undefined)?.task_id === created.id);
      expect(events.map((r) => r.payload.event)).toEqual(['Task Created', 'Task Completed']);
      expect(events[0].payload).toMatchObject({ userId: 'ada', properties: { title: 'Call back', status: 'open', assignee_id: 'rep-1', due_at: '2099-02-01T00:00:00.000Z' } });
      expect(events[1].payload).toMatchObject({ userId: 'ada', properties: { title: 'Call back today', status: 'done' } });
    });
  });
});
