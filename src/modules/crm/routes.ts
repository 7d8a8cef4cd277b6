import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { stringify } from 'csv-stringify/sync';
import { importSchema, type ImportInput, type Imports } from './imports.js';
import { companyCreateSchema, companyUpdateSchema, type Companies, type Company, type CompanyInput } from './companies.js';
import { LIFECYCLE_STAGES, contactCreateSchema, contactUpdateSchema, type Contact, type ContactInput, type ContactQuery, type Contacts } from './contacts.js';
import { DEAL_SORTS, dealCreateSchema, dealUpdateSchema, etagOf, type Deal, type DealInput, type DealQuery, type Deals } from './deals.js';
import { fieldDefinitionSchema } from './custom-fields.js';
import { CRM_OBJECTS, type CrmObject, type Fields } from './fields.js';
import { fromMinor } from './money.js';
import type { ComputedAndAudiences } from './computed-traits.js';
import { profileListProperties, type ProfileListQuery } from './profile-list.js';
import { createPipeline, deletePipeline, ensurePipelines, getPipeline, pipelineSchema, updatePipeline, type Pipeline, type PipelineInput } from './pipelines.js';
import type { StageChangeRow } from './store.js';
import { TIMELINE_KINDS, type TimelineKind, type TimelineQuery } from './timeline.js';
import { errors } from '../../platform/errors.js';
import type { RecordRules, RecordScope } from './record-scope.js';
import { personalDataMask } from '../../platform/http/pii.js';
import { demand } from '../../platform/http/access.js';
import type { Permission } from '../access/index.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const ID = { type: 'object', properties: { id: { type: 'string' } } };

const pipelineView = (p: Pipeline) => ({
  id: p.id, name: p.name, position: p.position, createdAt: iso(p.created_at), updatedAt: iso(p.updated_at),
  stages: p.stages.map((s) => ({ id: s.id, name: s.name, position: s.position, probability: s.probability, outcome: s.outcome })),
});
type Hidden = ReadonlySet<string>;
const NONE: Hidden = new Set();
type Link = { object: string; id: string };
/** The records a view names, to leave out those the caller may not see (record visibility). */
const dealLinks = (d: Deal): Link[] => [...d.contact_ids.map((id) => ({ object: 'contact', id })), ...(d.company_id ? [{ object: 'company', id: d.company_id }] : [])];
const contactLinks = (c: Contact): Link[] => c.companyIds.map((id) => ({ object: 'company', id }));
const companyLinks = (c: Company): Link[] => c.contactIds.map((id) => ({ object: 'contact', id }));

