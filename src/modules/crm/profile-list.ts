import { sql, type Kysely, type RawBuilder } from 'kysely';
import { isPostgres } from '../../platform/db/migrate.js';
import { errors } from '../../platform/errors.js';
import { decodeSortCursor, encodeSortCursor } from './cursor.js';
import type { Search } from './search.js';

/** The audiences module's tables a list reads (read-only): values of computed traits and scores, memberships. */
export interface AudienceRelations {
  computedTraits: string;
  computedValues: string;
  audiences: string;
  audienceMembers: string;
}

type Collection = 'users' | 'accounts';

/** What contacts' and companies' lists share: filters by audience and by a computed trait, and the sort. */
export interface ProfileListQuery {
  limit: number;
  cursor?: string;
  sort?: string;
  order?: 'asc' | 'desc';
  audience?: string;
  computed?: string;
  computedMin?: number;
  computedMax?: number;
  computedEq?: string;
}

/** The querystring of those parameters, as the routes (and saved views) declare them. */
export const profileListProperties = (records: string) => ({
  sort: {
    type: 'string', pattern: '^(createdAt|computed:.+)$',
    description: `createdAt (the default), or computed:<key> (or computed:<id>) of a computed trait or score: ${records} by its numeric value, those without a number after them (newest first).`,
  },
  order: { enum: ['asc', 'desc'], description: 'Default desc: newest first, or the highest value first.' },
  audience: { type: 'string', minLength: 1, maxLength: 200, description: `Only ${records} in this audience (its key or id).` },
  computed: {
    type: 'string', minLength: 1, maxLength: 200,
    description: `Only ${records} with a value for this computed trait or score (its key or id); narrowed by computedMin and computedMax, or by computedEq.`,
  },
  computedMin: { type: 'number', description: 'With computed: the value is a number at least this.' },
  computedMax: { type: 'number', description: 'With computed: the value is a number at most this.' },
  computedEq: {
    type: 'string', minLength: 1, maxLength: 1000,
    description: 'With computed: the value equals this. A number or true/false is matched as one; anything else as text (quote it as JSON, "\\"42\\"", to match text that looks like a number).',
  },
});

/** A restriction of a list, two ways: the condition a profile id passes, and the set it allows (`select profile_id …`). */
export interface ListFilter {
  probe: (id: RawBuilder<unknown>) => RawBuilder<unknown>;
  set: RawBuilder<unknown>;
  /** How many the set holds, when known without counting (an audience's size). */
  size?: number;
  /** A cheaper membership test than `id in (set)`, where the engine has one (see idsFilter). */
  member?: (id: RawBuilder<unknown>) => RawBuilder<unknown>;
}

/** A filter by ids already read, sent as one parameter that the engine unrolls (SQLite json_each, PostgreSQL unnest). */
export function idsFilter(db: Kysely<any>, ids: string[]): ListFilter {
  if (isPostgres(db)) {
    // `= any(array)` is looked up in a hash of the array; `in (select unnest(…))` was a loop over it for every
    // profile walked (the planner takes an unnested parameter for 10 rows): 1.6 s for 11,000 ids.
    const member = (id: RawBuilder<unknown>) => sql`${id} = any(cast(${ids} as text[]))`;
    return { probe: member, member, set: sql`select unnest(cast(${ids} as text[])) as profile_id`, size: ids.length };
  }
  const set = sql`select value as profile_id from json_each(${JSON.stringify(ids)})`;
  return { probe: (id) => sql`${id} in (${set})`, set, size: ids.length };
}

/**
 * A list's full-text filter. The matches are read once, up to LIST_LIMITS.medium: as ids they are the set the
 * page starts from or tests entries against, sized without counting, where the query itself would run the
 * full-text match three times (two counts, then the set). More matches than that (a word many records hold)
 * are not read at all: each profile the page walks has its own document tested (`documentMatches`), which
 * finds a page after a few hundred profiles where the set of every match would cost hundreds of milliseconds.
 */
