import { sql, type Kysely, type RawBuilder } from 'kysely';
import { errors } from '../../platform/errors.js';
import { ALL_RECORDS, assertVisible, isVisible, ownerVisible, type RecordScope } from './record-scope.js';
import { checkIfMatch } from './concurrency.js';
import { validateValues, type FieldDefinition } from './custom-fields.js';
import type { DealsDeps } from './deals.js';
import { appendAndWait, appendCrmEvent } from './events.js';
import { computedAndAudiencesOf, type ComputedAndAudiences } from './computed-traits.js';
import { createProfileList, searchListFilter, type AudienceRelations, type ListFilter, type ProfileListQuery } from './profile-list.js';
import { timeline, type TimelineDeps, type TimelineQuery } from './timeline.js';

export const LIFECYCLE_STAGES = ['subscriber', 'lead', 'marketing_qualified_lead', 'sales_qualified_lead', 'opportunity', 'customer', 'evangelist', 'other'] as const;

/** Where the contact view reads the profile half (tables owned by identity, profiles and audiences, read-only here). */
export interface ContactRelations extends AudienceRelations {
  profiles: string;
  identifiers: string;
  links: string;
  traits: string;
}

export interface ContactsDeps extends DealsDeps, TimelineDeps {
  relations: ContactRelations;
  /** The live person profile holding an email, if any (the email normalised as the pipeline stores it). */
  byEmail(db: Kysely<any>, workspaceId: string, email: string): Promise<string | undefined>;
  /** Whether the pipeline has applied the log event with this messageId. */
  applied(db: Kysely<any>, workspaceId: string, messageId: string): Promise<boolean>;
  /** Whether a privacy request keeps this email out (suppressed or deleted): its calls would be dropped. */
  suppressedEmail?(db: Kysely<any>, workspaceId: string, email: string): Promise<boolean>;
}

export interface ContactInput {
  email?: string;
  name?: string;
  firstName?: string;
  lastName?: string;
  phone?: string;
  title?: string;
  ownerId?: string | null;
  lifecycleStage?: (typeof LIFECYCLE_STAGES)[number] | null;
  custom?: Record<string, unknown>;
}

const traitProperties = {
  name: { type: 'string', minLength: 1, maxLength: 300 }, firstName: { type: 'string', minLength: 1, maxLength: 200 }, lastName: { type: 'string', minLength: 1, maxLength: 200 },
  phone: { type: 'string', minLength: 3, maxLength: 40 }, title: { type: 'string', minLength: 1, maxLength: 300 },
};
const crmProperties = {
  ownerId: { type: ['string', 'null'], maxLength: 200 }, lifecycleStage: { enum: [...LIFECYCLE_STAGES, null] }, custom: { type: 'object' },
};
export const contactCreateSchema = {
  type: 'object', additionalProperties: false, required: ['email'],
  properties: { email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' }, ...traitProperties, ...crmProperties },
};
export const contactUpdateSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties: { ...traitProperties, ...crmProperties } };

/** The traits a contact shows, by their Segment spec names. */
const TRAITS = ['name', 'firstName', 'lastName', 'first_name', 'last_name', 'email', 'phone', 'title'];

export interface ContactRow { profile_id: string; workspace_id: string; owner_id: string | null; lifecycle_stage: string | null; custom: string; version: number; created_at: number; updated_at: number }

export interface Contact extends ComputedAndAudiences {
  id: string;
  createdAt: number;
  traits: Record<string, unknown>;
  companyIds: string[];
  crm: ContactRow | undefined;
}

export interface ContactQuery extends ProfileListQuery {
  ownerId?: string;
  lifecycleStage?: string;
  q?: string;
}

/**
 * Contacts are person profiles that are known (they hold an email or a user id): the CRM shows their
 * traits and keeps its own fields beside them. Creating a contact goes through the log like any identify
 * call, so the identity graph finds (by email) or creates its profile; the request waits for that.
 */