const dealView = (d: Deal, hidden: Hidden = NONE) => ({
  id: d.id, name: d.name, pipelineId: d.pipeline_id, stageId: d.stage_id, status: d.status,
  amount: d.amount_minor === null ? null : fromMinor(d.amount_minor, d.currency), currency: d.currency, closeDate: d.close_date, ownerId: d.owner_id,
  contactIds: d.contact_ids.filter((c) => !hidden.has(`contact:${c}`)), companyId: d.company_id && !hidden.has(`company:${d.company_id}`) ? d.company_id : null, custom: JSON.parse(d.custom) as Record<string, unknown>,
  closedAt: iso(d.closed_at), createdAt: iso(d.created_at), updatedAt: iso(d.updated_at), version: d.version,
});
/** A contact's or company's computed traits (scores among them) by key, and the audiences it is in. */
const computedView = (c: ComputedAndAudiences) => ({
  computedTraits: c.computedTraits, audiences: c.audiences.map((a) => ({ id: a.id, key: a.key, name: a.name, enteredAt: iso(a.enteredAt) })),
});
const contactView = (c: Contact, hidden: Hidden = NONE) => {
  const t = c.traits as Record<string, string | undefined>;
  const first = t.firstName ?? t.first_name;
  const last = t.lastName ?? t.last_name;
  return {
    id: c.id, name: t.name ?? ([first, last].filter(Boolean).join(' ') || null), firstName: first ?? null, lastName: last ?? null,
    email: t.email ?? null, phone: t.phone ?? null, title: t.title ?? null, companyIds: c.companyIds.filter((id) => !hidden.has(`company:${id}`)),
    ownerId: c.crm?.owner_id ?? null, lifecycleStage: c.crm?.lifecycle_stage ?? null, custom: c.crm ? (JSON.parse(c.crm.custom) as Record<string, unknown>) : {},
    ...computedView(c), createdAt: iso(c.createdAt), version: Number(c.crm?.version ?? 0),
  };
};
/** A contact's or company's ETag: the version of the CRM's record beside the profile (0 before it has one). */
const profileEtag = (r: { id: string; crm?: { version: number } }) => etagOf({ id: r.id, version: Number(r.crm?.version ?? 0) });
const companyView = (c: Company, hidden: Hidden = NONE) => {
  const t = c.traits as Record<string, unknown>;
  return {
    id: c.id, name: t.name ?? null, domain: t.domain ?? t.website ?? null, industry: t.industry ?? null, employees: t.employees ?? null, contactIds: c.contactIds.filter((id) => !hidden.has(`contact:${id}`)),
    ownerId: c.crm?.owner_id ?? null, custom: c.crm ? (JSON.parse(c.crm.custom) as Record<string, unknown>) : {}, ...computedView(c), createdAt: iso(c.createdAt), version: Number(c.crm?.version ?? 0),
  };
};
const changeView = (c: StageChangeRow) => ({ fromStageId: c.from_stage_id, toStageId: c.to_stage_id, at: iso(c.at), actor: c.actor });