export async function searchListFilter(db: Kysely<any>, search: Search, workspaceId: string, object: 'contact' | 'company', q: string, limits = LIST_LIMITS): Promise<ListFilter> {
  const matching = search.matching(db, workspaceId, object, q);
  const byDocument = (size: number): ListFilter => ({ probe: search.documentMatches(db, workspaceId, object, q), set: sql`select m.record_id as profile_id from (${matching}) m`, size });
  // PostgreSQL reads 20,000 matches from the heap in ~80 ms (1M contacts): when its planner expects far more
  // than that, they are not read at all. A wrong guess costs short pages, never wrong ones.
  if (isPostgres(db)) {
    const expected = await plannedRows(db, matching);
    if (expected > limits.medium * 2) return byDocument(expected);
  }
  const ids = (await sql<{ record_id: string }>`${matching} limit ${limits.medium + 1}`.execute(db)).rows.map((r) => r.record_id);
  return ids.length <= limits.medium ? idsFilter(db, ids) : byDocument(ids.length);
}

/** How many rows PostgreSQL's planner expects a query to return (its statistics; nothing is run). */
async function plannedRows(db: Kysely<any>, query: RawBuilder<unknown>): Promise<number> {
  const plan = (await sql<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>`explain (format json) ${query}`.execute(db)).rows[0]['QUERY PLAN'];
  return Number(plan[0].Plan['Plan Rows']) || 0;
}

/** What a list adds of its own (known profiles, search; CRM fields as filters). */
export interface ListScope {
  workspaceId: string;
  collection: Collection;
  where: RawBuilder<unknown>[];
  filters: ListFilter[];
}

export interface ListedProfile { id: string; created_at: number }

/**
 * How a filter is applied depends on how many profiles it allows (counted on its index, no further than needed):
 * up to `small`, the page starts from that set and sorts it (at a million profiles, 800 CRM records: 3 ms, where
 * walking profiles to find 50 of them took 170 ms); past that, the page walks the sort's index and checks what it
 * reaches. Along a computed trait's index, a set of up to `medium` is read once and each entry tested against it
 * before its profile is read (an owner's 5,000 contacts among 600,000 scores: one entry in 120 passes).
 * A walk looks at no more than `window` entries for one page (see page()).
 */
export const LIST_LIMITS = { small: 2_000, medium: 20_000, window: 10_000 };

type Walked = { rows: { id: string; created_at: number; value: number | null }[]; edge?: { id: string; created_at: number; value: number | null } };
const TEXT_PREFIX = 64;

/**
 * The keyset-paginated page of a contacts or companies list over profiles (alias `p`): newest first by
 * default, or by a computed trait's numeric value (profiles without one after, newest first). Cursors are
 * bound to their sort and order.
 */
