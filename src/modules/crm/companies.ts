import { sql, type Kysely, type RawBuilder } from 'kysely';
import { errors } from '../../platform/errors.js';
import { checkIfMatch } from './concurrency.js';
import type { ContactsDeps } from './contacts.js';
import { validateValues, type FieldDefinition } from './custom-fields.js';
import { appendAndWait, appendCrmEvent } from './events.js';
import { computedAndAudiencesOf, type ComputedAndAudiences } from './computed-traits.js';
import { createProfileList, searchListFilter, type ListFilter, type ProfileListQuery } from './profile-list.js';
import { timeline, type TimelineQuery } from './timeline.js';
import { ALL_RECORDS, assertVisible, isVisible, ownerVisible, type RecordScope } from './record-scope.js';

export interface CompanyInput {
  groupId?: string;
  domain?: string;
  name?: string;
  industry?: string;
  employees?: number;
  ownerId?: string | null;
  custom?: Record<string, unknown>;
}

const traitProperties = {
  name: { type: 'string', minLength: 1, maxLength: 300, pattern: '\\S' },
  domain: { type: 'string', minLength: 3, maxLength: 253, pattern: '^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$', description: 'The company\'s web domain, e.g. acme.com.' },
  industry: { type: 'string', minLength: 1, maxLength: 200 },
  employees: { type: 'integer', minimum: 0, maximum: 10_000_000 },
};
const crmProperties = { ownerId: { type: ['string', 'null'], maxLength: 200 }, custom: { type: 'object' } };
export const companyCreateSchema = {
  type: 'object', additionalProperties: false, anyOf: [{ required: ['groupId'] }, { required: ['domain'] }],
  properties: { groupId: { type: 'string', minLength: 1, maxLength: 200, description: 'The account id your product sends in group calls; default: the domain.' }, ...traitProperties, ...crmProperties },
};
export const companyUpdateSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties: { ...traitProperties, ...crmProperties } };

interface CompanyRow { profile_id: string; workspace_id: string; owner_id: string | null; custom: string; version: number; created_at: number; updated_at: number }

export interface Company extends ComputedAndAudiences {
  id: string;
  createdAt: number;
  traits: Record<string, unknown>;
  contactIds: string[];
  crm: CompanyRow | undefined;
}

const TRAITS = ['name', 'domain', 'website', 'industry', 'employees'];

/** Domains are kept lower-case (a domain names one company whatever its case: the import finds it by that). */
const normalized = (input: CompanyInput): CompanyInput => (input.domain === undefined ? input : { ...input, domain: input.domain.toLowerCase() });

/**
 * Companies are account profiles: the CRM shows their traits (set by group calls) and keeps owner and custom
 * fields beside them. A company is found or created by its group id (the domain when none is given) through
 * the log, like a group call; its contacts are the people linked to the account.
 */
