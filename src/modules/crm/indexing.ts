import { sql, type Kysely } from 'kysely';
import { addressWords, dealDocument, phoneDigits, ticketDocument, wordsOf, type Search, type SearchDocument } from './search.js';

/** Where the identity and profiles modules keep what the CRM reads of profiles. */
export interface ProfileRelations { profiles: string; identifiers: string; links: string; traits: string }

/** Traits a contact is found by; a change to one of them rewrites the contact's search document. */
export const CONTACT_SEARCH_TRAITS = ['name', 'firstName', 'lastName', 'first_name', 'last_name', 'email', 'phone', 'title', 'company', 'username'];
/** The same for companies (account profiles). */
export const COMPANY_SEARCH_TRAITS = ['name', 'domain', 'website', 'industry'];
const CONTACT_TRAITS = new Set(CONTACT_SEARCH_TRAITS);
const COMPANY_TRAITS = new Set(COMPANY_SEARCH_TRAITS);

/** What the pipeline tells the CRM of a batch: each event's profile, account and the traits it set. */
export interface ProfileChange { type: string; profileId: string | null; accountProfileId: string | null; userTraits: string[]; accountTraits: string[] }

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/**
 * The CRM's step in the pipeline, in each batch's transaction: profiles whose searchable traits or identifiers
 * changed get their search document rewritten (a person only once known, with an email or a user id), merged
 * profiles lose theirs, and a merged profile's CRM record (owner, lifecycle stage, custom fields) is folded into
 * the survivor's, the survivor's values winning.
 */
export function createProfileStep(r: ProfileRelations, search: Search) {
  /** Current search documents of these profiles; ids of those that should have none (anonymous, merged, gone). */
  async function documents(db: Kysely<any>, ids: string[]): Promise<{ docs: SearchDocument[]; none: string[] }> {
    const docs: SearchDocument[] = [];
    const none: string[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const profiles = await sql<{ id: string; workspace_id: string; collection: string; merged_into: string | null }>`select id, workspace_id, collection, merged_into from ${sql.table(r.profiles)} where id in (${sql.join(chunk)})`.execute(db);
      const traits = await sql<{ profile_id: string; name: string; value: string }>`select profile_id, name, value from ${sql.table(r.traits)}
        where profile_id in (${sql.join(chunk)}) and name in (${sql.join([...new Set([...CONTACT_SEARCH_TRAITS, ...COMPANY_SEARCH_TRAITS])])})`.execute(db);
      const held = await sql<{ profile_id: string; type: string; value: string }>`select profile_id, type, value from ${sql.table(r.identifiers)}
        where profile_id in (${sql.join(chunk)}) and type in ('email', 'user_id', 'phone', 'group_id')`.execute(db);
      const live = new Map(profiles.rows.filter((p) => p.merged_into === null).map((p) => [p.id, p]));
      for (const id of chunk) {
        const p = live.get(id);
        if (!p) {
          none.push(id);
          continue;
        }
        const t: Record<string, unknown> = {};
        for (const row of traits.rows) if (row.profile_id === id) t[row.name] = JSON.parse(row.value) as unknown;
        const idsOf = (type: string) => held.rows.filter((h) => h.profile_id === id && h.type === type).map((h) => h.value);
        const doc = p.collection === 'accounts' ? companyDocument(p.workspace_id, id, t, idsOf('group_id')) : contactDocument(p.workspace_id, id, t, idsOf('email'), idsOf('user_id'), idsOf('phone'));
        if (doc) docs.push(doc);
        else none.push(id);
      }
    }
    return { docs, none };
  }

  async function reindex(db: Kysely<any>, ids: string[], now: number) {
    if (ids.length === 0) return;
    const { docs, none } = await documents(db, ids);
    await search.put(db, docs, now);
    await search.drop(db, 'contact', none);
    await search.drop(db, 'company', none);
  }

  /** A merged profile's CRM record moves to the survivor, or fills the survivor's empty fields when it has one. */
  async function fold(db: Kysely<any>, merges: { winner: string; loser: string }[], now: number) {
    for (const table of ['crm_contacts', 'crm_companies'] as const) {
      const losers = merges.map((m) => m.loser);
      if (losers.length === 0) return;
      const found = await sql<{ profile_id: string }>`select profile_id from ${sql.table(table)} where profile_id in (${sql.join(losers)})`.execute(db);
      if (found.rows.length === 0) continue;
      const held = new Set(found.rows.map((f) => f.profile_id));
      // In merge order: a → b then b → c leaves a's record on c.
      for (const m of merges) {
        if (!held.has(m.loser)) continue;
        held.delete(m.loser);
        held.add(m.winner);
        const rows = await sql<Record<string, unknown> & { profile_id: string; custom: string; version: number }>`select * from ${sql.table(table)} where profile_id in (${m.loser}, ${m.winner})`.execute(db);
        const loser = rows.rows.find((x) => x.profile_id === m.loser)!;
        const winner = rows.rows.find((x) => x.profile_id === m.winner);
        if (!winner) {
          await sql`update ${sql.table(table)} set profile_id = ${m.winner}, version = ${Number(loser.version) + 1}, updated_at = ${now} where profile_id = ${m.loser}`.execute(db);
          continue;
        }
        const custom = JSON.stringify({ ...(JSON.parse(loser.custom) as object), ...(JSON.parse(winner.custom) as object) });
        const stage = table === 'crm_contacts' ? sql`, lifecycle_stage = coalesce(lifecycle_stage, ${loser.lifecycle_stage ?? null})` : sql``;
        await sql`update ${sql.table(table)} set owner_id = coalesce(owner_id, ${loser.owner_id ?? null}) ${stage}, custom = ${custom},
          version = ${Number(winner.version) + 1}, updated_at = ${now}, created_at = ${Math.min(Number(winner.created_at), Number(loser.created_at))} where profile_id = ${m.winner}`.execute(db);
        await sql`delete from ${sql.table(table)} where profile_id = ${m.loser}`.execute(db);
      }
    }
  }

  return {
    documents,
    reindex,
    fold,
    /** The pipeline's step for one batch (after traits are applied). */
    async applyBatch(db: Kysely<any>, changes: ProfileChange[], merges: { winner: string; loser: string }[], now: number) {
      const dirty = new Set<string>();
      for (const c of changes) {
        // An identify can make a visitor known (a user id) without a trait; a group call can create the account.
        if (c.profileId && (c.type === 'identify' || c.type === 'alias' || c.userTraits.some((t) => CONTACT_TRAITS.has(t)))) dirty.add(c.profileId);
        if (c.accountProfileId && (c.type === 'group' || c.accountTraits.some((t) => COMPANY_TRAITS.has(t)))) dirty.add(c.accountProfileId);
      }
      for (const m of merges) {
        dirty.add(m.winner);
        dirty.add(m.loser);
      }
      if (merges.length) await fold(db, merges, now);
      await reindex(db, [...dirty], now);
    },
  };
}