export function createProfileList(r: AudienceRelations & { profiles: string }, limits = LIST_LIMITS) {
  const values = sql.table(r.computedValues);

  async function definition(db: Kysely<any>, table: string, what: string, workspaceId: string, collection: Collection, ref: string) {
    const found = (await sql<{ id: string; key: string; collection: string; size?: number }>`select * from ${sql.table(table)}
      where workspace_id = ${workspaceId} and (key = ${ref} or id = ${ref})`.execute(db)).rows;
    const row = found.find((f) => f.key === ref) ?? found[0];
    if (!row) throw errors.validation(`There is no ${what} "${ref}".`);
    if (row.collection !== collection) throw errors.validation(`The ${what} "${row.key}" is computed for ${row.collection}, not ${collection}.`);
    return row;
  }

  const count = async (db: Kysely<any>, set: RawBuilder<unknown>, upTo: number) =>
    Number((await sql<{ n: number }>`select count(*) as n from (${set} limit ${upTo + 1}) x`.execute(db)).rows[0].n);

  return async function page(db: Kysely<any>, scope: ListScope, q: ProfileListQuery): Promise<{ rows: ListedProfile[]; nextCursor: string | null }> {
    const { workspaceId: ws, collection } = scope;
    const filters = [...scope.filters];
    if (q.audience) {
      const a = await definition(db, r.audiences, 'audience', ws, collection, q.audience);
      filters.push({
        probe: (id) => sql`exists (select 1 from ${sql.table(r.audienceMembers)} m where m.audience_id = ${a.id} and m.profile_id = ${id})`,
        set: sql`select m.profile_id from ${sql.table(r.audienceMembers)} m where m.audience_id = ${a.id}`,
        size: Number(a.size) || undefined,
      });
    }
    const order = q.order ?? 'desc';
    const trait = q.sort?.startsWith('computed:') ? await definition(db, r.computedTraits, 'computed trait', ws, collection, q.sort.slice('computed:'.length)) : undefined;
    const test = valueTestOf(q);
    const filtered = q.computed ? await definition(db, r.computedTraits, 'computed trait', ws, collection, q.computed) : undefined;
    // Sorted by the trait a range filters on: the walk along its index keeps to that range, and no one without a number is listed.
    const sameRange = trait !== undefined && filtered?.id === trait.id && test.kind === 'range';
    if (filtered && !sameRange) {
      filters.push({
        probe: (id) => sql`exists (select 1 from ${values} f where f.trait_id = ${filtered.id} and f.profile_id = ${id} ${valueSql(test, 'f', 'probe')})`,
        set: sql`select f.profile_id from ${values} f where f.trait_id = ${filtered.id} ${valueSql(test, 'f', 'index')}`,
      });
    } else if (!filtered && test.kind !== 'any') {
      throw errors.validation('computedMin, computedMax and computedEq need computed: the computed trait to test.');
    }

    const sortName = trait ? `computed:${trait.key}` : 'createdAt';
    const after = q.cursor ? decodeSortCursor(q.cursor, sortName, order) : undefined;
    const refused = () => errors.invalidRequest('The cursor is not one this API gave out.');

    // Each filter's size decides how it is applied (see LIST_LIMITS); an empty one is an empty list.
    const sized: (ListFilter & { n: number })[] = [];
    for (const f of filters) {
      if (f.size) {
        sized.push({ ...f, n: f.size });
        continue;
      }
      let n = await count(db, f.set, limits.small);
      if (n === 0) return { rows: [], nextCursor: null };
      if (n > limits.small) n = await count(db, f.set, limits.medium);
      sized.push({ ...f, n });
    }
    sized.sort((a, b) => a.n - b.n);
    const driver = sized[0]?.n <= limits.small ? sized.shift() : undefined;
    const live = [sql`p.workspace_id = ${ws}`, sql`p.collection = ${collection}`, sql`p.merged_into is null`];
    // The filters before the list's own conditions (known, …), which cost a lookup each. Walking an index, the
    // filters of up to `medium` are sets read once and each entry is tested against them; the larger ones are
    // probed. Walking a computed trait's values, they are tested on the entry's profile id, before the profile is read.
    const tests = (walkingValues: boolean) => {
      const id = walkingValues && !driver ? sql`s.profile_id` : sql`p.id`;
      return [
        ...sized.filter((f) => !driver && f.n <= limits.medium).map((f) => (f.member ? f.member(id) : sql`${id} in (${f.set})`)),
        ...sized.filter((f) => driver || f.n > limits.medium).map((f) => f.probe(id)), ...scope.where,
      ];
    };
    const and = (conditions: RawBuilder<unknown>[]) => sql.join(conditions, sql` and `);
    const profiles = sql.table(r.profiles);

    /** Profiles by creation after the cursor's (created_at, id), with the extra conditions. */
    const byCreation = async (limit: number, extra: RawBuilder<unknown>[], desc: boolean, cursor?: { at: number; id: string }): Promise<Walked> => {
      // The bound first, so the index on created_at is entered at the cursor rather than scanned down to it.
      const bound = !cursor ? sql``
        : desc ? sql`and p.created_at <= ${cursor.at} and (p.created_at < ${cursor.at} or p.id < ${cursor.id})`
          : sql`and p.created_at >= ${cursor.at} and (p.created_at > ${cursor.at} or p.id > ${cursor.id})`;
      const by = sql.raw(desc ? 'desc' : 'asc');
      const row = (x: ListedProfile) => ({ id: x.id, created_at: Number(x.created_at), value: null });
      if (driver) {
        // CROSS JOIN: SQLite keeps the set as the outer loop (without statistics it would walk every profile). The
        // sort key as an expression (`+ 0`): no index gives that order, so PostgreSQL too starts from the set and
        // sorts it, rather than walk an index in order and look each profile up in the set.
        const found = await sql<ListedProfile>`select p.id, p.created_at from (${driver.set}) d cross join ${profiles} p
          where p.id = d.profile_id and ${and([...live, ...extra, ...tests(false)])} ${bound}
          order by p.created_at + 0 ${by}, p.id ${by} limit ${limit}`.execute(db);
        return { rows: found.rows.map(row) };
      }
      const walk = sql`select p.id, p.created_at from ${profiles} p where ${and(live)} ${bound} order by p.created_at ${by}, p.id ${by}`;
      const found = await sql<ListedProfile>`select p.id, p.created_at from (${walk} limit ${limits.window}) p
        where ${and([sql`1 = 1`, ...extra, ...tests(false)])} order by p.created_at ${by}, p.id ${by} limit ${limit}`.execute(db);
      const rows = found.rows.map(row);
      if (rows.length === limit) return { rows };
      const edge = (await sql<ListedProfile>`${walk} limit 1 offset ${limits.window - 1}`.execute(db)).rows[0];
      return { rows, edge: edge && row(edge) };
    };

    /** Profiles by the trait's number after the cursor's (value, id). */
    const byValue = async (limit: number, cursor?: { value: number; id: string }): Promise<Walked> => {
      const dir = sql.raw(order);
      const bound = !cursor ? sql``
        : order === 'desc' ? sql`and s.value_number <= ${cursor.value} and (s.value_number < ${cursor.value} or s.profile_id < ${cursor.id})`
          : sql`and s.value_number >= ${cursor.value} and (s.value_number > ${cursor.value} or s.profile_id > ${cursor.id})`;
      const row = (x: { profile_id: string; created_at?: number; value_number: number }) => ({ id: x.profile_id, created_at: Number(x.created_at ?? 0), value: Number(x.value_number) });
      if (driver) {
        // From a small set: its values, found by the primary key, sorted (see byCreation).
        const found = await sql<{ profile_id: string; created_at: number; value_number: number }>`select p.id as profile_id, p.created_at, s.value_number
          from (${driver.set}) d cross join ${profiles} p cross join ${values} s
          where p.id = d.profile_id and s.trait_id = ${trait!.id} and s.profile_id = p.id ${valueSql(sameRange ? test : { kind: 'range' }, 's', 'probe')} ${bound}
          and ${and([...live, ...tests(true)])} order by s.value_number + 0 ${dir}, s.profile_id ${dir} limit ${limit}`.execute(db);
        return { rows: found.rows.map(row) };
      }
      // Walking the trait's values in order (their index), each entry tested.
      const walk = sql`select s.profile_id, s.value_number from ${values} s where s.trait_id = ${trait!.id} ${valueSql(sameRange ? test : { kind: 'range' }, 's', 'index')} ${bound}
        order by s.value_number ${dir}, s.profile_id ${dir}`;
      const found = await sql<{ profile_id: string; created_at: number; value_number: number }>`select p.id as profile_id, p.created_at, s.value_number
        from (${walk} limit ${limits.window}) s cross join ${profiles} p where ${and([...tests(true), sql`p.id = s.profile_id`, ...live])}
        order by s.value_number ${dir}, s.profile_id ${dir} limit ${limit}`.execute(db);
      const rows = found.rows.map(row);
      if (rows.length === limit) return { rows };
      const edge = (await sql<{ profile_id: string; value_number: number }>`${walk} limit 1 offset ${limits.window - 1}`.execute(db)).rows[0];
      return { rows, edge: edge && row(edge) };
    };

    // A walk looks at no more than `window` entries past the cursor: when it finds fewer than a page there, the page
    // is short and its cursor points past the last entry looked at (the list is done only when nextCursor is null).
    let walked: Walked;
    const key = after?.key;
    if (!trait) {
      if (after && !Number.isSafeInteger(key)) throw refused();
      walked = await byCreation(q.limit + 1, [], order === 'desc', after && { at: key as number, id: after.id });
    } else {
      // Those with a number, by it (ties by id); then those without one, newest first.
      const inMissing = typeof key === 'object' && key !== null && Number.isSafeInteger((key as { at?: unknown }).at);
      if (after && !inMissing && !(typeof key === 'number' && Number.isFinite(key))) throw refused();
      walked = { rows: [] };
      if (!inMissing) walked = await byValue(q.limit + 1, after && { value: key as number, id: after.id });
      if (walked.rows.length <= q.limit && !walked.edge && !sameRange) {
        const none = sql`not exists (select 1 from ${values} s where s.trait_id = ${trait.id} and s.profile_id = p.id ${valueSql({ kind: 'range' }, 's', 'probe')})`;
        const more = await byCreation(q.limit + 1 - walked.rows.length, [none], true, inMissing ? { at: (key as { at: number }).at, id: after!.id } : undefined);
        walked = { rows: [...walked.rows, ...more.rows], edge: more.edge };
      }
    }
    const rows = walked.rows.slice(0, q.limit);
    const last = walked.rows.length > q.limit ? rows[rows.length - 1] : walked.edge;
    const keyOf = (x: Walked['rows'][number]) => (!trait ? x.created_at : x.value !== null ? x.value : { at: x.created_at });
    return { rows: rows.map((x) => ({ id: x.id, created_at: x.created_at })), nextCursor: last ? encodeSortCursor(sortName, order, keyOf(last), last.id) : null };
  };
}