export function createContacts(deps: ContactsDeps, fields: (db: Kysely<any>, workspaceId: string) => Promise<FieldDefinition[]>) {
  const r = deps.relations;
  const listPage = createProfileList(r);

  async function load(db: Kysely<any>, profiles: { id: string; created_at: number }[]): Promise<Contact[]> {
    if (profiles.length === 0) return [];
    const ids = profiles.map((p) => p.id);
    const traits = await sql<{ profile_id: string; name: string; value: string }>`select profile_id, name, value from ${sql.table(r.traits)}
      where profile_id in (${sql.join(ids)}) and name in (${sql.join(TRAITS)})`.execute(db);
    const links = await sql<{ user_profile_id: string; account_profile_id: string }>`select user_profile_id, account_profile_id from ${sql.table(r.links)}
      where user_profile_id in (${sql.join(ids)}) order by created_at`.execute(db);
    const crm = await (db as Kysely<{ crm_contacts: ContactRow }>).selectFrom('crm_contacts').selectAll().where('profile_id', 'in', ids).execute();
    const computed = await computedAndAudiencesOf(db, r, ids);
    return profiles.map((p) => ({
      id: p.id, createdAt: Number(p.created_at), ...computed.get(p.id)!,
      traits: Object.fromEntries(traits.rows.filter((t) => t.profile_id === p.id).map((t) => [t.name, JSON.parse(t.value) as unknown])),
      companyIds: links.rows.filter((l) => l.user_profile_id === p.id).map((l) => l.account_profile_id),
      crm: crm.find((c) => c.profile_id === p.id),
    }));
  }

  const known = (alias: string) => sql<boolean>`exists (select 1 from ${sql.table(r.identifiers)} i where i.profile_id = ${sql.ref(`${alias}.id`)} and i.type in ('email', 'user_id'))`;

  async function get(db: Kysely<any>, workspaceId: string, id: string, scope: RecordScope = ALL_RECORDS): Promise<Contact> {
    const p = await deps.profile(db, workspaceId, id);
    if (!p || p.collection !== 'users') throw errors.notFound('Contact');
    const rows = await sql<{ id: string; created_at: number }>`select p.id, p.created_at from ${sql.table(r.profiles)} p where p.id = ${p.id} and ${known('p')}`.execute(db);
    if (rows.rows.length === 0) throw errors.notFound('Contact');
    const contact = (await load(db, rows.rows))[0];
    assertVisible(contact.crm?.owner_id, scope, 'Contact');
    return contact;
  }

  const identify = (db: Kysely<any>, workspaceId: string, traits: Record<string, unknown>, profileId?: string) =>
    appendAndWait(db, deps, workspaceId, { type: 'identify', traits, profileId });

  const traitsOf = (input: ContactInput) => Object.fromEntries(
    (['email', 'name', 'firstName', 'lastName', 'phone', 'title'] as const).filter((k) => input[k] !== undefined).map((k) => [k, input[k]]),
  );

  async function saveCrm(db: Kysely<any>, workspaceId: string, profileId: string, input: ContactInput, mode: 'create' | 'update', ifMatch?: string): Promise<boolean> {
    const t = db as Kysely<{ crm_contacts: ContactRow }>;
    // Two first writes at once (the same new person twice): the insert of the second finds the row taken, and it
    // is read again and applied as a change.
    await t.insertInto('crm_contacts').values({ profile_id: profileId, workspace_id: workspaceId, lifecycle_stage: null, owner_id: null, custom: '{}', version: 0, created_at: deps.now(), updated_at: deps.now() })
      .onConflict((oc) => oc.column('profile_id').doNothing()).execute();
    let q = t.selectFrom('crm_contacts').selectAll().where('profile_id', '=', profileId);
    if (deps.postgres) q = q.forUpdate();
    const found = await q.executeTakeFirstOrThrow();
    // Version 0: the row was only just reserved, and this write is the record's first.
    const current = Number(found.version) === 0 ? undefined : found;
    checkIfMatch(ifMatch, { id: profileId, version: Number(current?.version ?? 0) }, 'contact');
    const touches = input.ownerId !== undefined || input.lifecycleStage !== undefined || input.custom !== undefined;
    if (!touches && current) return false;
    const defs = await fields(db, workspaceId);
    const custom = { ...(current ? JSON.parse(current.custom) : {}), ...validateValues(defs, input.custom ?? {}, current ? 'update' : mode) };
    for (const [k, v] of Object.entries(custom)) if (v === null) delete custom[k];
    const now = deps.now();
    const row = {
      owner_id: input.ownerId === undefined ? current?.owner_id ?? null : input.ownerId,
      lifecycle_stage: input.lifecycleStage === undefined ? current?.lifecycle_stage ?? null : input.lifecycleStage,
      custom: JSON.stringify(custom), updated_at: now,
    };
    if (current) {
      const done = await t.updateTable('crm_contacts').set({ ...row, version: Number(current.version) + 1 }).where('profile_id', '=', profileId).where('version', '=', current.version).executeTakeFirst();
      if (Number(done.numUpdatedRows) !== 1) throw errors.preconditionFailed('The contact changed while this change was applied; read it again.');
    } else {
      await t.updateTable('crm_contacts').set({ ...row, version: 1, created_at: now }).where('profile_id', '=', profileId).where('version', '=', 0).execute();
    }
    if (current && input.lifecycleStage !== undefined && input.lifecycleStage !== current.lifecycle_stage) {
      await appendCrmEvent(db, deps, { workspaceId, event: 'Lifecycle Stage Changed', profileId, collection: 'users', properties: { lifecycle_stage: input.lifecycleStage, previous_lifecycle_stage: current.lifecycle_stage } });
    }
    return !current;
  }

  return {
    get,
    /**
     * Known person profiles, newest first or by a computed trait, filtered by CRM fields, search, audience and
     * computed trait, keyset-paginated (see profile-list.ts).
     */
    async list(db: Kysely<any>, workspaceId: string, q: ContactQuery, scope: RecordScope = ALL_RECORDS) {
      const crmFields = sql`${q.ownerId ? sql`and c.owner_id = ${q.ownerId}` : sql``} ${q.lifecycleStage ? sql`and c.lifecycle_stage = ${q.lifecycleStage}` : sql``}`;
      const where: RawBuilder<unknown>[] = [known('p')];
      if (!scope.all) where.push(sql`not exists (select 1 from crm_contacts c where c.profile_id = p.id and not ${ownerVisible('c.owner_id', scope)})`);
      const filters: ListFilter[] = q.ownerId || q.lifecycleStage
        ? [{ probe: (id) => sql`exists (select 1 from crm_contacts c where c.profile_id = ${id} ${crmFields})`, set: sql`select c.profile_id from crm_contacts c where c.workspace_id = ${workspaceId} ${crmFields}` }]
        : [];
      // Full-text search: a set like any filter (a name matches few: the page starts from them).
      if (q.q) filters.push(await searchListFilter(db, deps.search, workspaceId, 'contact', q.q));
      const page = await listPage(db, { workspaceId, collection: 'users', where, filters }, q);
      return { contacts: await load(db, page.rows), nextCursor: page.nextCursor };
    },

    /** Finds the person by email, or creates the profile, through the log; then sets the CRM's fields. */
    async create(db: Kysely<any>, workspaceId: string, input: ContactInput, scope: RecordScope = ALL_RECORDS): Promise<{ contact: Contact; created: boolean }> {
      validateValues(await fields(db, workspaceId), input.custom ?? {}, 'create');
      const email = input.email!.trim();
      if (await deps.suppressedEmail?.(db, workspaceId, email)) throw errors.conflict('This person is suppressed or was deleted by a privacy request: their data is not accepted (unsuppress them first).');
      const existing = await deps.byEmail(db, workspaceId, email);
      // The email is the person's: one the caller may not see is neither shown nor changed (its traits included).
      if (existing && !scope.all) {
        const crm = await (db as Kysely<{ crm_contacts: ContactRow }>).selectFrom('crm_contacts').select('owner_id').where('profile_id', '=', existing).executeTakeFirst();
        if (!isVisible(crm?.owner_id, scope)) throw errors.conflict('A contact with this email exists already, owned outside your teams.');
      }
      await identify(db, workspaceId, traitsOf({ ...input, email }), existing);
      const profileId = existing ?? (await deps.byEmail(db, workspaceId, email));
      if (!profileId) throw errors.unavailable('The contact\'s profile was not found after the pipeline applied it; retry.');
      await db.transaction().execute(async (tx) => {
        // Contact Created: the first time the CRM holds this person, whether the profile is new or was a visitor.
        if (await saveCrm(tx, workspaceId, profileId, input, 'create')) {
          await appendCrmEvent(tx, deps, { workspaceId, event: 'Contact Created', profileId, collection: 'users', properties: { email, owner_id: input.ownerId ?? null, lifecycle_stage: input.lifecycleStage ?? null } });
        }
      });
      return { contact: await get(db, workspaceId, profileId), created: existing === undefined };
    },

    /** The contact's timeline: its events (CRM ones included) and identity merges, newest first. */
    async timeline(db: Kysely<any>, workspaceId: string, id: string, q: TimelineQuery, scope: RecordScope = ALL_RECORDS) {
      const contact = await get(db, workspaceId, id, scope);
      return timeline(db, deps, workspaceId, contact.id, q);
    },

    /** CRM fields change at once (If-Match against the CRM's version); traits go through the log and are waited for. */
    async update(db: Kysely<any>, workspaceId: string, id: string, input: ContactInput, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<Contact> {
      const contact = await get(db, workspaceId, id, scope);
      await db.transaction().execute((tx) => saveCrm(tx, workspaceId, contact.id, input, 'update', ifMatch));
      const traits = traitsOf(input);
      if (Object.keys(traits).length) await identify(db, workspaceId, traits, contact.id);
      return get(db, workspaceId, contact.id);
    },
  };
}

export type Contacts = ReturnType<typeof createContacts>;
