import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

interface Stage {
  id: string;
  name: string;
  position: number;
  probability: number;
  outcome: 'open' | 'won' | 'lost';
}
interface Pipeline {
  id: string;
  name: string;
  position: number;
  stages: Stage[];
  createdAt: string;
  updatedAt: string;
}

const STAGES = [{ name: 'Lead' }, { name: 'Demo' }, { name: 'Signed', outcome: 'won' }, { name: 'Dropped', outcome: 'lost' }];

describe.each(ENGINES)('CRM pipelines on $name', (engine) => {
  let server: TestServer;
  let other: SetupResult;

  const call = async (method: string, path: string, body?: unknown, apiKey = server.setup.apiKey) => {
    const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const expectStatus = (answer: { status: number; body: any }, status: number) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const create = async (name: string, stages: unknown[] = STAGES, apiKey = server.setup.apiKey): Promise<Pipeline> =>
    expectStatus(await call('POST', '/crm/pipelines', { name, stages }, apiKey), 201);
  const read = async (id: string): Promise<Pipeline> => expectStatus(await call('GET', `/crm/pipelines/${id}`), 200);
  const stageOf = (p: Pipeline, name: string) => p.stages.find((s) => s.name === name)!;
  const summary = (p: Pipeline) => p.stages.map((s) => `${s.name}:${s.outcome}`);
  /** A stage as PATCH takes it back: what it is now, with changes. */
  const keep = (s: Stage, change: Partial<Stage> = {}) => ({ id: s.id, name: s.name, outcome: s.outcome, ...change });
  const addDeal = async (p: Pipeline, stage: string) =>
    expectStatus(await call('POST', '/crm/deals', { name: `${p.name} deal`, pipelineId: p.id, stageId: stageOf(p, stage).id }), 201) as { id: string };

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
    // Opening the CRM creates the default pipeline.
    expectStatus(await call('GET', '/crm/pipelines'), 200);
    other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another correct horse battery' },
    );
  });
  afterAll(() => server?.close());

  it('creates a pipeline with its stages in the order given, open stages weighted by position, won at 100% and lost at 0%', async () => {
    const created = await create('Partnerships');
    expect(created).toMatchObject({ name: 'Partnerships', id: expect.any(String) });
    expect(created.stages.map((s) => [s.name, s.position, s.outcome, s.probability])).toEqual([
      ['Lead', 0, 'open', 20], ['Demo', 1, 'open', 40], ['Signed', 2, 'won', 100], ['Dropped', 3, 'lost', 0],
    ]);
    expect(new Set(created.stages.map((s) => s.id)).size).toBe(4);
    expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);
    expect(await read(created.id)).toEqual(created);
  });

  it('lists the default sales pipeline first, then the others in the order they were created', async () => {
    const first = await create('Renewals');
    const second = await create('Upsells');
    const names = (expectStatus(await call('GET', '/crm/pipelines'), 200).data as Pipeline[]).map((p) => p.name);
    expect(names[0]).toBe('Sales pipeline');
    expect(names.indexOf(first.name)).toBeLessThan(names.indexOf(second.name));
  });

  it('renames a pipeline and leaves its stages as they were', async () => {
    const p = await create('Channel');
    const renamed = expectStatus(await call('PATCH', `/crm/pipelines/${p.id}`, { name: 'Channel partners' }), 200) as Pipeline;
    expect(renamed.name).toBe('Channel partners');
    expect(renamed.stages).toEqual(p.stages);
    expect((await read(p.id)).name).toBe('Channel partners');
  });

  it('keeps stage ids through renames and reorders, adds stages sent without an id where they are placed, and removes empty stages left out', async () => {
    const p = await create('Enterprise');
    const [lead, demo, signed, dropped] = p.stages;
    const updated = expectStatus(await call('PATCH', `/crm/pipelines/${p.id}`, {
      stages: [keep(demo, { name: 'Discovery call' }), { name: 'Security review', probability: 55 }, keep(signed), keep(dropped)],
    }), 200) as Pipeline;

    expect(updated.stages.map((s) => [s.name, s.position])).toEqual([['Discovery call', 0], ['Security review', 1], ['Signed', 2], ['Dropped', 3]]);
    expect(updated.stages[0].id).toBe(demo.id);
    expect(updated.stages[2].id).toBe(signed.id);
    expect(updated.stages[3].id).toBe(dropped.id);
    const added = updated.stages[1];
    expect([lead.id, demo.id, signed.id, dropped.id]).not.toContain(added.id);
    expect(added).toMatchObject({ probability: 55, outcome: 'open' });
    expect(updated.stages.map((s) => s.id)).not.toContain(lead.id);
    expect(await read(p.id)).toEqual(updated);

    // And back again: order is what the list says, not what it was.
    const reordered = expectStatus(await call('PATCH', `/crm/pipelines/${p.id}`, { stages: [keep(added), keep(updated.stages[0]), keep(dropped), keep(signed)] }), 200) as Pipeline;
    expect(reordered.stages.map((s) => s.id)).toEqual([added.id, demo.id, dropped.id, signed.id]);
    expect(reordered.stages.map((s) => s.position)).toEqual([0, 1, 2, 3]);
  });

  it('lets a deal stay put while its stage is renamed and moved', async () => {
    const p = await create('Agencies');
    const deal = await addDeal(p, 'Demo');
    const [lead, demo, signed, dropped] = p.stages;
    const updated = expectStatus(await call('PATCH', `/crm/pipelines/${p.id}`, { stages: [keep(demo, { name: 'Demo done' }), keep(lead), keep(signed), keep(dropped)] }), 200) as Pipeline;
    expect(updated.stages[0]).toMatchObject({ id: demo.id, name: 'Demo done', position: 0 });
    expect(expectStatus(await call('GET', `/crm/deals/${deal.id}`), 200)).toMatchObject({ pipelineId: p.id, stageId: demo.id });
  });

  it('refuses to remove a stage that still has deals (409) and changes nothing, not even the name sent along', async () => {
    const p = await create('Resellers');
    await addDeal(p, 'Demo');
    const [lead, , signed, dropped] = p.stages;
    const refused = await call('PATCH', `/crm/pipelines/${p.id}`, { name: 'Resellers (new)', stages: [keep(lead), { name: 'Trial' }, keep(signed), keep(dropped)] });
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'conflict', message: expect.stringContaining('Demo') });
    expect(await read(p.id)).toEqual(p);
  });

  it("refuses to change the outcome of a stage that has deals (409), and changes an empty stage's outcome", async () => {
    const p = await create('Wholesale');
    await addDeal(p, 'Demo');
    const [lead, demo, signed, dropped] = p.stages;
    const refused = await call('PATCH', `/crm/pipelines/${p.id}`, { stages: [keep(lead), keep(demo, { outcome: 'won' }), keep(signed), keep(dropped)] });
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.error.message).toContain('Demo');
    expect(await read(p.id)).toEqual(p);

    const changed = expectStatus(await call('PATCH', `/crm/pipelines/${p.id}`, { stages: [keep(lead, { outcome: 'lost' }), keep(demo), keep(signed), keep(dropped)] }), 200) as Pipeline;
    expect(summary(changed)).toEqual(['Lead:lost', 'Demo:open', 'Signed:won', 'Dropped:lost']);
    expect(changed.stages[0]).toMatchObject({ id: lead.id, probability: 0 });
  });

  it('refuses two stages with the same name, whatever their case or spacing, and a pipeline without an open, a won or a lost stage (400)', async () => {
    const p = await create('Strict');
    const [lead, demo, signed, dropped] = p.stages;
    const badNew: unknown[][] = [
      [{ name: 'Lead' }, { name: ' lead ' }, { name: 'Won', outcome: 'won' }, { name: 'Lost', outcome: 'lost' }],
      [{ name: 'Lead' }, { name: 'Lost', outcome: 'lost' }],
      [{ name: 'Lead' }, { name: 'Won', outcome: 'won' }],
      [{ name: 'Won', outcome: 'won' }, { name: 'Lost', outcome: 'lost' }],
      [{ name: 'Only' }],
    ];
    const before = (expectStatus(await call('GET', '/crm/pipelines'), 200).data as Pipeline[]).length;
    for (const stages of badNew) {
      const r = await call('POST', '/crm/pipelines', { name: 'Broken', stages });
      expect(r.status, JSON.stringify(stages)).toBe(400);
    }
    expect(expectStatus(await call('GET', '/crm/pipelines'), 200).data).toHaveLength(before);

    const badChanges: unknown[][] = [
      [keep(lead), keep(demo, { name: 'LEAD' }), keep(signed), keep(dropped)],
      [keep(lead), keep(demo), keep(signed, { outcome: 'open' }), keep(dropped)],
      [keep(lead), keep(demo), keep(signed)],
      [keep(lead, { outcome: 'won' }), keep(demo, { outcome: 'won' }), keep(signed), keep(dropped)],
    ];
    for (const stages of badChanges) {
      const r = await call('PATCH', `/crm/pipelines/${p.id}`, { name: 'Renamed', stages });
      expect(r.status, JSON.stringify(stages)).toBe(400);
    }
    expect(await read(p.id)).toEqual(p);
  });

  it("refuses a stage id that is not one of the pipeline's, ids on a new pipeline's stages, and a won stage weighted below 100%", async () => {
    const p = await create('Careful');
    const elsewhere = await create('Elsewhere');
    const [lead, demo, signed, dropped] = p.stages;
    for (const stages of [
      [keep(lead), keep(elsewhere.stages[1]), keep(signed), keep(dropped)],
      [keep(lead), { id: 'no-such-stage', name: 'Ghost' }, keep(signed), keep(dropped)],
      [keep(lead), keep(demo), keep(signed, { probability: 90 }), keep(dropped)],
      [keep(lead), keep(demo), keep(signed), keep(dropped, { probability: 5 })],
    ]) {
      const r = await call('PATCH', `/crm/pipelines/${p.id}`, { stages });
      expect(r.status, JSON.stringify(stages)).toBe(400);
    }
    expect(await read(p.id)).toEqual(p);
    expect(await read(elsewhere.id)).toEqual(elsewhere);
    const withIds = await call('POST', '/crm/pipelines', { name: 'Copy', stages: p.stages.map((s) => keep(s)) });
    expect(withIds.status).toBe(400);
  });

  it('refuses a body that sets nothing, or stages with unknown properties', async () => {
    const p = await create('Shape');
    expect((await call('PATCH', `/crm/pipelines/${p.id}`, {})).status).toBe(400);
    expect((await call('PATCH', `/crm/pipelines/${p.id}`, { stages: [...STAGES.slice(0, 3), { name: 'Dropped', outcome: 'lost', colour: 'red' }] })).status).toBe(400);
    expect((await call('POST', '/crm/pipelines', { name: '', stages: STAGES })).status).toBe(400);
    expect(await read(p.id)).toEqual(p);
  });

  it('refuses a stage listed twice, which would leave the pipeline without an open stage', async () => {
    const p = await create('Twice');
    const [lead, , , dropped] = p.stages;
    const r = await call('PATCH', `/crm/pipelines/${p.id}`, { stages: [keep(lead), keep(lead, { name: 'Closed', outcome: 'won' }), keep(dropped)] });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(await read(p.id)).toEqual(p);
  });

  it('refuses to delete a pipeline that has deals (409), and deletes it once they are gone', async () => {
    const p = await create('Doomed');
    const deal = await addDeal(p, 'Lead');
    const refused = await call('DELETE', `/crm/pipelines/${p.id}`);
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.error.code).toBe('conflict');
    expect(await read(p.id)).toEqual(p);

    expect((await call('DELETE', `/crm/deals/${deal.id}`)).status).toBe(204);
    expect((await call('DELETE', `/crm/pipelines/${p.id}`)).status).toBe(204);
    expect((await call('GET', `/crm/pipelines/${p.id}`)).status).toBe(404);
    expect((await call('DELETE', `/crm/pipelines/${p.id}`)).status).toBe(404);
    expect((expectStatus(await call('GET', '/crm/pipelines'), 200).data as Pipeline[]).map((x) => x.id)).not.toContain(p.id);
    // Its stages went with it: no deal can be put in them.
    expect((await call('POST', '/crm/deals', { name: 'Orphan', stageId: p.stages[0].id })).status).toBe(400);
  });

  it("never shows one workspace's pipeline to another, nor lets it change, delete or use it (404)", async () => {
    const mine = await create('Private');
    const theirs = expectStatus(await call('GET', '/crm/pipelines', undefined, other.apiKey), 200).data as Pipeline[];
    expect(theirs.map((p) => p.name)).toEqual(['Sales pipeline']);
    expect(theirs.map((p) => p.id)).not.toContain(mine.id);

    expect((await call('GET', `/crm/pipelines/${mine.id}`, undefined, other.apiKey)).status).toBe(404);
    expect((await call('PATCH', `/crm/pipelines/${mine.id}`, { name: 'Taken over' }, other.apiKey)).status).toBe(404);
    expect((await call('PATCH', `/crm/pipelines/${mine.id}`, { stages: STAGES }, other.apiKey)).status).toBe(404);
    expect((await call('DELETE', `/crm/pipelines/${mine.id}`, undefined, other.apiKey)).status).toBe(404);
    expect((await call('POST', '/crm/deals', { name: 'Sneaky', pipelineId: mine.id }, other.apiKey)).status).toBe(400);
    expect((await call('POST', '/crm/deals', { name: 'Sneaky', stageId: mine.stages[0].id }, other.apiKey)).status).toBe(400);
    // Nor can their own pipeline borrow my stages.
    const [lead, , , dropped] = theirs[0].stages;
    const borrowed = await call('PATCH', `/crm/pipelines/${theirs[0].id}`, { stages: [keep(lead), keep(mine.stages[2]), keep(dropped)] }, other.apiKey);
    expect(borrowed.status).toBe(400);

    expect(await read(mine.id)).toEqual(mine);
    expect(expectStatus(await call('GET', '/crm/deals?limit=200', undefined, other.apiKey), 200).data).toEqual([]);
  });

  it('never leaves a deal in a stage removed at the same moment', async () => {
    for (let round = 0; round < 5; round++) {
      const p = await create(`Race ${round}`);
      const [lead, demo, signed, dropped] = p.stages;
      const [deal] = await Promise.all([
        call('POST', '/crm/deals', { name: 'Racing', pipelineId: p.id, stageId: demo.id }),
        call('PATCH', `/crm/pipelines/${p.id}`, { stages: [keep(lead), keep(signed), keep(dropped)] }),
      ]);
      if (deal.status !== 201) continue;
      const stages = (await read(p.id)).stages.map((s) => s.id);
      expect(stages, `round ${round}`).toContain(deal.body.stageId);
      expectStatus(await call('PATCH', `/crm/deals/${deal.body.id}`, { name: 'Racing, renamed' }), 200);
    }
  });

  it('creates the default pipeline once, even when a new workspace first asks for it from several requests at once', async () => {
    const fresh = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Initech', email: 'owner@initech.test', password: 'yet another correct horse' },
    );
    const answers = await Promise.all(Array.from({ length: 8 }, () => call('GET', '/crm/pipelines', undefined, fresh.apiKey)));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const pipelines = expectStatus(await call('GET', '/crm/pipelines', undefined, fresh.apiKey), 200).data as Pipeline[];
    expect(pipelines.map((p) => p.name)).toEqual(['Sales pipeline']);
    expect(new Set(answers.map((a) => a.body.data[0].id))).toEqual(new Set([pipelines[0].id]));
  });
});
