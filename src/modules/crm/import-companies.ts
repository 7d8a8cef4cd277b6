import { Ajv } from 'ajv';
import { sql, type Kysely } from 'kysely';
import { traitValueIn } from '../profiles/index.js';
import { companyCreateSchema, type CompanyInput } from './companies.js';
import type { ContactsDeps } from './contacts.js';
import { validateValues } from './custom-fields.js';
import { appendCrmEvents, type CrmEvent } from './events.js';
import { liveIdsOf, queueRows, reasonsOf, rowCall, schemaReasons, type ImportObject } from './import-rows.js';

/** Company fields a CSV column can map to; `custom.<key>` maps to a custom field. */
export const COMPANY_IMPORT_FIELDS = ['name', 'domain', 'groupId', 'industry', 'employees', 'ownerId'] as const;

// The API's own schema, so a row is refused for what the API would refuse.
const validCompany = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile<unknown>(companyCreateSchema);

/** `https://www.Acme.com/about` → `acme.com`: the form a domain is deduplicated and stored in. */
export function normalizeDomain(raw: string): string {
  return raw.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/^www\./, '').replace(/[/?#].*$/, '').replace(/\.$/, '');
}

/** Account profiles by group id and by domain trait, many at once (live ids; merged ones followed). */
export function companyLookups(deps: ContactsDeps) {
  const r = deps.relations;
  return {
    async byGroupIds(db: Kysely<any>, workspaceId: string, groupIds: string[]): Promise<Map<string, string>> {
      const found = new Map<string, string>();
      const unique = [...new Set(groupIds)];
      for (let i = 0; i < unique.length; i += 500) {
        const rows = await sql<{ value: string; profile_id: string }>`select value, profile_id from ${sql.table(r.identifiers)}
          where workspace_id = ${workspaceId} and value in (${sql.join(unique.slice(i, i + 500))}) and collection = 'accounts' and type = 'group_id'`.execute(db);
        for (const row of rows.rows) found.set(row.value, row.profile_id);
      }
      const live = await liveIdsOf(db, deps, [...new Set(found.values())]);
      return new Map([...found].map(([k, p]) => [k, live.get(p) ?? p]));
    },
    /** The oldest live account whose domain trait is each domain (stored as the API stores it: normalised). */
    async byDomains(db: Kysely<any>, workspaceId: string, domains: string[]): Promise<Map<string, string>> {
      const found = new Map<string, string>();
      const unique = [...new Set(domains)];
      for (let i = 0; i < unique.length; i += 500) {
        const rows = await sql<{ value: string; profile_id: string }>`select t.value, t.profile_id from ${sql.table(r.traits)} t join ${sql.table(r.profiles)} p on p.id = t.profile_id
          where t.workspace_id = ${workspaceId} and t.name = 'domain' and ${traitValueIn('t.value', unique.slice(i, i + 500).map((d) => JSON.stringify(d)))}
          and p.collection = 'accounts' and p.merged_into is null order by p.created_at, p.id`.execute(db);
        for (const row of rows.rows) {
          const domain = JSON.parse(row.value) as string;
          if (!found.has(domain)) found.set(domain, row.profile_id);
        }
      }
      return found;
    },
  };
}

interface GoodCompany { line: number; profileId?: string; groupId: string; traits: Record<string, unknown>; crm: { ownerId?: string; custom: Record<string, unknown> } }
interface PendingCompany { profileId?: string; groupId: string; name?: string; domain?: string; ownerId?: string; custom: Record<string, unknown> }
type CompanyRow = { profile_id: string; workspace_id: string; owner_id: string | null; custom: string; version: number; created_at: number; updated_at: number };

/**
 * Companies: found by group id (default: the domain), else by domain, else created; a repeated domain or group
 * id in the file is reported against its first line. Each good row becomes a group call through the log (for a
 * company that exists, attributed to its profile); its CRM fields wait until the pipeline has applied the last.
 */
export function companyImport(deps: ContactsDeps): ImportObject<GoodCompany> {
  const lookups = companyLookups(deps);
  return {
    fields: COMPANY_IMPORT_FIELDS,
    mappingProblem: (targets) => (targets.includes('domain') || targets.includes('groupId') ? undefined : 'a column must map to domain or groupId (companies are found or created by them)'),

    async check(db, workspaceId, rows, defs) {
      const read = rows.map(({ line, values, custom }) => {
        const reasons: string[] = [];
        const input: CompanyInput = {};
        for (const [field, raw] of Object.entries(values)) (input as Record<string, unknown>)[field] = raw;
        if (values.domain !== undefined) input.domain = normalizeDomain(values.domain);
        if (values.employees !== undefined) input.employees = /^\d+$/.test(values.employees) ? Number(values.employees) : (values.employees as never);
        if (input.groupId === undefined && input.domain === undefined) reasons.push('a domain or a groupId is needed');
        else if (!validCompany(input)) {
          for (const e of validCompany.errors ?? []) {
            if (e.instancePath === '/domain') reasons.push(`domain "${values.domain}" is not a web domain (like acme.com)`);
            else if (e.instancePath) reasons.push(...schemaReasons([e], input as Record<string, unknown>));
          }
        }
        const groupId = (input.groupId ?? input.domain)?.trim();
        return { line, input, custom, reasons, groupId };
      });
      const keyed = read.filter((r) => r.reasons.length === 0 && r.groupId);
      const byGroup = await lookups.byGroupIds(db, workspaceId, keyed.map((r) => r.groupId!));
      const byDomain = await lookups.byDomains(db, workspaceId, keyed.map((r) => r.input.domain).filter((d): d is string => Boolean(d)));
      // The group id of each company found by its domain: the one its calls go out with.
      const addresses = await deps.addresses(db, [...new Set(byDomain.values())]);

      const seen = new Map<string, number>();
      const out: Awaited<ReturnType<ImportObject<GoodCompany>['check']>> = { good: [], bad: [], duplicates: 0 };
      for (const { line, input, custom, reasons, groupId } of read) {
        const domain = input.domain;
        const viaGroup = groupId ? byGroup.get(groupId) : undefined;
        const viaDomain = domain ? byDomain.get(domain) : undefined;
        if (viaGroup && viaDomain && viaGroup !== viaDomain) reasons.push(`domain ${domain} belongs to another company than group id ${groupId}`);
        else if (!viaGroup && viaDomain && input.groupId !== undefined) reasons.push(`domain ${domain} belongs to a company whose group id is ${addresses.get(viaDomain)?.groupId ?? 'another'}; map that group id, or leave groupId empty to update it`);
        const profileId = viaGroup ?? viaDomain;
        try {
          input.custom = validateValues(defs, custom, profileId ? 'update' : 'create');
        } catch (error) {
          reasons.push(...reasonsOf(error));
        }
        if (reasons.length === 0) {
          const keys: [string, string][] = [[`group:${groupId}`, input.groupId === undefined ? `domain ${domain}` : `groupId ${groupId}`]];
          if (domain) keys.push([`domain:${domain}`, `domain ${domain}`]);
          if (profileId) keys.push([`profile:${profileId}`, 'the same existing company']);
          const first = keys.find(([k]) => seen.has(k));
          if (first) {
            out.duplicates++;
            reasons.push(`${first[1]} is already on line ${seen.get(first[0])}`);
          } else for (const [k] of keys) seen.set(k, line);
        }
        if (reasons.length) {
          out.bad.push({ line, errors: reasons });
          continue;
        }
        const traits = Object.fromEntries((['name', 'domain', 'industry', 'employees'] as const).filter((k) => input[k] !== undefined).map((k) => [k, input[k]]));
        const known = !viaGroup && viaDomain ? addresses.get(viaDomain)?.groupId : undefined;
        out.good.push({ line, profileId, groupId: known ?? groupId!, traits, crm: { ...(input.ownerId ? { ownerId: input.ownerId } : {}), custom: input.custom ?? {} } });
      }
      return out;
    },

    write(tx, workspaceId, importId, good) {
      const now = deps.now();
      return queueRows(
        tx, deps, importId,
        good.map((g): { line: number; key: string; fields: PendingCompany } => ({ line: g.line, key: g.profileId ?? g.groupId, fields: { profileId: g.profileId, groupId: g.groupId, name: g.traits.name as string | undefined, domain: g.traits.domain as string | undefined, ...g.crm } })),
        good.map((g) => rowCall(workspaceId, importId, g.line, now, g.profileId ? { type: 'group', traits: g.traits, profileId: g.profileId } : { type: 'group', traits: g.traits, groupId: g.groupId })),
      );
    },

    async apply(tx, job, rows) {
      const x = tx as Kysely<{ crm_companies: CompanyRow }>;
      const now = deps.now();
      const pending = rows.map((r) => JSON.parse(r.fields) as PendingCompany);
      const byGroup = await lookups.byGroupIds(tx, job.workspace_id, pending.filter((f) => !f.profileId).map((f) => f.groupId));
      const live = await liveIdsOf(tx, deps, pending.flatMap((f) => (f.profileId ? [f.profileId] : [])));
      const ids = [...new Set([...byGroup.values(), ...live.values()])];
      const existing = new Map((ids.length ? await x.selectFrom('crm_companies').selectAll().where('profile_id', 'in', ids).execute() : []).map((c) => [c.profile_id, c]));
      const inserts = new Map<string, CompanyRow>();
      const created: CrmEvent[] = [];
      for (const f of pending) {
        const profileId = f.profileId ? live.get(f.profileId) : byGroup.get(f.groupId);
        if (!profileId) continue;
        const current = inserts.get(profileId) ?? existing.get(profileId);
        const set = { owner_id: f.ownerId ?? current?.owner_id ?? null, custom: JSON.stringify({ ...(current ? JSON.parse(current.custom) : {}), ...f.custom }), updated_at: now };
        const stored = existing.get(profileId);
        if (stored) {
          await x.updateTable('crm_companies').set({ ...set, version: Number(stored.version) + 1 }).where('profile_id', '=', profileId).execute();
          existing.set(profileId, { ...stored, ...set, version: Number(stored.version) + 1 });
        } else {
          // As companies.ts: Company Created when the CRM first keeps a record of the account.
          if (!inserts.has(profileId)) created.push({ workspaceId: job.workspace_id, event: 'Company Created', profileId, collection: 'accounts', properties: { group_id: f.groupId, name: f.name ?? null, domain: f.domain ?? null, owner_id: set.owner_id, import_id: job.id } });
          inserts.set(profileId, { profile_id: profileId, workspace_id: job.workspace_id, ...set, version: 1, created_at: now });
        }
      }
      const fresh = [...inserts.values()];
      for (let i = 0; i < fresh.length; i += 500) await x.insertInto('crm_companies').values(fresh.slice(i, i + 500)).execute();
      await appendCrmEvents(tx, deps, created);
    },
  };
}