export function createCompanies(deps: ContactsDeps & { byGroupId(db: Kysely<any>, workspaceId: string, groupId: string): Promise<string | undefined> }, fields: (db: Kysely<any>, workspaceId: string) => Promise<FieldDefinition[]>) {
  const r = deps.relations;
  const listPage = createProfileList(r);

  async function load(db: Kysely<any>, profiles: { id: string; created_at: number }[]): Promise<Company[]> {
    if (profiles.length === 0) return [];
    const ids = profiles.map((p) => p.id);
    const traits = await sql<{ profile_id: string; name: string; value: string }>`select profile_id, name, value from ${sql.table(r.traits)} where profile_id in (${sql.join(ids)}) and name in (${sql.join(TRAITS)})`.execute(db);
    const links = await sql<{ user_profile_id: string; account_profile_id: string }>`select user_profile_id, account_profile_id from ${sql.table(r.links)} where account_profile_id in (${sql.join(ids)}) order by created_at`.execute(db);
    const crm = await (db as Kysely<{ crm_companies: CompanyRow }>).selectFrom('crm_companies').selectAll().where('profile_id', 'in', ids).execute();
    const live = await deps.liveIds(db, [...new Set(links.rows.map((l) => l.user_profile_id))]);
    const computed = await computedAndAudiencesOf(db, r, ids);
    return profiles.map((p) => ({
      id: p.id, createdAt: Number(p.created_at), ...computed.get(p.id)!,
      traits: Object.fromEntries(traits.rows.filter((t) => t.profile_id === p.id).map((t) => [t.name, JSON.parse(t.value) as unknown])),
      contactIds: [...new Set(links.rows.filter((l) => l.account_profile_id === p.id).map((l) => live.get(l.user_profile_id) ?? l.user_profile_id))],
      crm: crm.find((c) => c.profile_id === p.id),
    }));
  }

  async function get(db: Kysely<any>, workspaceId: string, id: string, scope: RecordScope = ALL_RECORDS): Promise<Company> {
    const p = await deps.profile(db, workspaceId, id);
    if (!p || p.collection !== 'accounts') throw errors.notFound('Company');
    const rows = await sql<{ id: string; created_at: number }>`select id, created_at from ${sql.table(r.profiles)} where id = ${p.id}`.execute(db);
    const company = (await load(db, rows.rows))[0];
    assertVisible(company.crm?.owner_id, scope, 'Company');
    return company;
  }

  const traitsOf = (input: CompanyInput) => Object.fromEntries((['name', 'domain', 'industry', 'employees'] as const).filter((k) => input[k] !== undefined).map((k) => [k, input[k]]));

  async function saveCrm(db: Kysely<any>, workspaceId: string, profileId: string, input: CompanyInput, ifMatch?: string): Promise<boolean> {
    const t = db as Kysely<{ crm_companies: CompanyRow }>;
    // Two first writes at once (the same new person twice): the insert of the second finds the row taken, and it
    // is read again and applied as a change.
    await t.insertInto('crm_companies').values({ profile_id: profileId, workspace_id: workspaceId, owner_id: null, custom: '{}', version: 0, created_at: deps.now(), updated_at: deps.now() })
      .onConflict((oc) => oc.column('profile_id').doNothing()).execute();
    let q = t.selectFrom('crm_companies').selectAll().where('profile_id', '=', profileId);
    if (deps.postgres) q = q.forUpdate();
    const found = await q.executeTakeFirstOrThrow();
    // Version 0: the row was only just reserved, and this write is the record's first.
    const current = Number(found.version) === 0 ? undefined : found;
    checkIfMatch(ifMatch, { id: profileId, version: Number(current?.version ?? 0) }, 'company');
    if (current && input.ownerId === undefined && input.custom === undefined) return false;
    const defs = await fields(db, workspaceId);
    const custom = { ...(current ? JSON.parse(current.custom) : {}), ...validateValues(defs, input.custom ?? {}, current ? 'update' : 'create') } as Record<string, unknown>;
    for (const [k, v] of Object.entries(custom)) if (v === null || !defs.some((d) => d.key === k)) delete custom[k];
    const now = deps.now();
    const row = { owner_id: input.ownerId === undefined ? current?.owner_id ?? null : input.ownerId, custom: JSON.stringify(custom), updated_at: now };
    if (current) {
      const done = await t.updateTable('crm_companies').set({ ...row, version: Number(current.version) + 1 }).where('profile_id', '=', profileId).where('version', '=', current.version).executeTakeFirst();
      if (Number(done.numUpdatedRows) !== 1) throw errors.preconditionFailed('The company changed while this change was applied; read it again.');
    } else {
      await t.updateTable('crm_companies').set({ ...row, version: 1, created_at: now }).where('profile_id', '=', profileId).where('version', '=', 0).execute();
    }
    return !current;
  }

  return {
    get,
    /** Account profiles, newest first or by a computed trait, filtered by owner, full-text search, audience and computed trait, keyset-paginated (see profile-list.ts). */
    async list(db: Kysely<any>, workspaceId: string, q: ProfileListQuery & { ownerId?: string; q?: string }, scope: RecordScope = ALL_RECORDS) {
      const where: RawBuilder<unknown>[] = scope.all ? [] : [sql`not exists (select 1 from crm_companies c where c.profile_id = p.id and not ${ownerVisible('c.owner_id', scope)})`];
      const filters: ListFilter[] = q.ownerId
        ? [{ probe: (id) => sql`exists (select 1 from crm_companies c where c.profile_id = ${id} and c.owner_id = ${q.ownerId})`, set: sql`select c.profile_id from crm_companies c where c.workspace_id = ${workspaceId} and c.owner_id = ${q.ownerId}` }]
        : [];
      if (q.q) filters.push(await searchListFilter(db, deps.search, workspaceId, 'company', q.q));
      const page = await listPage(db, { workspaceId, collection: 'accounts', where, filters }, q);
      return { companies: await load(db, page.rows), nextCursor: page.nextCursor };
    },
    async create(db: Kysely<any>, workspaceId: string, raw: CompanyInput, scope: RecordScope = ALL_RECORDS): Promise<{ company: Company; created: boolean }> {
      const input = normalized(raw);
      validateValues(await fields(db, workspaceId), input.custom ?? {}, 'create');
      const groupId = (input.groupId ?? input.domain!).trim();
      const existing = await deps.byGroupId(db, workspaceId, groupId);
      // The group id is the account's: one the caller may not see is neither shown nor changed (its traits included).
      if (existing && !scope.all) {
        const crm = await (db as Kysely<{ crm_companies: CompanyRow }>).selectFrom('crm_companies').select('owner_id').where('profile_id', '=', existing).executeTakeFirst();
        if (!isVisible(crm?.owner_id, scope)) throw errors.conflict('A company with this group id or domain exists already, owned outside your teams.');
      }
      await appendAndWait(db, deps, workspaceId, { type: 'group', groupId: existing ? undefined : groupId, traits: traitsOf(input), profileId: existing });
      const profileId = existing ?? (await deps.byGroupId(db, workspaceId, groupId));
      if (!profileId) throw errors.unavailable('The company\'s profile was not found after the pipeline applied it; retry.');
      await db.transaction().execute(async (tx) => {
        if (await saveCrm(tx, workspaceId, profileId, input)) {
          await appendCrmEvent(tx, deps, { workspaceId, event: 'Company Created', profileId, collection: 'accounts', properties: { group_id: groupId, name: input.name ?? null, domain: input.domain ?? null, owner_id: input.ownerId ?? null } });
        }
      });
      return { company: await get(db, workspaceId, profileId), created: existing === undefined };
    },
    async update(db: Kysely<any>, workspaceId: string, id: string, raw: CompanyInput, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<Company> {
      const input = normalized(raw);
      const company = await get(db, workspaceId, id, scope);
      await db.transaction().execute((tx) => saveCrm(tx, workspaceId, company.id, input, ifMatch));
      const traits = traitsOf(input);
      if (Object.keys(traits).length) await appendAndWait(db, deps, workspaceId, { type: 'group', traits, profileId: company.id });
      return get(db, workspaceId, company.id);
    },
    async timeline(db: Kysely<any>, workspaceId: string, id: string, q: TimelineQuery, scope: RecordScope = ALL_RECORDS) {
      const company = await get(db, workspaceId, id, scope);
      return timeline(db, deps, workspaceId, company.id, q);
    },
  };
}

export type Companies = ReturnType<typeof createCompanies>;