export function contactDocument(workspaceId: string, id: string, t: Record<string, unknown>, emails: string[], userIds: string[], phones: string[]): SearchDocument | undefined {
  if (emails.length === 0 && userIds.length === 0) return undefined;
  const first = str(t.firstName) ?? str(t.first_name);
  const last = str(t.lastName) ?? str(t.last_name);
  const name = str(t.name) ?? ([first, last].filter(Boolean).join(' ') || undefined);
  const email = str(t.email) ?? emails[0];
  const company = str(t.company) ?? str((t.company as { name?: unknown } | undefined)?.name);
  const phone = str(t.phone) ?? phones[0];
  return {
    workspaceId, object: 'contact', recordId: id,
    title: name ?? email ?? userIds[0],
    subtitle: [name ? email : undefined, str(t.title), company].filter(Boolean).join(' · '),
    head: wordsOf(name, first, last),
    rest: [wordsOf(email, ...emails, ...userIds, phone, phoneDigits(phone), ...phones, str(t.title), company, str(t.username)), addressWords(email, ...emails)].filter(Boolean).join(' '),
  };
}

/** The host of a website without its `www.`: "https://www.acme.com/about" → acme.com. */
function websiteHost(website: unknown): string | undefined {
  if (typeof website !== 'string' || !website.trim()) return undefined;
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(website) ? website : `https://${website}`).hostname.replace(/^www\./, '');
  } catch {
    return undefined;
  }
}

export function companyDocument(workspaceId: string, id: string, t: Record<string, unknown>, groupIds: string[]): SearchDocument {
  const name = str(t.name);
  const domain = str(t.domain);
  return {
    workspaceId, object: 'company', recordId: id,
    title: name ?? domain ?? groupIds[0] ?? id,
    subtitle: [name ? domain : undefined, str(t.industry)].filter(Boolean).join(' · '),
    head: wordsOf(name),
    rest: [wordsOf(domain, str(t.website), str(t.industry), ...groupIds), addressWords(domain, websiteHost(t.website))].filter(Boolean).join(' '),
  };
}

/**
 * Writes every record's search document again, a chunk at a time: known person and account profiles,
 * deals, tickets. Used when the index is created on a store that already holds records.
 */
export async function rebuildSearch(db: Kysely<any>, r: ProfileRelations, search: Search, now: number) {
  const step = createProfileStep(r, search);
  const CHUNK = 2_000;
  for (let after = ''; ;) {
    const ids = (await sql<{ id: string }>`select id from ${sql.table(r.profiles)} where merged_into is null and id > ${after} order by id limit ${CHUNK}`.execute(db)).rows.map((p) => p.id);
    if (ids.length === 0) break;
    await step.reindex(db, ids, now);
    after = ids[ids.length - 1];
  }
  for (let after = ''; ;) {
    const deals = (await sql<{ id: string; workspace_id: string; name: string; amount: number | null; currency: string; stage: string | null }>`select d.id, d.workspace_id, d.name, d.amount, d.currency, s.name as stage
      from crm_deals d left join crm_stages s on s.id = d.stage_id where d.id > ${after} order by d.id limit ${CHUNK}`.execute(db)).rows;
    if (deals.length === 0) break;
    await search.put(db, deals.map((d) => dealDocument({ ...d, amount: d.amount === null ? null : Number(d.amount) }, d.stage ?? undefined)), now);
    after = deals[deals.length - 1].id;
  }
  for (let after = ''; ;) {
    const tickets = (await sql<{ id: string; workspace_id: string; subject: string; description: string | null; status: string; priority: string }>`select id, workspace_id, subject, description, status, priority
      from crm_tickets where id > ${after} order by id limit ${CHUNK}`.execute(db)).rows;
    if (tickets.length === 0) break;
    await search.put(db, tickets.map(ticketDocument), now);
    after = tickets[tickets.length - 1].id;
  }
}
