import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/app.js';
import { audiencesRelations } from '../../src/modules/audiences/index.js';
import { createProfileList, idsFilter, type ListFilter, type ProfileListQuery } from '../../src/modules/crm/profile-list.js';
import { openDatabase, type Database } from '../../src/platform/db/database.js';
import { migrateToLatest } from '../../src/platform/db/migrate.js';
import { ENGINES, type EngineStore } from '../support/engines.js';

/**
 * The list's three ways to find a page (start from a small set; walk an index testing a set read once; walk it
 * probing each profile) and its bounded walks (a short page whose cursor points past what was looked at), with
 * limits small enough that 90 profiles take every way: each query pages through its profiles exactly once, in
 * the order the rules give.
 */
const LIMITS = { small: 3, medium: 12, window: 7 };
const WS = 'ws-1';

interface Person { id: string; createdAt: number; merged: boolean; score?: number | string; audiences: string[]; owner?: string }

function people(): Person[] {
  let seed = 7;
  const next = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: 90 }, (_, i) => {
    const r = next();
    return {
      id: Math.floor(next() * 2 ** 32).toString(16).padStart(8, '0') + i.toString(16).padStart(2, '0'),
      createdAt: 1_000 + Math.floor(i / 3), // ties in threes
      merged: i % 17 === 5,
      // Numbers with ties (some negative), a few text values, some none at all.
      score: r < 0.55 ? Math.floor(next() * 12) - 3 : r < 0.62 ? 'gold' : undefined,
      audiences: [...(next() < 0.5 ? ['a-half'] : []), ...(next() < 0.1 ? ['a-tenth'] : [])],
      owner: i % 30 === 7 ? 'o2' : next() < 0.08 ? 'o1' : undefined,
    };
  });
}