/** The CRM's management API: pipelines and stages, deals, custom fields. */
export async function crmRoutes(app: FastifyInstance, { db, deals, contacts, companies, imports, fields, merge, scopeOf, rules, now }: {
  db: Kysely<any>; deals: Deals; contacts: Contacts; companies: Companies; imports: Imports; fields: Fields; rules: RecordRules; now: () => number;
  /** Which owned contacts and deals the caller sees (record visibility). */
  scopeOf(principal: NonNullable<FastifyRequest['principal']>): Promise<RecordScope>;
  /** Merges two profiles of one person or account (the identity merge, with everything that follows it). */
  merge(input: { workspaceId: string; primaryId: string; duplicateId: string; actor: string }): Promise<unknown>;
}) {
  const can = (permission: Permission) => ({ access: { permission } }) as const;
  const ws = (request: FastifyRequest) => request.principal!.workspaceId;
  const scope = (request: FastifyRequest) => scopeOf(request.principal!);
  const actor = (request: FastifyRequest) => `${request.principal!.actor.type}:${request.principal!.actor.id}`;
  const id = (request: FastifyRequest) => (request.params as { id: string }).id;
  const ifMatch = (request: FastifyRequest) => request.headers['if-match'];
  const tags = ['crm'];
  /** Views of records, without the contacts and companies they name that the caller may not see. */
  const shown = async <T, V>(request: FastifyRequest, records: T[], links: (r: T) => Link[], view: (r: T, hidden: Hidden) => V): Promise<V[]> => {
    const hidden = await rules.hiddenOf(db, await scope(request), records.flatMap(links));
    return records.map((r) => view(r, hidden));
  };
  const one = async <T, V>(request: FastifyRequest, record: T, links: (r: T) => Link[], view: (r: T, hidden: Hidden) => V) => (await shown(request, [record], links, view))[0];
  const inTransaction = <T>(fn: (tx: Kysely<any>) => Promise<T>) => db.transaction().execute(fn);

  app.get('/crm/pipelines', { config: can('crm_settings:read'), schema: { tags, summary: 'Pipelines with their stages, in order (a default one is created on first use)' } }, async (request) => ({
    data: (await inTransaction((tx) => ensurePipelines(tx, ws(request), now()))).map(pipelineView),
  }));
  app.post('/crm/pipelines', { config: can('crm_settings:write'), schema: { tags, summary: 'Create a pipeline', body: pipelineSchema } }, async (request, reply) =>
    reply.status(201).send(pipelineView(await inTransaction((tx) => createPipeline(tx, ws(request), request.body as PipelineInput, now())))));
  app.get('/crm/pipelines/:id', { config: can('crm_settings:read'), schema: { tags, summary: 'One pipeline', params: ID } }, async (request) => pipelineView(await getPipeline(db, ws(request), id(request))));
  app.patch('/crm/pipelines/:id', {
    config: can('crm_settings:write'),
    schema: {
      tags, summary: 'Rename a pipeline or set its stages (with ids: kept; without: added; left out: removed, refused while deals sit there)', params: ID,
      body: { ...pipelineSchema, required: [], minProperties: 1 },
    },
  }, async (request) => pipelineView(await inTransaction((tx) => updatePipeline(tx, ws(request), id(request), request.body as Partial<PipelineInput>, now()))));
  app.delete('/crm/pipelines/:id', { config: can('crm_settings:write'), schema: { tags, summary: 'Delete a pipeline without deals', params: ID } }, async (request, reply) => {
    await inTransaction((tx) => deletePipeline(tx, ws(request), id(request)));
    return reply.status(204).send();
  });

  app.get('/crm/deals', {
    config: can('deals:read'),
    schema: {
      tags, summary: 'Deals, filtered and sorted, keyset-paginated',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string' },
          sort: { enum: DEAL_SORTS, description: 'Default createdAt (newest first).' }, order: { enum: ['asc', 'desc'] },
          pipelineId: { type: 'string' }, stageId: { type: 'string' }, status: { enum: ['open', 'won', 'lost'] }, ownerId: { type: 'string' },
          companyId: { type: 'string' }, contactId: { type: 'string' }, q: { type: 'string', maxLength: 200, description: 'Words the name contains, each as a word prefix ("acm ren" finds "Acme renewal"): full-text search, accents and case ignored.' },
          closeFrom: { type: 'string', format: 'date' }, closeTo: { type: 'string', format: 'date' },
        },
      },
    },
  }, async (request) => {
    const q = request.query as DealQuery;
    const visible = await scope(request);
    // Deals of a contact or company the caller may not see: 404, as for an unknown one.
    if (q.contactId) await rules.assertVisible(db, visible, 'contact', q.contactId);
    if (q.companyId) await rules.assertVisible(db, visible, 'company', q.companyId);
    const page = await deals.list(db, ws(request), q, visible);
    return { data: await shown(request, page.deals, dealLinks, dealView), nextCursor: page.nextCursor };
  });
  app.post('/crm/deals', { config: can('deals:write'), schema: { tags, summary: 'Create a deal (appends Deal Created to the log)', body: dealCreateSchema } }, async (request, reply) => {
    const visible = await scope(request);
    const deal = await inTransaction((tx) => deals.create(tx, ws(request), request.body as DealInput, actor(request), visible));
    return reply.status(201).header('etag', etagOf(deal)).send(await one(request, deal, dealLinks, dealView));
  });
  app.post('/crm/deals/bulk', {
    config: can('deals:write'),
    schema: {
      tags, summary: 'Create and change up to 100 deals at once: all or nothing (the first refusal names its item)',
      body: {
        type: 'object', additionalProperties: false, minProperties: 1,
        properties: {
          create: { type: 'array', maxItems: 100, items: dealCreateSchema },
          update: {
            type: 'array', maxItems: 100,
            items: { type: 'object', additionalProperties: false, required: ['id', 'changes'], properties: { id: { type: 'string' }, ifMatch: { type: 'string', description: 'The ETag read; a stale one refuses the whole request (412).' }, changes: dealUpdateSchema } },
          },
        },
      },
    },
  }, async (request) => {
    const body = request.body as { create?: DealInput[]; update?: { id: string; ifMatch?: string; changes: DealInput }[] };
    if ((body.create?.length ?? 0) + (body.update?.length ?? 0) > 100) throw errors.validation('A bulk request holds at most 100 deals.');
    const at = (what: string, i: number, fn: () => Promise<Deal>) => fn().catch((error: unknown) => {
      if (error instanceof Error && 'status' in error) (error as { message: string }).message = `${what}[${i}]: ${(error as Error).message}`;
      throw error;
    });
    const visible = await scope(request);
    const result = await inTransaction(async (tx) => {
      const created: Deal[] = [];
      const updated: Deal[] = [];
      for (const [i, d] of (body.create ?? []).entries()) created.push(await at('create', i, () => deals.create(tx, ws(request), d, actor(request), visible)));
      for (const [i, u] of (body.update ?? []).entries()) updated.push(await at('update', i, () => deals.update(tx, ws(request), u.id, u.changes, actor(request), u.ifMatch, visible)));
      return { created, updated };
    });
    return { created: await shown(request, result.created, dealLinks, dealView), updated: await shown(request, result.updated, dealLinks, dealView) };
  });
  app.get('/crm/deals/:id', { config: can('deals:read'), schema: { tags, summary: 'One deal, with its ETag', params: ID } }, async (request, reply) => {
    const deal = await deals.get(db, ws(request), id(request), await scope(request));
    return reply.header('etag', etagOf(deal)).send(await one(request, deal, dealLinks, dealView));
  });
  app.patch('/crm/deals/:id', {
    config: can('deals:write'),
    schema: {
      tags, summary: 'Change a deal; send If-Match with its ETag, and a change made since you read it is refused (412)', params: ID, body: dealUpdateSchema,
      headers: { type: 'object', properties: { 'if-match': { type: 'string' } } },
    },
  }, async (request, reply) => {
    const visible = await scope(request);
    const deal = await inTransaction((tx) => deals.update(tx, ws(request), id(request), request.body as DealInput, actor(request), ifMatch(request), visible));
    return reply.header('etag', etagOf(deal)).send(await one(request, deal, dealLinks, dealView));
  });
  app.delete('/crm/deals/:id', { config: can('deals:write'), schema: { tags, summary: 'Delete a deal (If-Match honoured)', params: ID } }, async (request, reply) => {
    const visible = await scope(request);
    await inTransaction((tx) => deals.remove(tx, ws(request), id(request), ifMatch(request), visible));
    return reply.status(204).send();
  });
  app.get('/crm/deals/:id/stage-history', { config: can('deals:read'), schema: { tags, summary: 'Every stage the deal entered, when and by whom', params: ID } }, async (request) => {
    await deals.get(db, ws(request), id(request), await scope(request));
    return { data: (await deals.history(db, id(request))).map(changeView) };
  });

  app.addSchema({ $id: 'rapport.crm-field', ...fieldDefinitionSchema });
  app.get('/crm/contacts', {
    config: can('contacts:read'),
    schema: {
      tags, summary: 'Contacts: the known person profiles (holding an email or a user id), newest first or by a computed trait or score, with their computed traits and audiences',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string', description: 'nextCursor of the previous page, with the same sort and order. A page may be short (even empty) where matches are sparse: the list is done when nextCursor is null.' },
          ownerId: { type: 'string' }, lifecycleStage: { enum: [...LIFECYCLE_STAGES] },
          q: { type: 'string', minLength: 1, maxLength: 200, description: 'Words of the name, email, user id, phone, title or company, each as a word prefix (full-text search: "jan smi" finds Jane Smith).' }, ...profileListProperties('contacts'),
        },
      },
    },
  }, async (request) => {
    const page = await contacts.list(db, ws(request), request.query as ContactQuery, await scope(request));
    return { data: await shown(request, page.contacts, contactLinks, contactView), nextCursor: page.nextCursor };
  });
  app.post('/crm/contacts', {
    config: can('contacts:write'),
    schema: { tags, summary: 'Create a contact, or find it by email: its profile is found or created through the log (201 created, 200 found)', body: contactCreateSchema },
  }, async (request, reply) => {
    const { contact, created } = await contacts.create(db, ws(request), request.body as ContactInput, await scope(request));
    return reply.status(created ? 201 : 200).header('etag', profileEtag(contact)).send(await one(request, contact, contactLinks, contactView));
  });
  app.post('/crm/imports', {
    config: can('imports:write'), bodyLimit: 64 * 1024 * 1024,
    schema: {
      tags, summary: 'Import contacts, companies or deals from a CSV (needs imports:write and the write permission of the object): every row checked, bad rows reported (line and reasons), good rows written together; dryRun writes nothing',
      description: 'Contacts: good rows become identify calls through the log (each contact found or created by email), then their CRM fields are set. '
        + 'Companies: group calls through the log (each company found by group id, else by domain, else created), then their CRM fields are set. '
        + 'Deals: no dedupe key (every good row is a new deal); rows are checked as POST /crm/deals checks them and written at once, with their Deal Created events. '
        + 'GET /crm/imports/{id} shows progress (applied rows, status done).',
      body: importSchema,
    },
  }, async (request, reply) => {
    // Importing is a permission of its own (as in HubSpot), and writes the object it imports.
    const object = (request.body as ImportInput).object ?? 'contact';
    demand(request, ({ contact: 'contacts:write', company: 'companies:write', deal: 'deals:write' } as const)[object]);
    // An import finds existing contacts and companies by email or domain (and links deals to them) whoever owns
    // them: under team visibility it needs every record in sight.
    if (!(await scope(request)).all) demand(request, 'records:all');
    const result = await imports.start(db, ws(request), request.body as ImportInput, actor(request));
    // 202 while the pipeline still applies the rows' calls; deals (and imports with no good row) are done at once.
    return reply.status(result.status === 'processing' ? 202 : 200).send(result);
  });
  app.get('/crm/imports/:id', { config: can('imports:write'), schema: { tags, summary: "An import's report and progress", params: ID } }, async (request) => {
    const r = await imports.get(db, ws(request), id(request));
    return { ...r, createdAt: iso(r.createdAt), finishedAt: iso(r.finishedAt) };
  });
  app.get('/crm/contacts/export.csv', { config: { ...can('contacts:export'), audit: { action: 'crm.contact.export' } }, schema: { tags, summary: 'Every contact as CSV (standard fields, owner, lifecycle stage, custom fields)' } }, async (request, reply) => {
    const visible = await scope(request);
    const custom = (await fields.of(db, ws(request), 'contact')).map((f) => f.key);
    const mask = personalDataMask(request);
    const lines: unknown[][] = [['id', 'email', 'name', 'firstName', 'lastName', 'phone', 'title', 'ownerId', 'lifecycleStage', 'companyIds', 'createdAt', ...custom.map((k) => `custom.${k}`)]];
    for (let cursor: string | null | undefined; cursor !== null;) {
      const page = await contacts.list(db, ws(request), { limit: 200, cursor: cursor ?? undefined }, visible);
      for (const c of (await shown(request, page.contacts, contactLinks, contactView)).map(mask)) {
        lines.push([c.id, c.email, c.name, c.firstName, c.lastName, c.phone, c.title, c.ownerId, c.lifecycleStage, c.companyIds.join(';'), c.createdAt,
          ...custom.map((k) => { const v = c.custom[k]; return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : v; })]);
      }
      cursor = page.nextCursor;
    }
    return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="contacts.csv"').send(stringify(lines as string[][]));
  });
  app.get('/crm/contacts/:id', { config: can('contacts:read'), schema: { tags, summary: 'One contact (any id of its profile, merged ones followed)', params: ID } }, async (request, reply) => {
    const contact = await contacts.get(db, ws(request), id(request), await scope(request));
    return reply.header('etag', profileEtag(contact)).send(await one(request, contact, contactLinks, contactView));
  });
  app.patch('/crm/contacts/:id', {
    config: can('contacts:write'),
    schema: { tags, summary: 'Change a contact: CRM fields at once (If-Match: 412 when stale), traits through the log', params: ID, body: contactUpdateSchema },
  }, async (request, reply) => {
    const contact = await contacts.update(db, ws(request), id(request), request.body as ContactInput, ifMatch(request), await scope(request));
    return reply.header('etag', profileEtag(contact)).send(await one(request, contact, contactLinks, contactView));
  });

  const MERGE = { type: 'object', required: ['duplicateId'], additionalProperties: false, properties: { duplicateId: { type: 'string', minLength: 1, description: 'The duplicate, merged into the record of the path.' } } };
  const mergeInto = async <T extends { id: string }>(request: FastifyRequest, get: (workspaceId: string, id: string) => Promise<T>) => {
    const primary = await get(ws(request), id(request));
    const duplicate = await get(ws(request), (request.body as { duplicateId: string }).duplicateId);
    if (primary.id === duplicate.id) throw errors.conflict('These ids are one record already.');
    await merge({ workspaceId: ws(request), primaryId: primary.id, duplicateId: duplicate.id, actor: actor(request) });
    return get(ws(request), primary.id);
  };
  app.post('/crm/contacts/:id/merge', {
    config: can('contacts:write'),
    schema: {
      tags, summary: 'Merge a duplicate contact into this one: their profiles merge through the identity merge log',
      description: 'The duplicate\'s emails, ids, events, traits (newest value wins), audiences and computed traits move to this contact; its CRM fields fill the empty ones here, '
        + 'its deals, tasks, tickets and activities show on this contact, and its id keeps answering as this contact. 409 when the two cannot be one person '
        + '(two user ids, more emails than the identity rules allow). A wrong merge is undone by splitting the profile (POST /profiles/{id}/split).',
      params: ID, body: MERGE,
    },
  }, async (request, reply) => {
    const visible = await scope(request);
    const contact = await mergeInto(request, (workspaceId, contactId) => contacts.get(db, workspaceId, contactId, visible));
    return reply.header('etag', profileEtag(contact)).send(await one(request, contact, contactLinks, contactView));
  });

  const timelineRoute = (path: string, what: string, permission: Permission, read$: (workspaceId: string, id: string, q: TimelineQuery, visible: RecordScope) => ReturnType<Contacts['timeline']>) =>
    app.get(path, {
      config: can(permission),
      schema: {
        tags, summary: `A ${what}'s timeline: web visits, tracks, CRM changes and activities, audiences, identity merges; newest first`, params: ID,
        querystring: {
          type: 'object', additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string' }, kinds: { type: 'string', description: `Comma-separated: ${TIMELINE_KINDS.join(', ')}.` } },
        },
      },
    }, async (request) => {
      const q = request.query as { limit: number; cursor?: string; kinds?: string };
      const kinds = q.kinds?.split(',').map((k) => k.trim()).filter(Boolean) as TimelineKind[] | undefined;
      const bad = kinds?.find((k) => !(TIMELINE_KINDS as readonly string[]).includes(k));
      if (bad) throw errors.validation(`Unknown timeline kind "${bad}"; kinds are ${TIMELINE_KINDS.join(', ')}.`);
      let before: { at: number; seq: number } | undefined;
      if (q.cursor) {
        const [at, seq] = q.cursor.split('_').map(Number);
        if (!Number.isSafeInteger(at) || !Number.isSafeInteger(seq)) throw errors.invalidRequest('The cursor is not one this API gave out.');
        before = { at, seq };
      }
      const visible = await scope(request);
      // The CRM's events about deals, tickets, activities and tasks the caller may not see are left out.
      const hide = visible.all ? undefined : (records: { object: string; id: string }[]) => rules.hiddenOf(db, visible, records);
      const page = await read$(ws(request), id(request), { limit: q.limit, before, kinds, hide }, visible);
      return {
        data: page.items.map((i) => ({ kind: i.kind, at: iso(i.at), type: i.type, event: i.event, messageId: i.messageId ?? null, properties: i.properties })),
        nextCursor: page.next ? `${page.next.at}_${page.next.seq}` : null,
      };
    });
  timelineRoute('/crm/contacts/:id/timeline', 'contact', 'contacts:read', (w, i, q, visible) => contacts.timeline(db, w, i, q, visible));
  timelineRoute('/crm/companies/:id/timeline', 'company', 'companies:read', (w, i, q, visible) => companies.timeline(db, w, i, q, visible));

  app.get('/crm/companies', {
    config: can('companies:read'),
    schema: {
      tags, summary: 'Companies: the account profiles, newest first or by a computed trait or score, with their computed traits and audiences',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string', description: 'nextCursor of the previous page, with the same sort and order. A page may be short (even empty) where matches are sparse: the list is done when nextCursor is null.' },
          ownerId: { type: 'string' }, q: { type: 'string', minLength: 1, maxLength: 200, description: 'Words of the name, domain, website or industry, each as a word prefix (full-text search).' }, ...profileListProperties('companies'),
        },
      },
    },
  }, async (request) => {
    const page = await companies.list(db, ws(request), request.query as ProfileListQuery & { ownerId?: string }, await scope(request));
    return { data: await shown(request, page.companies, companyLinks, companyView), nextCursor: page.nextCursor };
  });
  app.post('/crm/companies', {
    config: can('companies:write'),
    schema: { tags, summary: 'Create a company, or find it by group id (default: its domain), through the log like a group call (201 created, 200 found)', body: companyCreateSchema },
  }, async (request, reply) => {
    const { company, created } = await companies.create(db, ws(request), request.body as CompanyInput, await scope(request));
    return reply.status(created ? 201 : 200).header('etag', profileEtag(company)).send(await one(request, company, companyLinks, companyView));
  });
  app.get('/crm/companies/:id', { config: can('companies:read'), schema: { tags, summary: 'One company with its contacts', params: ID } }, async (request, reply) => {
    const company = await companies.get(db, ws(request), id(request), await scope(request));
    return reply.header('etag', profileEtag(company)).send(await one(request, company, companyLinks, companyView));
  });
  app.patch('/crm/companies/:id', {
    config: can('companies:write'),
    schema: { tags, summary: 'Change a company: CRM fields at once (If-Match: 412 when stale), traits through the log', params: ID, body: companyUpdateSchema },
  }, async (request, reply) => {
    const company = await companies.update(db, ws(request), id(request), request.body as CompanyInput, ifMatch(request), await scope(request));
    return reply.header('etag', profileEtag(company)).send(await one(request, company, companyLinks, companyView));
  });

  const OBJECT = { type: 'object', properties: { object: { enum: [...CRM_OBJECTS] } } };
  app.get('/crm/fields/:object', { config: can('crm_settings:read'), schema: { tags, summary: 'Custom fields of an object', params: OBJECT } }, async (request) => ({
    data: await fields.of(db, ws(request), (request.params as { object: CrmObject }).object),
  }));
  // The body is checked by checkFieldDefinition alone: Fastify's validator coerces types, and a definition is typed strictly.
  app.post('/crm/fields/:object', {
    config: can('crm_settings:write'),
    schema: { tags, summary: 'Define a custom field', description: 'Body: a field definition (the `rapport.crm-field` schema): key, label, type, required, and per type options, link, min, max, maxLength.', params: OBJECT },
  }, async (request, reply) =>
    reply.status(201).send(await fields.create(db, ws(request), (request.params as { object: CrmObject }).object, request.body)));
  app.delete('/crm/fields/:object/:key', {
    config: can('crm_settings:write'), schema: { tags, summary: 'Remove a custom field definition', params: { type: 'object', properties: { object: { enum: [...CRM_OBJECTS] }, key: { type: 'string' } } } },
  }, async (request, reply) => {
    const p = request.params as { object: CrmObject; key: string };
    await fields.remove(db, ws(request), p.object, p.key);
    return reply.status(204).send();
  });
}
