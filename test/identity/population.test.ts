import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { JUNK_VALUES } from '../../src/modules/identity/index.js';
import { createPipeline } from '../../src/pipeline/processor.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { generatePopulation, resolvedProfiles, sameProfiles, sameTraits, scorePairs, type PairwiseScore } from './population.js';

const PEOPLE = 500;
const SEED = 20_261_124;
const BATCH = 500;

const population = generatePopulation({ people: PEOPLE, seed: SEED });

/** Through the collection API, in arrival order, a batch at a time. */
async function sendPopulation(server: TestServer) {
  for (let i = 0; i < population.calls.length; i += BATCH) {
    const batch = population.calls.slice(i, i + BATCH).map((c) => c.message);
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${server.setup.writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    });
    expect(res.status).toBe(200);
  }
}

describe.each(ENGINES)('identity resolution of a generated population on $name', (engine) => {
  let server: TestServer;
  let score: PairwiseScore;
  let profileOfMessage: Map<string, string | null>;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
    const started = Date.now();
    await sendPopulation(server);
    timings.sendMs = Date.now() - started;
    const drained = Date.now();
    expect(await server.rapport.core.pipeline.drain()).toBe(population.calls.length);
    timings.drainMs = Date.now() - drained;

    const db = server.rapport.database.db;
    const rows: { message_id: string; profile_id: string | null }[] = await db
      .selectFrom('events')
      .leftJoin(
        (eb) => eb.selectFrom('profile_events').innerJoin('profiles', 'profiles.id', 'profile_events.profile_id').where('profiles.collection', '=', 'users').select(['profile_events.event_offset', 'profile_events.profile_id']).as('pe'),
        (join) => join.onRef('pe.event_offset', '=', 'events.offset'),
      )
      .select(['events.message_id', 'pe.profile_id'])
      .execute();
    profileOfMessage = new Map();
    for (const r of rows) {
      expect(profileOfMessage.has(r.message_id), `${r.message_id} is on two user profiles`).toBe(false);
      profileOfMessage.set(r.message_id, r.profile_id);
    }
    score = scorePairs(
      population.calls.filter((c) => c.person !== null).map((c) => ({ person: c.person!, profile: profileOfMessage.get(c.message.messageId as string) ?? null })),
    );
    console.log(`${engine.name}: ${JSON.stringify({ ...score, ...timings })}\ncensus: ${JSON.stringify(population.census)}`);
  }, 120_000);
  afterAll(() => server?.close());

  it('logs every call of the population once', () => {
    expect(profileOfMessage.size).toBe(population.calls.length);
  });

  it('keeps people apart: pairwise precision >= 0.99', () => {
    expect(score.precision).toBeGreaterThanOrEqual(0.99);
  });

  it('brings each person together: pairwise recall >= 0.95', () => {
    expect(score.recall).toBeGreaterThanOrEqual(0.95);
  });

  it('leaves a person split across profiles only where the rules say it must', () => {
    const profilesOf = population.people.map(() => new Set<string | null>());
    for (const c of population.calls) if (c.person !== null) profilesOf[c.person].add(profileOfMessage.get(c.message.messageId as string) ?? null);
    const split = population.people.map((person, i) => ({ ...person, i, profiles: profilesOf[i].size })).filter((p) => p.profiles > 1);
    const why: Record<string, number> = {};
    for (const p of split) why[p.mayBeSplit ?? 'unexplained'] = (why[p.mayBeSplit ?? 'unexplained'] ?? 0) + 1;
    console.log(`${engine.name}: ${split.length} people split across profiles: ${JSON.stringify(why)}`);
    expect(split.filter((p) => !p.mayBeSplit)).toEqual([]);
  });

  it('puts calls whose only ids are junk on no profile, rather than on one blob', async () => {
    const junk = population.calls.filter((c) => c.person === null);
    expect(junk.length).toBeGreaterThan(0);
    for (const c of junk) expect(profileOfMessage.get(c.message.messageId as string) ?? null).toBeNull();
    const promoted = await server.rapport.database.db.selectFrom('identifiers').select('key').where((eb) => eb.or([eb('value', 'in', JUNK_VALUES), eb('value', 'like', '0000%')])).execute();
    expect(promoted).toEqual([]);
  });

  it('files every timeline entry under a live profile', async () => {
    const db = server.rapport.database.db;
    const orphans = await db.selectFrom('profile_events').innerJoin('profiles', 'profiles.id', 'profile_events.profile_id').where('profiles.merged_into', 'is not', null).select('profile_events.event_offset').execute();
    expect(orphans).toEqual([]);
  });

  it("gives every person the newest-by-timestamp value of each trait, and the first value of a set-once trait, whatever the arrival order", async () => {
    const db = server.rapport.database.db;
    const owners = new Map<string, string>(
      (await db.selectFrom('identifiers').select(['key', 'profile_id']).where('collection', '=', 'users').execute()).map((r: { key: string; profile_id: string }) => [r.key.slice('users|'.length), r.profile_id]),
    );
    const traitRows: { profile_id: string; name: string; value: string }[] = await db.selectFrom('profile_traits').select(['profile_id', 'name', 'value']).execute();
    const traitsOf = new Map<string, Record<string, unknown>>();
    for (const t of traitRows) traitsOf.set(t.profile_id, { ...traitsOf.get(t.profile_id), [t.name]: JSON.parse(t.value) });
    // Not vacuous: letting the last call to arrive win would get these people wrong.
    expect(population.census['people whose traits would be wrong if the last call to arrive won']).toBeGreaterThan(PEOPLE / 20);
    const wrong: string[] = [];
    population.people.forEach((person, i) => {
      const profile = owners.get(person.anchor);
      const actual = (profile ? traitsOf.get(profile) : undefined) ?? {};
      if (!sameTraits(actual, population.traits[i])) wrong.push(`person ${i} (${person.anchor}): ${JSON.stringify(actual)} != ${JSON.stringify(population.traits[i])}`);
    });
    expect(wrong.slice(0, 5), `${wrong.length} of ${population.people.length} people have wrong traits`).toEqual([]);
  });

  it('resolves the same profiles whatever the size of the micro-batches', async () => {
    const other = await startServer(engine);
    try {
      await other.rapport.core.pipeline.stop();
      await sendPopulation(other);
      const { core } = other.rapport;
      const small = createPipeline({ ...core, metrics: createMetrics(), options: { batchSize: 47 } });
      expect(await small.drain()).toBe(population.calls.length);
      const comparison = sameProfiles(await resolvedProfiles(other.rapport.database.db), await resolvedProfiles(server.rapport.database.db));
      expect(comparison).toEqual({ differing: 0, examples: [] });
    } finally {
      await other.close();
    }
  }, 60_000);
});