describe.each(ENGINES)('pages of profiles by creation and by a computed trait, on $name', (engine) => {
  let store: EngineStore;
  let database: Database;
  const all = people();
  const list = createProfileList({ profiles: 'profiles', ...audiencesRelations }, LIMITS);

  beforeAll(async () => {
    store = await engine.create();
    database = openDatabase({ dataDir: store.dataDir, databaseUrl: store.databaseUrl });
    await migrateToLatest(database.db, MIGRATIONS);
    const db = database.db;
    await db.insertInto('profiles').values(all.map((p) => ({ id: p.id, workspace_id: WS, collection: 'users', created_offset: 1, created_at: p.createdAt, updated_at: p.createdAt, merges: 0, merged_into: p.merged ? all[0].id : null }))).execute();
    const definition = { workspace_id: WS, collection: 'users', definition: '{}', status: 'ready', computed_at: 1, created_at: 1, updated_at: 1 };
    await db.insertInto('computed_traits').values({ id: 't-score', key: 'score', name: 'Score', ...definition }).execute();
    const members = (a: string) => all.filter((p) => p.audiences.includes(a));
    // One audience with its size recorded, one without (counted on its index).
    await db.insertInto('audiences').values([
      { id: 'a-half', key: 'half', name: 'Half', description: null, size: members('a-half').length, ...definition },
      { id: 'a-tenth', key: 'tenth', name: 'Tenth', description: null, size: 0, ...definition },
    ]).execute();
    const scored = all.filter((p) => p.score !== undefined);
    await db.insertInto('computed_values').values(scored.map((p) => ({
      trait_id: 't-score', profile_id: p.id, workspace_id: WS, value: JSON.stringify(p.score), value_number: typeof p.score === 'number' ? p.score : null, updated_at: 1,
    }))).execute();
    for (const a of ['a-half', 'a-tenth']) {
      if (members(a).length) await db.insertInto('audience_members').values(members(a).map((p) => ({ audience_id: a, profile_id: p.id, workspace_id: WS, entered_at: 1 }))).execute();
    }
    await db.insertInto('crm_contacts').values(all.filter((p) => p.owner).map((p) => ({ profile_id: p.id, workspace_id: WS, owner_id: p.owner, lifecycle_stage: null, custom: '{}', version: 1, created_at: 1, updated_at: 1 }))).execute();
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });

  const owned = (owner: string): ListFilter => ({
    probe: (id) => sql`exists (select 1 from crm_contacts c where c.profile_id = ${id} and c.owner_id = ${owner})`,
    set: sql`select c.profile_id from crm_contacts c where c.workspace_id = ${WS} and c.owner_id = ${owner}`,
  });
  const page = async (q: Omit<ProfileListQuery, 'limit'>, byOwner?: string | ListFilter) => {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; ; pages++) {
      expect(pages, 'pages').toBeLessThan(200);
      const got = await list(database.db, { workspaceId: WS, collection: 'users', where: [], filters: byOwner ? [typeof byOwner === 'string' ? owned(byOwner) : byOwner] : [] }, { ...q, limit: 4, cursor });
      expect(got.rows.length).toBeLessThanOrEqual(4);
      ids.push(...got.rows.map((r) => r.id));
      if (!got.nextCursor) return ids;
      cursor = got.nextCursor;
    }
  };
  const byId = (a: Person, b: Person) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const newest = (a: Person, b: Person) => b.createdAt - a.createdAt || byId(b, a);
  const expected = (keep: (p: Person) => boolean, sort: 'created' | 'created asc' | 'score' | 'score asc') => {
    const live = all.filter((p) => !p.merged && keep(p));
    if (sort === 'created') return live.sort(newest).map((p) => p.id);
    if (sort === 'created asc') return live.sort((a, b) => newest(b, a)).map((p) => p.id);
    const n = (p: Person) => (typeof p.score === 'number' ? p.score : undefined);
    const numbered = live.filter((p) => n(p) !== undefined).sort((a, b) => (sort === 'score' ? n(b)! - n(a)! || byId(b, a) : n(a)! - n(b)! || byId(a, b)));
    return [...numbered, ...live.filter((p) => n(p) === undefined).sort(newest)].map((p) => p.id);
  };
  const inA = (a: string) => (p: Person) => p.audiences.includes(a);
  const any = () => true;

  const cases: [string, Omit<ProfileListQuery, 'limit'>, string | undefined, (p: Person) => boolean, Parameters<typeof expected>[1]][] = [
    ['newest first', {}, undefined, any, 'created'],
    ['oldest first', { order: 'asc' }, undefined, any, 'created asc'],
    ['by score, highest first', { sort: 'computed:score' }, undefined, any, 'score'],
    ['by score, lowest first', { sort: 'computed:score', order: 'asc' }, undefined, any, 'score asc'],
    ['an audience of half, newest first (walked, probed)', { audience: 'half' }, undefined, inA('a-half'), 'created'],
    ['an audience of half, by score (walked, probed)', { audience: 'half', sort: 'computed:score' }, undefined, inA('a-half'), 'score'],
    ['an audience of a tenth, by score (walked, a set read once)', { audience: 'tenth', sort: 'computed:score' }, undefined, inA('a-tenth'), 'score'],
    ['an audience of a tenth, oldest first', { audience: 'tenth', order: 'asc' }, undefined, inA('a-tenth'), 'created asc'],
    ['an owner, by score', { sort: 'computed:score' }, 'o1', (p) => p.owner === 'o1', 'score'],
    ['an owner and an audience, newest first', { audience: 'half' }, 'o1', (p) => p.owner === 'o1' && inA('a-half')(p), 'created'],
    ['an owner of three (started from), newest first', {}, 'o2', (p) => p.owner === 'o2', 'created'],
    ['an owner of three (started from), by score, lowest first', { sort: 'computed:score', order: 'asc' }, 'o2', (p) => p.owner === 'o2', 'score asc'],
    ['a score range, by the same score', { sort: 'computed:score', computed: 'score', computedMin: 0, computedMax: 5 }, undefined,
      (p) => typeof p.score === 'number' && p.score >= 0 && p.score <= 5, 'score'],
    ['a score range, newest first', { computed: 'score', computedMin: 2 }, undefined, (p) => typeof p.score === 'number' && p.score >= 2, 'created'],
    ['a text value, by score', { computed: 'score', computedEq: 'gold', sort: 'computed:score', order: 'asc' }, undefined, (p) => p.score === 'gold', 'score asc'],
    ['any score, an audience, by score', { computed: 'score', audience: 'half', sort: 'computed:score' }, undefined, (p) => p.score !== undefined && inA('a-half')(p), 'score'],
  ];
  // Ids read beforehand (a list's full-text matches) as one parameter: few (the page starts from them), a dozen
  // (a set read once while walking), more (probed per profile), merged ones among them.
  const picked = (every: number) => all.filter((_, i) => i % every === 0);
  for (const [name, every, q, sort] of [
    ['three ids, newest first', 30, {}, 'created'], ['a dozen ids, by score', 8, { sort: 'computed:score' }, 'score'],
    ['thirty ids, oldest first', 3, { order: 'asc' }, 'created asc'], ['thirty ids and an audience, by score, lowest first', 3, { audience: 'half', sort: 'computed:score', order: 'asc' }, 'score asc'],
  ] as [string, number, Omit<ProfileListQuery, 'limit'>, Parameters<typeof expected>[1]][]) {
    it(`pages through ${name}, each profile once, in order`, async () => {
      const ids = new Set(picked(every).map((p) => p.id));
      const keep = (p: Person) => ids.has(p.id) && (!q.audience || inA('a-half')(p));
      const want = expected(keep, sort);
      expect(want.length).toBeGreaterThan(0);
      expect(await page(q, idsFilter(database.db, [...ids]))).toEqual(want);
    });
  }
  it('lists nothing for an empty set of ids', async () => {
    expect(await page({}, idsFilter(database.db, []))).toEqual([]);
  });

  for (const [name, q, byOwner, keep, sort] of cases) {
    it(`pages through ${name}, each profile once, in order`, async () => {
      const want = expected(keep, sort);
      expect(want.length).toBeGreaterThan(0);
      expect(await page(q, byOwner)).toEqual(want);
    });
  }
});