type ValueTest = { kind: 'any' } | { kind: 'range'; min?: number; max?: number } | { kind: 'text'; json: string };

/** What computedMin/Max/Eq ask of a value: any, a numeric range (an equal number is one), or exact text (or true/false). */
function valueTestOf(q: ProfileListQuery): ValueTest {
  const range = q.computedMin !== undefined || q.computedMax !== undefined;
  if (q.computedEq !== undefined && range) throw errors.validation('computedEq cannot be combined with computedMin or computedMax.');
  if (range) return { kind: 'range', min: q.computedMin, max: q.computedMax };
  if (q.computedEq === undefined) return { kind: 'any' };
  let value: unknown = q.computedEq;
  try {
    const parsed: unknown = JSON.parse(q.computedEq);
    if (typeof parsed === 'number' || typeof parsed === 'boolean' || typeof parsed === 'string') value = parsed;
  } catch {
    // Not JSON: plain text.
  }
  return typeof value === 'number' ? { kind: 'range', min: value, max: value } : { kind: 'text', json: JSON.stringify(value) };
}

/**
 * The test on a computed value row (`alias`): `index` to find the rows through the value indexes, `probe` to
 * check one profile's row through the primary key. A probe writes the number as `+value_number`, which no
 * index serves: SQLite (without statistics) would otherwise pick the covering value index and scan a whole
 * range of it for every profile checked.
 */
function valueSql(test: ValueTest, alias: 'f' | 's', use: 'index' | 'probe'): RawBuilder<unknown> {
  const number = sql.raw(use === 'probe' ? `+${alias}.value_number` : `${alias}.value_number`);
  if (test.kind === 'any') return sql``;
  if (test.kind === 'range') {
    return sql`and ${number} is not null ${test.min !== undefined ? sql`and ${number} >= ${test.min}` : sql``} ${test.max !== undefined ? sql`and ${number} <= ${test.max}` : sql``}`;
  }
  const value = sql.raw(`${alias}.value`);
  if (use === 'probe') return sql`and ${sql.raw(alias)}.value_number is null and ${value} = ${test.json}`;
  // Through the index on the text's first characters (as both engines count them: code points), then exactly.
  return sql`and ${sql.raw(alias)}.value_number is null and substr(${value}, 1, 64) = ${[...test.json].slice(0, TEXT_PREFIX).join('')} and ${value} = ${test.json}`;
}
