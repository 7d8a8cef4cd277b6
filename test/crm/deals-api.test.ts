import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';

interface Answer {
  status: number;
  etag: string | null;
  body: any;
}
interface Stage {
  id: string;
  name: string;
}
interface Pipeline {
  id: string;
  name: string;
  stages: Stage[];
}

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe.each(ENGINES)('the deals API on $name', (engine) => {
  let server: TestServer;
  let other: SetupResult;
  let sales: Pipeline;
  let partners: Pipeline;
  const ids = { ada: '', bob: '', acme: '', zed: '' };

  const call = async (method: string, path: string, body?: unknown, { apiKey = server.setup.apiKey, headers = {} }: { apiKey?: string; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const all: Record<string, string> = { authorization: `Bearer ${apiKey}`, ...headers };
    if (body !== undefined) all['content-type'] = 'application/json';
    const res = await fetch(`${server.url}/api/v1${path}`, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, etag: res.headers.get('etag'), body: text ? JSON.parse(text) : null };
  };
  const expectStatus = (answer: Answer, status: number) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const drain = () => server.rapport.core.pipeline.drain();
  const send = async (batch: Record<string, unknown>[], writeKey = server.setup.writeKey) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey, batch }) });
    expect(res.status).toBe(200);
    await drain();
  };
  const profileId = async (ref: string, collection: 'users' | 'accounts' = 'users', apiKey = server.setup.apiKey) =>
    expectStatus(await call('GET', `/profiles?collection=${collection}&q=${encodeURIComponent(ref)}`, undefined, { apiKey }), 200).data[0].id as string;
  const stageOf = (p: Pipeline, name: string) => p.stages.find((s) => s.name === name)!.id;
  const createDeal = async (body: Record<string, unknown>, apiKey = server.setup.apiKey) => expectStatus(await call('POST', '/crm/deals', body, { apiKey }), 201);
  const readDeal = (id: string, apiKey = server.setup.apiKey) => call('GET', `/crm/deals/${id}`, undefined, { apiKey });
  const listDeals = async (query = '', apiKey = server.setup.apiKey) => expectStatus(await call('GET', `/crm/deals?limit=200${query}`, undefined, { apiKey }), 200).data as any[];
  /** Everything a refused write could have touched: the workspace's deals and the event log. */
  const snapshot = async (apiKey = server.setup.apiKey) => ({ deals: await listDeals('', apiKey), log: (await logRows(server)).length });
  /** Sends a write that must be refused with `status`, and checks it changed nothing; gives the error. */
  const refused = async (status: number, method: string, path: string, body?: unknown, options: { apiKey?: string; headers?: Record<string, string> } = {}) => {
    const before = await snapshot(options.apiKey);
    const answer = await call(method, path, body, options);
    expect(answer.status, `${method} ${path} ${JSON.stringify(body)} → ${JSON.stringify(answer.body)}`).toBe(status);
    expect(await snapshot(options.apiKey)).toEqual(before);
    return answer.body.error as { code: string; message: string; details?: any };
  };
  const newWorkspace = (workspace: string) =>
    setupWorkspace({ access: server.rapport.core.access.service, collect: server.rapport.core.collect.service }, { workspace, email: `owner@${workspace.toLowerCase().replace(/\W/g, '')}.test`, password: 'correct horse battery staple' });

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
    other = await newWorkspace('Globex');
    await send([
      { type: 'identify', userId: 'ada', traits: { email: 'ada@example.com' } },
      { type: 'identify', userId: 'bob', traits: { email: 'bob@example.com' } },
      { type: 'group', userId: 'ada', groupId: 'acme', traits: { name: 'Acme' } },
    ]);
    await send([{ type: 'identify', userId: 'zed' }], other.writeKey);
    ids.ada = await profileId('user_id:ada');
    ids.bob = await profileId('user_id:bob');
    ids.acme = await profileId('group_id:acme', 'accounts');
    ids.zed = await profileId('user_id:zed', 'users', other.apiKey);
    sales = expectStatus(await call('GET', '/crm/pipelines'), 200).data[0];
    partners = expectStatus(await call('POST', '/crm/pipelines', {
      name: 'Partnerships', stages: [{ name: 'Intro' }, { name: 'Pilot' }, { name: 'Signed', outcome: 'won' }, { name: 'Dropped', outcome: 'lost' }],
    }), 201);
  });
  afterAll(() => server?.close());

  describe('creating, reading and changing', () => {
    it('creates a deal with every field and gives it back as stored, with an ETag', async () => {
      const created = await call('POST', '/crm/deals', {
        name: '  Acme renewal  ', pipelineId: partners.id, stageId: stageOf(partners, 'Pilot'), amount: 12000.5, currency: 'EUR', closeDate: '2026-12-31',
        ownerId: 'user-7', contactIds: [ids.ada, ids.bob], companyId: ids.acme,
      });
      const deal = expectStatus(created, 201);
      expect(deal).toEqual({
        id: expect.any(String), name: 'Acme renewal', pipelineId: partners.id, stageId: stageOf(partners, 'Pilot'), status: 'open', amount: 12000.5, currency: 'EUR',
        closeDate: '2026-12-31', ownerId: 'user-7', contactIds: [ids.ada, ids.bob], companyId: ids.acme, custom: {}, closedAt: null,
        createdAt: expect.any(String), updatedAt: expect.any(String), version: 1,
      });
      expect(created.etag).toMatch(/^".+"$/);
      const read = await readDeal(deal.id);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(deal);
      expect(read.etag).toBe(created.etag);
      expect((await listDeals()).map((d) => d.id)).toContain(deal.id);
    });

    it("puts a deal in the first pipeline's first stage, in USD and with nothing else set, when only a name is given", async () => {
      const deal = await createDeal({ name: 'Bare' });
      expect(deal).toMatchObject({
        pipelineId: sales.id, stageId: stageOf(sales, 'Qualification'), status: 'open', amount: null, currency: 'USD', closeDate: null, ownerId: null,
        contactIds: [], companyId: null, custom: {}, closedAt: null,
      });
    });

    it('finds the pipeline from the stage when only a stage is given', async () => {
      expect(await createDeal({ name: 'By stage', stageId: stageOf(partners, 'Intro') })).toMatchObject({ pipelineId: partners.id, stageId: stageOf(partners, 'Intro') });
    });

    it('changes only the fields a PATCH names, and clears those sent as null or empty', async () => {
      const deal = await createDeal({ name: 'Full', amount: 10, closeDate: '2026-06-30', ownerId: 'o-1', contactIds: [ids.ada], companyId: ids.acme });
      const renamed = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { name: 'Full, renamed' }), 200);
      expect(renamed).toEqual({ ...deal, name: 'Full, renamed', version: 2, updatedAt: expect.any(String) });
      const cleared = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { amount: null, closeDate: null, ownerId: null, contactIds: [], companyId: null }), 200);
      expect(cleared).toMatchObject({ name: 'Full, renamed', amount: null, closeDate: null, ownerId: null, contactIds: [], companyId: null, version: 3 });
      expect((await readDeal(deal.id)).body).toEqual(cleared);
      const refilled = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { contactIds: [ids.bob, ids.ada], companyId: ids.acme, amount: 99.99 }), 200);
      expect(refilled).toMatchObject({ contactIds: [ids.bob, ids.ada], companyId: ids.acme, amount: 99.99 });
    });

    it('refuses an empty change and properties it does not know, and answers 404 for a deal that does not exist', async () => {
      const deal = await createDeal({ name: 'Shape' });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, {});
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { name: 'x', colour: 'red' });
      await refused(400, 'POST', '/crm/deals', { name: 'x', colour: 'red' });
      await refused(400, 'POST', '/crm/deals', { name: 'x', amount: 'ten' });
      expect((await readDeal('no-such-deal')).status).toBe(404);
      await refused(404, 'PATCH', '/crm/deals/no-such-deal', { name: 'x' });
      await refused(404, 'DELETE', '/crm/deals/no-such-deal');
      expect((await call('GET', '/crm/deals/no-such-deal/stage-history')).status).toBe(404);
    });
  });

  describe('validation, where every refusal changes nothing', () => {
    it('refuses a deal without a name, with an empty one or one longer than 500 characters', async () => {
      const deal = await createDeal({ name: 'Named' });
      for (const body of [{}, { name: '' }, { name: 'x'.repeat(501) }]) await refused(400, 'POST', '/crm/deals', body);
      for (const body of [{ name: '' }, { name: 'x'.repeat(501) }]) await refused(400, 'PATCH', `/crm/deals/${deal.id}`, body);
      expect(await createDeal({ name: 'x'.repeat(500) })).toMatchObject({ name: 'x'.repeat(500) });
    });

    it('refuses a name of only spaces, which would be stored empty', async () => {
      const deal = await createDeal({ name: 'Spaced' });
      await refused(400, 'POST', '/crm/deals', { name: '   ' });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { name: ' \t ' });
    });

    it("refuses a stage that is not one of the deal's pipeline's, and an unknown pipeline or stage", async () => {
      const deal = await createDeal({ name: 'Placed', pipelineId: sales.id });
      const error = await refused(400, 'POST', '/crm/deals', { name: 'Mixed', pipelineId: sales.id, stageId: stageOf(partners, 'Intro') });
      expect(error.message).toContain('Sales pipeline');
      await refused(400, 'POST', '/crm/deals', { name: 'Lost', pipelineId: 'no-such-pipeline' });
      await refused(400, 'POST', '/crm/deals', { name: 'Lost', stageId: 'no-such-stage' });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { pipelineId: sales.id, stageId: stageOf(partners, 'Pilot') });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { pipelineId: partners.id, stageId: stageOf(sales, 'Proposal') });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { pipelineId: 'no-such-pipeline' });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { stageId: 'no-such-stage' });
    });

    it("keeps amounts exact in each currency's minor unit: none for JPY, two decimals for EUR, three for KWD", async () => {
      expect(await createDeal({ name: 'Yen', amount: 1500, currency: 'JPY' })).toMatchObject({ amount: 1500, currency: 'JPY' });
      expect(await createDeal({ name: 'Euro', amount: 19.99, currency: 'EUR' })).toMatchObject({ amount: 19.99, currency: 'EUR' });
      expect(await createDeal({ name: 'Dinar', amount: 1.234, currency: 'KWD' })).toMatchObject({ amount: 1.234, currency: 'KWD' });
      expect(await createDeal({ name: 'Float noise', amount: 0.1 + 0.2, currency: 'EUR' })).toMatchObject({ amount: 0.3 });
      expect(await createDeal({ name: 'Zero', amount: 0 })).toMatchObject({ amount: 0 });

      expect((await refused(400, 'POST', '/crm/deals', { name: 'x', amount: 1500.5, currency: 'JPY' })).message).toContain('JPY');
      expect((await refused(400, 'POST', '/crm/deals', { name: 'x', amount: 19.999, currency: 'EUR' })).message).toContain('EUR');
      expect((await refused(400, 'POST', '/crm/deals', { name: 'x', amount: 1.2345, currency: 'KWD' })).message).toContain('KWD');
      await refused(400, 'POST', '/crm/deals', { name: 'x', amount: 1.001 });
      await refused(400, 'POST', '/crm/deals', { name: 'x', amount: -1 });
      await refused(400, 'POST', '/crm/deals', { name: 'x', amount: -0.01, currency: 'EUR' });
      await refused(400, 'POST', '/crm/deals', { name: 'x', amount: 1e20 });

      const deal = await createDeal({ name: 'Changing', amount: 10, currency: 'EUR' });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { amount: 10.005 });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { amount: 10.5, currency: 'JPY' });
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { amount: -5 });
      expect(expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { amount: 10.125, currency: 'KWD' }), 200)).toMatchObject({ amount: 10.125, currency: 'KWD' });
    });

    it('refuses a currency that is not an ISO 4217 code', async () => {
      const deal = await createDeal({ name: 'Priced', amount: 5, currency: 'EUR' });
      for (const currency of ['XYZ', 'eur', 'EURO', '', 'E1R']) {
        await refused(400, 'POST', '/crm/deals', { name: 'x', amount: 5, currency });
        await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { currency });
      }
      expect((await refused(400, 'POST', '/crm/deals', { name: 'x', currency: 'XYZ' })).message).toContain('XYZ');
    });

    it('takes close dates that are days of the calendar, and null to clear one', async () => {
      expect(await createDeal({ name: 'Leap', closeDate: '2024-02-29' })).toMatchObject({ closeDate: '2024-02-29' });
      const deal = await createDeal({ name: 'Dated', closeDate: '2026-12-31' });
      for (const closeDate of ['2026-02-29', '2026-02-30', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-00', '2026-1-5', '31/12/2026', '2026-12-31T00:00:00Z', 'soon']) {
        await refused(400, 'POST', '/crm/deals', { name: 'x', closeDate });
        await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { closeDate });
      }
      expect(expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { closeDate: null }), 200).closeDate).toBeNull();
    });

    it("takes as contacts only person profiles of this workspace: not an account, another workspace's person or an unknown id", async () => {
      const deal = await createDeal({ name: 'With contacts', contactIds: [ids.ada] });
      for (const contactIds of [[ids.acme], [ids.zed], ['no-such-profile'], [ids.ada, 'no-such-profile'], [ids.ada, ids.ada]]) {
        await refused(400, 'POST', '/crm/deals', { name: 'x', contactIds });
        await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { contactIds });
      }
      expect((await refused(400, 'POST', '/crm/deals', { name: 'x', contactIds: [ids.zed] })).message).toContain(ids.zed);
      expect(await createDeal({ name: 'Two contacts', contactIds: [ids.bob, ids.ada] })).toMatchObject({ contactIds: [ids.bob, ids.ada] });
    });

    it('takes as company only an account profile of this workspace', async () => {
      const deal = await createDeal({ name: 'With company', companyId: ids.acme });
      expect(deal.companyId).toBe(ids.acme);
      for (const companyId of [ids.ada, ids.zed, 'no-such-profile']) {
        await refused(400, 'POST', '/crm/deals', { name: 'x', companyId });
        await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { companyId });
      }
      expect((await refused(400, 'POST', '/crm/deals', { name: 'x', companyId: ids.ada })).message).toContain(ids.ada);
    });
  });

  describe('custom fields', () => {
    let ws: SetupResult;
    const as = () => ({ apiKey: ws.apiKey });

    beforeAll(async () => {
      // A workspace of its own: a required field would bind every other deal created here.
      ws = await newWorkspace('Fields Co');
      expectStatus(await call('POST', '/crm/fields/deal', { key: 'tier', label: 'Tier', type: 'select', options: [{ value: 'gold', label: 'Gold' }, { value: 'silver', label: 'Silver' }] }, as()), 201);
      expectStatus(await call('POST', '/crm/fields/deal', { key: 'seats', label: 'Seats', type: 'number', required: true, min: 1 }, as()), 201);
    });

    it('lists the fields defined for deals', async () => {
      const fields = expectStatus(await call('GET', '/crm/fields/deal', undefined, as()), 200).data;
      expect(fields.map((f: { key: string; type: string; required?: boolean }) => `${f.key}:${f.type}:${f.required ?? false}`)).toEqual(['tier:select:false', 'seats:number:true']);
      expect(expectStatus(await call('GET', '/crm/fields/deal'), 200).data).toEqual([]);
    });

    it('requires a required field on create, and names each field whose value is wrong', async () => {
      const missing = await refused(400, 'POST', '/crm/deals', { name: 'x', custom: { tier: 'gold' } }, as());
      expect(missing.message).toContain('"seats" is required');
      expect(missing.details).toEqual([{ field: 'seats', message: 'is required' }]);
      await refused(400, 'POST', '/crm/deals', { name: 'x' }, as());

      const bad = await refused(400, 'POST', '/crm/deals', { name: 'x', custom: { tier: 'platinum', seats: 'many' } }, as());
      expect(bad.message).toContain('"tier" must be one of gold, silver');
      expect(bad.message).toContain('"seats" must be a number');
      expect(bad.details.map((p: { field: string }) => p.field).sort()).toEqual(['seats', 'tier']);
      expect((await refused(400, 'POST', '/crm/deals', { name: 'x', custom: { seats: 0 } }, as())).details).toEqual([{ field: 'seats', message: 'must be at least 1' }]);

      const deal = await createDeal({ name: 'Custom', custom: { tier: 'gold', seats: 10 } }, ws.apiKey);
      expect(deal.custom).toEqual({ tier: 'gold', seats: 10 });
      expect((await readDeal(deal.id, ws.apiKey)).body.custom).toEqual({ tier: 'gold', seats: 10 });
    });

    it('clears an optional field given null on update, refuses to clear a required one, and checks only the fields sent', async () => {
      const deal = await createDeal({ name: 'Clearing', custom: { tier: 'silver', seats: 3 } }, ws.apiKey);
      const updated = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { custom: { seats: 4 } }, as()), 200);
      expect(updated.custom).toEqual({ tier: 'silver', seats: 4 });
      const cleared = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { custom: { tier: null } }, as()), 200);
      expect(cleared.custom).toEqual({ seats: 4 });
      const error = await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { custom: { seats: null } }, as());
      expect(error.details).toEqual([{ field: 'seats', message: 'is required and cannot be cleared' }]);
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { custom: { tier: 'bronze' } }, as());
      expect((await readDeal(deal.id, ws.apiKey)).body.custom).toEqual({ seats: 4 });
    });

    it('refuses keys that are not defined for deals', async () => {
      const deal = await createDeal({ name: 'Unknown keys', custom: { seats: 1 } }, ws.apiKey);
      const error = await refused(400, 'POST', '/crm/deals', { name: 'x', custom: { seats: 1, colour: 'red' } }, as());
      expect(error.message).toContain('custom field "colour" is not defined');
      expect(error.details).toEqual([{ field: 'colour', message: 'is not defined for this object' }]);
      await refused(400, 'PATCH', `/crm/deals/${deal.id}`, { custom: { colour: 'red' } }, as());
      // Another workspace's fields are not this one's.
      await refused(400, 'POST', '/crm/deals', { name: 'x', custom: { tier: 'gold' } });
    });

    it('stops requiring a field once its definition is removed', async () => {
      expect((await call('DELETE', '/crm/fields/deal/seats', undefined, as())).status).toBe(204);
      expect((await createDeal({ name: 'Seatless' }, ws.apiKey)).custom).toEqual({});
      expect((await call('DELETE', '/crm/fields/deal/seats', undefined, as())).status).toBe(404);
    });

    it("drops a removed field's value when the deal is next written", async () => {
      expectStatus(await call('POST', '/crm/fields/deal', { key: 'legacy', label: 'Legacy', type: 'text' }, as()), 201);
      const deal = await createDeal({ name: 'Legacy', custom: { legacy: 'old text' } }, ws.apiKey);
      expect((await call('DELETE', '/crm/fields/deal/legacy', undefined, as())).status).toBe(204);
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { name: 'Legacy, written again' }, as()), 200);
      expectStatus(await call('POST', '/crm/fields/deal', { key: 'legacy', label: 'Legacy', type: 'number' }, as()), 201);
      expect((await readDeal(deal.id, ws.apiKey)).body.custom).toEqual({});
    });
  });

  describe('ETag and If-Match', () => {
    it('gives an ETag with every read, which a PATCH sent with it honours and replaces', async () => {
      const deal = await createDeal({ name: 'Tagged', amount: 100 });
      const read = await readDeal(deal.id);
      const changed = await call('PATCH', `/crm/deals/${deal.id}`, { amount: 150 }, { headers: { 'if-match': read.etag! } });
      expect(changed.status, JSON.stringify(changed.body)).toBe(200);
      expect(changed.body).toMatchObject({ amount: 150, version: 2 });
      expect(changed.etag).toMatch(/^".+"$/);
      expect(changed.etag).not.toBe(read.etag);
      expect((await readDeal(deal.id)).etag).toBe(changed.etag);
      const again = await call('PATCH', `/crm/deals/${deal.id}`, { amount: 175 }, { headers: { 'if-match': changed.etag! } });
      expect(again.status).toBe(200);
      // A weak form of the current tag, a list holding it and * match too.
      expect((await call('PATCH', `/crm/deals/${deal.id}`, { amount: 1 }, { headers: { 'if-match': `W/${again.etag}` } })).status).toBe(200);
      const now = (await readDeal(deal.id)).etag!;
      expect((await call('PATCH', `/crm/deals/${deal.id}`, { amount: 2 }, { headers: { 'if-match': `"other", ${now}` } })).status).toBe(200);
      expect((await call('PATCH', `/crm/deals/${deal.id}`, { amount: 3 }, { headers: { 'if-match': '*' } })).status).toBe(200);
    });

    it('refuses a PATCH sent with an old ETag (412) and changes nothing', async () => {
      const deal = await createDeal({ name: 'Contested', amount: 100 });
      const first = await readDeal(deal.id);
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { amount: 200 }, { headers: { 'if-match': first.etag! } }), 200);
      const error = await refused(412, 'PATCH', `/crm/deals/${deal.id}`, { amount: 300, stageId: stageOf(sales, 'Won') }, { headers: { 'if-match': first.etag! } });
      expect(error.code).toBe('precondition_failed');
      await refused(412, 'PATCH', `/crm/deals/${deal.id}`, { amount: 300 }, { headers: { 'if-match': '"made-up"' } });
      expect((await readDeal(deal.id)).body).toMatchObject({ amount: 200, status: 'open', version: 2 });
    });

    it('lets exactly one of two concurrent PATCHes made from the same read win; the other gets 412', async () => {
      for (let round = 0; round < 3; round++) {
        const deal = await createDeal({ name: `Race ${round}`, amount: 1 });
        const { etag } = await readDeal(deal.id);
        const answers = await Promise.all([
          call('PATCH', `/crm/deals/${deal.id}`, { amount: 10, stageId: stageOf(sales, 'Proposal') }, { headers: { 'if-match': etag! } }),
          call('PATCH', `/crm/deals/${deal.id}`, { amount: 20, stageId: stageOf(sales, 'Won') }, { headers: { 'if-match': etag! } }),
        ]);
        expect(answers.map((a) => a.status).sort()).toEqual([200, 412]);
        const winner = answers.find((a) => a.status === 200)!;
        const now = await readDeal(deal.id);
        expect(now.body).toEqual(winner.body);
        expect(now.etag).toBe(winner.etag);
        expect(now.body.version).toBe(2);
        const history = expectStatus(await call('GET', `/crm/deals/${deal.id}/stage-history`), 200).data;
        expect(history.map((h: { toStageId: string }) => h.toStageId)).toEqual([stageOf(sales, 'Qualification'), winner.body.stageId]);
        const events = (await logRows(server)).filter((r) => (r.payload.properties as { deal_id?: string } | undefined)?.deal_id === deal.id);
        expect(events.map((r) => r.payload.event)).toEqual(['Deal Created', 'Deal Stage Changed']);
      }
    });

    it('refuses a DELETE sent with a stale ETag (412), and deletes with the current one', async () => {
      const deal = await createDeal({ name: 'Deletable' });
      const old = (await readDeal(deal.id)).etag!;
      const current = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { ownerId: 'o-2' }), 200);
      await refused(412, 'DELETE', `/crm/deals/${deal.id}`, undefined, { headers: { 'if-match': old } });
      expect((await readDeal(deal.id)).body).toEqual(current);
      const etag = (await readDeal(deal.id)).etag!;
      expect((await call('DELETE', `/crm/deals/${deal.id}`, undefined, { headers: { 'if-match': etag } })).status).toBe(204);
      expect((await readDeal(deal.id)).status).toBe(404);
      expect((await call('GET', `/crm/deals/${deal.id}/stage-history`)).status).toBe(404);
      expect((await listDeals()).map((d) => d.id)).not.toContain(deal.id);
    });
  });

  describe('status, closing and stage history', () => {
    it('marks a deal won or lost, with when it closed, as it enters a won or lost stage, and reopens it when it leaves', async () => {
      const deal = await createDeal({ name: 'Closing' });
      expect(deal).toMatchObject({ status: 'open', closedAt: null });
      const t0 = Date.now();
      const won = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(sales, 'Won') }), 200);
      expect(won.status).toBe('won');
      expect(Date.parse(won.closedAt)).toBeGreaterThanOrEqual(t0);
      expect(Date.parse(won.closedAt)).toBeLessThanOrEqual(Date.now());

      const renamed = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { name: 'Closing, renamed' }), 200);
      expect(renamed).toMatchObject({ status: 'won', closedAt: won.closedAt });

      const lost = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(sales, 'Lost') }), 200);
      expect(lost.status).toBe('lost');
      expect(Date.parse(lost.closedAt)).toBeGreaterThanOrEqual(Date.parse(won.closedAt));

      const reopened = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(sales, 'Negotiation') }), 200);
      expect(reopened).toMatchObject({ status: 'open', closedAt: null });
      expect((await readDeal(deal.id)).body).toMatchObject({ status: 'open', closedAt: null });

      const signed = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(partners, 'Signed') }), 200);
      expect(signed).toMatchObject({ pipelineId: partners.id, status: 'won', closedAt: expect.any(String) });
    });

    it('creates a deal put straight into a won stage as won, closed when created', async () => {
      const deal = await createDeal({ name: 'Already won', stageId: stageOf(sales, 'Won') });
      expect(deal).toMatchObject({ status: 'won', closedAt: deal.createdAt });
      expect(await createDeal({ name: 'Already lost', pipelineId: partners.id, stageId: stageOf(partners, 'Dropped') })).toMatchObject({ status: 'lost' });
    });

    it('lists every stage a deal entered, from which stage, when and by whom', async () => {
      const deal = await createDeal({ name: 'Travelling' });
      for (const stage of ['Proposal', 'Won', 'Negotiation']) expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(sales, stage) }), 200);
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { ownerId: 'o-3' }), 200);
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(sales, 'Negotiation') }), 200);
      const history = expectStatus(await call('GET', `/crm/deals/${deal.id}/stage-history`), 200).data as { fromStageId: string | null; toStageId: string; at: string; actor: string }[];
      const names = ['Qualification', 'Proposal', 'Won', 'Negotiation'];
      expect(history.map((h) => h.toStageId)).toEqual(names.map((n) => stageOf(sales, n)));
      expect(history.map((h) => h.fromStageId)).toEqual([null, ...names.slice(0, -1).map((n) => stageOf(sales, n))]);
      expect(history[0].at).toBe(deal.createdAt);
      expect([...history.map((h) => h.at)].sort()).toEqual(history.map((h) => h.at));
      expect(history.every((h) => h.actor === history[0].actor && h.actor.length > 0)).toBe(true);
    });

    it("moves a deal to another pipeline's first stage when no stage is given", async () => {
      const deal = await createDeal({ name: 'Switching', stageId: stageOf(sales, 'Proposal') });
      const moved = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { pipelineId: partners.id }), 200);
      expect(moved).toMatchObject({ pipelineId: partners.id, stageId: stageOf(partners, 'Intro'), status: 'open' });
      const same = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { pipelineId: partners.id, name: 'Switching, still' }), 200);
      expect(same.stageId).toBe(stageOf(partners, 'Intro'));
      const chosen = expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { pipelineId: sales.id, stageId: stageOf(sales, 'Negotiation') }), 200);
      expect(chosen).toMatchObject({ pipelineId: sales.id, stageId: stageOf(sales, 'Negotiation') });
      const history = expectStatus(await call('GET', `/crm/deals/${deal.id}/stage-history`), 200).data;
      expect(history.map((h: { toStageId: string }) => h.toStageId)).toEqual([stageOf(sales, 'Proposal'), stageOf(partners, 'Intro'), stageOf(sales, 'Negotiation')]);
    });
  });

  describe('listing', () => {
    let ws: SetupResult;
    let wsPartners: Pipeline;
    let wsSales: Pipeline;
    const people = { lia: '', max: '', globex: '' };
    const names = async (query: string) => (await listDeals(query, ws.apiKey)).map((d) => d.name as string);

    beforeAll(async () => {
      // A workspace of its own, so each filter's answer is known exactly.
      ws = await newWorkspace('Listing Co');
      await send([
        { type: 'identify', userId: 'lia' }, { type: 'identify', userId: 'max' },
        { type: 'group', userId: 'lia', groupId: 'globex', traits: { name: 'Globex' } },
      ], ws.writeKey);
      people.lia = await profileId('user_id:lia', 'users', ws.apiKey);
      people.max = await profileId('user_id:max', 'users', ws.apiKey);
      people.globex = await profileId('group_id:globex', 'accounts', ws.apiKey);
      wsSales = expectStatus(await call('GET', '/crm/pipelines', undefined, { apiKey: ws.apiKey }), 200).data[0];
      wsPartners = expectStatus(await call('POST', '/crm/pipelines', { name: 'Partners', stages: [{ name: 'Intro' }, { name: 'Signed', outcome: 'won' }, { name: 'Dropped', outcome: 'lost' }] }, { apiKey: ws.apiKey }), 201);
      const deals = [
        { name: 'Alpha', stageId: stageOf(wsSales, 'Qualification'), ownerId: 'olga', amount: 100, closeDate: '2026-01-15', contactIds: [people.lia], companyId: people.globex },
        { name: 'Bravo', stageId: stageOf(wsSales, 'Proposal'), ownerId: 'piet', contactIds: [people.max] },
        { name: 'Charlie', stageId: stageOf(wsSales, 'Won'), ownerId: 'olga', amount: 300, closeDate: '2026-03-31', companyId: people.globex },
        { name: 'Delta', stageId: stageOf(wsSales, 'Lost'), amount: 50, closeDate: '2026-02-28', contactIds: [people.max, people.lia] },
        { name: 'Echo', pipelineId: wsPartners.id, ownerId: 'piet', amount: 250, closeDate: '2026-01-01' },
        { name: 'Foxtrot', stageId: stageOf(wsPartners, 'Signed'), ownerId: 'olga', amount: 75.5, contactIds: [people.lia] },
      ];
      for (const deal of deals) await createDeal(deal, ws.apiKey);
    });

    it('narrows the list by pipeline, stage, status, owner, company, contact and close dates, each alone and together', async () => {
      const by = (query: string) => names(`&sort=name${query}`);
      expect(await by('')).toEqual(['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo', 'Foxtrot']);
      expect(await by(`&pipelineId=${wsSales.id}`)).toEqual(['Alpha', 'Bravo', 'Charlie', 'Delta']);
      expect(await by(`&pipelineId=${wsPartners.id}`)).toEqual(['Echo', 'Foxtrot']);
      expect(await by(`&stageId=${stageOf(wsSales, 'Qualification')}`)).toEqual(['Alpha']);
      expect(await by(`&stageId=${stageOf(wsSales, 'Negotiation')}`)).toEqual([]);
      expect(await by('&status=open')).toEqual(['Alpha', 'Bravo', 'Echo']);
      expect(await by('&status=won')).toEqual(['Charlie', 'Foxtrot']);
      expect(await by('&status=lost')).toEqual(['Delta']);
      expect(await by('&ownerId=olga')).toEqual(['Alpha', 'Charlie', 'Foxtrot']);
      expect(await by('&ownerId=nobody')).toEqual([]);
      expect(await by(`&companyId=${people.globex}`)).toEqual(['Alpha', 'Charlie']);
      expect(await by(`&contactId=${people.lia}`)).toEqual(['Alpha', 'Delta', 'Foxtrot']);
      expect(await by(`&contactId=${people.max}`)).toEqual(['Bravo', 'Delta']);
      expect(await by('&closeFrom=2026-01-15')).toEqual(['Alpha', 'Charlie', 'Delta']);
      expect(await by('&closeTo=2026-01-15')).toEqual(['Alpha', 'Echo']);
      expect(await by('&closeFrom=2026-01-02&closeTo=2026-02-28')).toEqual(['Alpha', 'Delta']);
      expect(await by(`&pipelineId=${wsSales.id}&ownerId=olga&status=open`)).toEqual(['Alpha']);
      expect(await by(`&contactId=${people.lia}&status=won`)).toEqual(['Foxtrot']);
      // Another workspace's profile finds nothing here, and this workspace's deals are not the main one's.
      expect(await by(`&contactId=${ids.ada}`)).toEqual([]);
      expect((await listDeals(`&ownerId=olga`)).length).toBe(0);
      for (const query of ['&status=closed', '&closeFrom=yesterday', '&closeTo=2026-02-30', '&sort=probability', '&order=up', '&limit=0', '&limit=201', '&colour=red']) {
        expect((await call('GET', `/crm/deals?${query.slice(1)}`, undefined, { apiKey: ws.apiKey })).status, query).toBe(400);
      }
    });

    it('sorts by amount, close date and name both ways, deals without a value first ascending and last descending', async () => {
      expect(await names('&sort=amount')).toEqual(['Bravo', 'Delta', 'Foxtrot', 'Alpha', 'Echo', 'Charlie']);
      expect(await names('&sort=amount&order=asc')).toEqual(['Bravo', 'Delta', 'Foxtrot', 'Alpha', 'Echo', 'Charlie']);
      expect(await names('&sort=amount&order=desc')).toEqual(['Charlie', 'Echo', 'Alpha', 'Foxtrot', 'Delta', 'Bravo']);
      const byDate = await names('&sort=closeDate');
      expect(byDate.slice(2)).toEqual(['Echo', 'Alpha', 'Delta', 'Charlie']);
      expect(byDate.slice(0, 2).sort()).toEqual(['Bravo', 'Foxtrot']);
      const byDateDesc = await names('&sort=closeDate&order=desc');
      expect(byDateDesc.slice(0, 4)).toEqual(['Charlie', 'Delta', 'Alpha', 'Echo']);
      expect(byDateDesc.slice(4).sort()).toEqual(['Bravo', 'Foxtrot']);
      expect(byDateDesc.slice(4)).toEqual([...byDate.slice(0, 2)].reverse());
      expect(await names('&sort=name')).toEqual(['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo', 'Foxtrot']);
      expect(await names('&sort=name&order=desc')).toEqual(['Foxtrot', 'Echo', 'Delta', 'Charlie', 'Bravo', 'Alpha']);
      // Newest first by default.
      const newest = await listDeals('', ws.apiKey);
      expect(newest.map((d) => d.createdAt)).toEqual(newest.map((d) => d.createdAt).sort().reverse());
    });

    it('pages through 25 deals 7 at a time, giving each exactly once and in the order of the whole list, whatever the sort', async () => {
      for (let i = 0; i < 25; i++) {
        await createDeal({
          name: `Page ${String(i % 9)}`, ownerId: 'pager', amount: i % 5 === 0 ? null : (i % 4) * 10,
          closeDate: i % 3 === 0 ? null : `2026-0${1 + (i % 2)}-1${i % 4}`,
        }, ws.apiKey);
      }
      for (const sort of ['', '&sort=createdAt', '&sort=updatedAt&order=desc', '&sort=amount', '&sort=amount&order=desc', '&sort=closeDate', '&sort=closeDate&order=desc', '&sort=name', '&sort=name&order=desc']) {
        const whole = (await listDeals(`&ownerId=pager${sort}`, ws.apiKey)).map((d) => d.id as string);
        expect(whole).toHaveLength(25);
        const pages: string[][] = [];
        let cursor: string | null = null;
        do {
          const page: any = expectStatus(await call('GET', `/crm/deals?ownerId=pager&limit=7${sort}${cursor ? `&cursor=${cursor}` : ''}`, undefined, { apiKey: ws.apiKey }), 200);
          pages.push(page.data.map((d: { id: string }) => d.id));
          cursor = page.nextCursor;
        } while (cursor && pages.length < 10);
        expect(pages.map((p) => p.length), sort).toEqual([7, 7, 7, 4]);
        expect(pages.flat(), sort).toEqual(whole);
      }
      const amounts = (await listDeals('&ownerId=pager&sort=amount', ws.apiKey)).map((d) => d.amount as number | null);
      expect(amounts.slice(0, 5)).toEqual([null, null, null, null, null]);
      expect(amounts.slice(5)).toEqual([...amounts.slice(5)].sort((a, b) => a! - b!));
    });

    it('sorts amounts by the number shown, not by minor units, across currencies', async () => {
      for (const [name, amount, currency] of [['Five dinars', 5, 'KWD'], ['Ten dollars', 10, 'USD'], ['Thousand yen', 1000, 'JPY']] as const) {
        await createDeal({ name, amount, currency, ownerId: 'fx' }, ws.apiKey);
      }
      expect(await names('&ownerId=fx&sort=amount')).toEqual(['Five dinars', 'Ten dollars', 'Thousand yen']);
    });

    it('refuses a cursor it did not give out (400)', async () => {
      for (const cursor of ['garbage', '!!!', cursorOf({ a: 1 }), cursorOf([1]), cursorOf(['x', 5]), cursorOf([null, 'id']), cursorOf('[1,"a"]')]) {
        const answer = await call('GET', `/crm/deals?cursor=${encodeURIComponent(cursor)}`, undefined, { apiKey: ws.apiKey });
        expect(answer.status, cursor).toBe(400);
        expect(answer.body.error.code).toBe('invalid_request_error');
      }
    });

    it('refuses a cursor given out for another sort (400)', async () => {
      const byName = expectStatus(await call('GET', '/crm/deals?sort=name&limit=2', undefined, { apiKey: ws.apiKey }), 200);
      for (const sort of ['amount', 'createdAt', 'updatedAt']) {
        const answer = await call('GET', `/crm/deals?sort=${sort}&limit=2&cursor=${byName.nextCursor}`, undefined, { apiKey: ws.apiKey });
        expect(answer.status, `${sort}: ${JSON.stringify(answer.body)}`).toBe(400);
      }
    });

    it('searches names by words, each a word prefix, case and punctuation ignored', async () => {
      for (const name of ['100% Uptime', '100 percent', 'snake_case deal', 'snakeXcase deal', 'ACME Renewal', 'Back\\slash', 'Backslash']) {
        await createDeal({ name, ownerId: 'searcher' }, ws.apiKey);
      }
      const search = async (q: string) => (await names(`&ownerId=searcher&sort=name&q=${encodeURIComponent(q)}`));
      expect(await search('acme')).toEqual(['ACME Renewal']);
      expect(await search('rEnEwAl')).toEqual(['ACME Renewal']);
      expect(await search('ren ac')).toEqual(['ACME Renewal']);
      expect(await search('cme')).toEqual([]);
      expect(await search('100%')).toEqual(['100 percent', '100% Uptime']);
      expect(await search('uptime 100')).toEqual(['100% Uptime']);
      expect(await search('snake case')).toEqual(['snake_case deal']);
      expect(await search('snake')).toEqual(['snakeXcase deal', 'snake_case deal']);
      expect(await search('back slash')).toEqual(['Back\\slash']);
      expect(await search('backslash')).toEqual(['Backslash']);
      expect(await search('nothing like it')).toEqual([]);
      const punctuation = await fetch(`${server.url}/api/v1/crm/deals?q=${encodeURIComponent('%_%')}`, { headers: { authorization: `Bearer ${ws.apiKey}` } });
      expect(punctuation.status).toBe(400);
      expect(((await punctuation.json()) as { error: { message: string } }).error.message).toMatch(/letter or a digit/);
    });

    it('searches names case-insensitively beyond ASCII', async () => {
      await createDeal({ name: 'Éclair Bakery', ownerId: 'searcher-accents' }, ws.apiKey);
      for (const q of ['Éclair', 'éclair', 'ÉCLAIR']) expect(await names(`&ownerId=searcher-accents&q=${encodeURIComponent(q)}`), q).toEqual(['Éclair Bakery']);
    });
  });

  describe('events', () => {
    const eventsOf = async (collection: 'users' | 'accounts', ref: string) => {
      const res = await fetch(`${server.url}/v1/spaces/${server.setup.workspaceId}/collections/${collection}/profiles/${ref}/events?limit=100&sort=asc`, {
        headers: { authorization: `Basic ${Buffer.from(`${server.setup.apiKey}:`).toString('base64')}` },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: { event?: string; properties: Record<string, unknown>; source_id?: string }[] }).data;
    };
    const loggedAbout = async (dealId: string) => (await logRows(server)).filter((r) => (r.payload.properties as { deal_id?: string } | undefined)?.deal_id === dealId).map((r) => r.payload as any);

    it('tells the log when a deal is created, changes stage and is deleted, naming its first contact', async () => {
      const deal = await createDeal({ name: 'Announced', amount: 5000, currency: 'EUR', contactIds: [ids.ada, ids.bob], companyId: ids.acme });
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(sales, 'Proposal') }), 200);
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { amount: 6000 }), 200);
      expect((await call('DELETE', `/crm/deals/${deal.id}`)).status).toBe(204);

      const logged = await loggedAbout(deal.id);
      expect(logged.map((e) => e.event)).toEqual(['Deal Created', 'Deal Stage Changed', 'Deal Deleted']);
      for (const e of logged) expect(e).toMatchObject({ type: 'track', userId: 'ada', context: { rapport: { profileId: ids.ada, collection: 'users' } } });
      expect(logged[0].properties).toMatchObject({ deal_id: deal.id, deal_name: 'Announced', pipeline_id: sales.id, stage_name: 'Qualification', status: 'open', amount: 5000, currency: 'EUR' });
      expect(logged[1].properties).toMatchObject({ stage_name: 'Proposal', previous_stage_name: 'Qualification', stage_id: stageOf(sales, 'Proposal'), previous_stage_id: stageOf(sales, 'Qualification'), amount: 5000 });
      expect(logged[2].properties).toMatchObject({ deal_id: deal.id, stage_name: 'Proposal', amount: 6000, currency: 'EUR' });
    });

    it("puts those events on the first contact's profile once the pipeline has run, and not on the other contacts'", async () => {
      const deal = await createDeal({ name: 'Profiled', amount: 42, contactIds: [ids.ada, ids.bob] });
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(sales, 'Won') }), 200);
      expect((await call('DELETE', `/crm/deals/${deal.id}`)).status).toBe(204);
      await drain();

      const onAda = (await eventsOf('users', 'user_id:ada')).filter((e) => e.properties.deal_id === deal.id);
      expect(onAda.map((e) => e.event)).toEqual(['Deal Created', 'Deal Stage Changed', 'Deal Deleted']);
      expect(onAda[1]).toMatchObject({ source_id: 'rapport:crm', properties: { stage_name: 'Won', previous_stage_name: 'Qualification', amount: 42, currency: 'USD', status: 'won' } });
      expect((await eventsOf('users', 'user_id:bob')).filter((e) => e.properties.deal_id === deal.id)).toEqual([]);
    });

    it('attributes the events of a deal with only a company to the account', async () => {
      const deal = await createDeal({ name: 'Company only', amount: 7, companyId: ids.acme });
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: stageOf(sales, 'Negotiation') }), 200);
      const logged = await loggedAbout(deal.id);
      expect(logged[0]).toMatchObject({ event: 'Deal Created', userId: null, context: { groupId: 'acme', rapport: { profileId: ids.acme, collection: 'accounts' } } });
      await drain();

      const onAcme = (await eventsOf('accounts', 'group_id:acme')).filter((e) => e.properties.deal_id === deal.id);
      expect(onAcme.map((e) => e.event)).toEqual(['Deal Created', 'Deal Stage Changed']);
      expect(onAcme[1].properties).toMatchObject({ stage_name: 'Negotiation', previous_stage_name: 'Qualification' });
      expect((await eventsOf('users', 'user_id:ada')).filter((e) => e.properties.deal_id === deal.id)).toEqual([]);
    });

    it('adds nothing to the log for a change that leaves the deal in its stage', async () => {
      const deal = await createDeal({ name: 'Quiet', contactIds: [ids.ada] });
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { name: 'Quiet, renamed', amount: 3 }), 200);
      expectStatus(await call('PATCH', `/crm/deals/${deal.id}`, { stageId: deal.stageId }), 200);
      expect((await loggedAbout(deal.id)).map((e) => e.event)).toEqual(['Deal Created']);
    });
  });

  it('follows its contact into the profile it merged with', async () => {
    await send([{ type: 'identify', userId: 'carl' }]);
    await send([{ type: 'track', anonymousId: 'anon-carl', event: 'Viewed Pricing' }]);
    const anonymous = await profileId('anonymous_id:anon-carl');
    const deal = await createDeal({ name: 'Before the merge', contactIds: [anonymous] });
    await send([{ type: 'identify', userId: 'carl', anonymousId: 'anon-carl' }]);
    const carl = await profileId('user_id:carl');
    expect(await profileId('anonymous_id:anon-carl')).toBe(carl);
    expect(carl).not.toBe(anonymous);
    expect((await readDeal(deal.id)).body.contactIds).toEqual([carl]);
    expect((await listDeals(`&contactId=${carl}`)).map((d) => d.id)).toEqual([deal.id]);
  });

  it("never shows another workspace's deal to it, nor lets it change or delete one (404)", async () => {
    const deal = await createDeal({ name: 'Ours', contactIds: [ids.ada] });
    const theirs = { apiKey: other.apiKey };
    expect((await readDeal(deal.id, other.apiKey)).status).toBe(404);
    expect((await call('GET', `/crm/deals/${deal.id}/stage-history`, undefined, theirs)).status).toBe(404);
    await refused(404, 'PATCH', `/crm/deals/${deal.id}`, { name: 'Theirs' }, theirs);
    await refused(404, 'DELETE', `/crm/deals/${deal.id}`, undefined, theirs);
    expect((await listDeals('', other.apiKey)).map((d) => d.id)).not.toContain(deal.id);
    expect((await readDeal(deal.id)).body).toEqual(deal);
    // Nor can it put its deals in our pipeline or on our people.
    await refused(400, 'POST', '/crm/deals', { name: 'x', pipelineId: sales.id }, theirs);
    await refused(400, 'POST', '/crm/deals', { name: 'x', contactIds: [ids.ada] }, theirs);
    await refused(400, 'POST', '/crm/deals', { name: 'x', companyId: ids.acme }, theirs);
  });
});
