import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import type { HiddenProfiles } from '../../platform/http/access.js';
import type { DefinitionRow } from './catalog.js';
import { audienceSchema, computedTraitSchema, sharedSchemas } from './definition.js';
import type { AudiencesService } from './service.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
const KEY_PARAM = { type: 'object', properties: { key: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' } } };
const STATUS = 'pending until a worker has backfilled it from the events already processed and computed it in full; ready once kept current by the pipeline.';

function traitView(r: DefinitionRow) {
  return { id: r.id, key: r.key, name: r.name, collection: r.collection, ...JSON.parse(r.definition), status: r.status, computedAt: iso(r.computed_at), createdAt: iso(r.created_at), updatedAt: iso(r.updated_at) };
}

function audienceView(r: DefinitionRow) {
  return {
    id: r.id, key: r.key, name: r.name, description: r.description ?? null, collection: r.collection, condition: (JSON.parse(r.definition) as { condition: unknown }).condition,
    status: r.status, size: Number(r.size ?? 0), computedAt: iso(r.computed_at), createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
  };
}

const definitionView = { type: 'object', additionalProperties: true, properties: { id: { type: 'string' }, key: { type: 'string' }, status: { type: 'string', description: STATUS } } };

/** Management API of computed traits, scores and audiences. Definitions are documented by their schemas in the OpenAPI document. */
export async function audienceRoutes(app: FastifyInstance, { db, audiences, hidden }: {
  db: Kysely<any>; audiences: AudiencesService;
  /** Contacts and companies the caller may not see (record visibility), left out of member lists. Sizes and daily counts still count them. */
  hidden: HiddenProfiles;
}) {
  const visibleOnly = async <T extends { profile_id: string }>(request: FastifyRequest, rows: T[]) => {
    const out = await hidden(request.principal!, rows.map((r) => r.profile_id));
    return rows.filter((r) => !out.has(r.profile_id));
  };
  for (const s of sharedSchemas) app.addSchema(s);
  const read = { access: { permission: 'audiences:read' } } as const;
  const write = { access: { permission: 'audiences:write' } } as const;
  const traitRead = { access: { permission: 'computed_traits:read' } } as const;
  const traitWrite = { access: { permission: 'computed_traits:write' } } as const;
  const ws = (request: { principal?: { workspaceId: string } }) => request.principal!.workspaceId;

  app.get('/computed-traits', { config: traitRead, schema: { tags: ['audiences'], summary: 'Computed traits and scores' } }, async (request) => ({
    data: (await audiences.computedTraits(db, ws(request))).map(traitView),
  }));
  // Definition bodies: the schema documents them and the service validates them, with a message that names
  // the one thing wrong (Fastify's own would list every branch of the condition's oneOf).
  app.post('/computed-traits', {
    config: traitWrite, attachValidation: true,
    schema: {
      tags: ['audiences'], summary: 'Create a computed trait or score',
      description: 'Kinds: count, sum, avg, min, max, most_frequent, first, last, unique_list, unique_count (over an event filter, optionally within a window), and score (points per event rule and trait rule, optional half-life decay). It is backfilled from past events, then kept current as events arrive.',
      body: computedTraitSchema, response: { 201: definitionView },
    },
  }, async (request, reply) => reply.status(201).send(traitView(await audiences.saveComputedTrait(db, ws(request), request.body))));
  app.get('/computed-traits/:key', { config: traitRead, schema: { tags: ['audiences'], summary: 'One computed trait', params: KEY_PARAM } }, async (request) => {
    const row = await audiences.computedTrait(db, ws(request), (request.params as { key: string }).key);
    if (!row) throw errors.notFound('Computed trait');
    return traitView(row);
  });
  app.put('/computed-traits/:key', {
    config: traitWrite, attachValidation: true,
    schema: { tags: ['audiences'], summary: 'Change a computed trait (recomputed in full)', params: KEY_PARAM, body: { ...computedTraitSchema, required: ['name', 'kind'] } },
  }, async (request) => traitView(await audiences.saveComputedTrait(db, ws(request), request.body, (request.params as { key: string }).key)));
  app.delete('/computed-traits/:key', { config: traitWrite, schema: { tags: ['audiences'], summary: 'Delete a computed trait no audience uses', params: KEY_PARAM } }, async (request, reply) => {
    await audiences.deleteComputedTrait(db, ws(request), (request.params as { key: string }).key);
    return reply.status(204).send();
  });

  app.get('/audiences', { config: read, schema: { tags: ['audiences'], summary: 'Audiences with their sizes' } }, async (request) => ({
    data: (await audiences.audiences(db, ws(request))).map(audienceView),
  }));
  app.post('/audiences/preview', {
    config: read, attachValidation: true,
    schema: {
      tags: ['audiences'], summary: 'Size and sample members of a condition, without saving it',
      body: { type: 'object', additionalProperties: false, required: ['condition'], properties: { collection: { enum: ['users', 'accounts'] }, condition: { $ref: 'rapport.condition' } } },
    },
  }, async (request) => {
    const preview = await audiences.preview(db, ws(request), request.body as never);
    const out = await hidden(request.principal!, preview.sample);
    return { ...preview, sample: preview.sample.filter((id) => !out.has(id)) };
  });
  app.post('/audiences', {
    config: write, attachValidation: true,
    schema: {
      tags: ['audiences'], summary: 'Create an audience',
      description: 'Computed in full from the profiles as they are (status pending until then), then kept current per event; members entering and leaving are recorded and appended to the log as Audience Entered / Audience Exited events.',
      body: audienceSchema, response: { 201: definitionView },
    },
  }, async (request, reply) => reply.status(201).send(audienceView(await audiences.saveAudience(db, ws(request), request.body))));
  app.get('/audiences/:key', { config: read, schema: { tags: ['audiences'], summary: 'One audience', params: KEY_PARAM } }, async (request) => {
    const row = await audiences.audience(db, ws(request), (request.params as { key: string }).key);
    if (!row) throw errors.notFound('Audience');
    return audienceView(row);
  });
  app.put('/audiences/:key', {
    config: write, attachValidation: true,
    schema: { tags: ['audiences'], summary: 'Change an audience (recomputed in full)', params: KEY_PARAM, body: { ...audienceSchema, required: ['name', 'condition'] } },
  }, async (request) => audienceView(await audiences.saveAudience(db, ws(request), request.body, (request.params as { key: string }).key)));
  app.delete('/audiences/:key', { config: write, schema: { tags: ['audiences'], summary: 'Delete an audience no other audience uses', params: KEY_PARAM } }, async (request, reply) => {
    await audiences.deleteAudience(db, ws(request), (request.params as { key: string }).key);
    return reply.status(204).send();
  });
  app.post('/audiences/:key/recompute', { config: write, schema: { tags: ['audiences'], summary: 'Recompute an audience in full', params: KEY_PARAM } }, async (request, reply) => {
    await audiences.requestRecompute(db, ws(request), (request.params as { key: string }).key);
    return reply.status(202).send({ status: 'pending' });
  });

  async function audienceOf(request: { principal?: { workspaceId: string }; params: unknown }) {
    const row = await audiences.audience(db, ws(request), (request.params as { key: string }).key);
    if (!row) throw errors.notFound('Audience');
    return row;
  }
  app.get('/audiences/:key/members', {
    config: read,
    schema: {
      tags: ['audiences'], summary: 'Current members, keyset-paginated by profile id', params: KEY_PARAM,
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, cursor: { type: 'string' } } },
    },
  }, async (request) => {
    const a = await audienceOf(request);
    const q = request.query as { limit: number; cursor?: string };
    const rows = await audiences.members(db, a.id, q.limit + 1, q.cursor);
    const page = rows.slice(0, q.limit);
    // Members the caller may not see are left out after the page is read: a page may be short, nextCursor goes on.
    const shown = await visibleOnly(request, page);
    return { data: shown.map((r) => ({ profileId: r.profile_id, enteredAt: iso(r.entered_at) })), nextCursor: rows.length > q.limit ? page[page.length - 1].profile_id : null };
  });
  app.get('/audiences/:key/daily', {
    config: read,
    schema: {
      tags: ['audiences'], summary: 'Per day: members entered, exited, and the size at the end of the day (UTC)', params: KEY_PARAM,
      querystring: { type: 'object', properties: { days: { type: 'integer', minimum: 1, maximum: 365, default: 30 } } },
    },
  }, async (request) => {
    const a = await audienceOf(request);
    return { data: await audiences.daily(db, { id: a.id, size: Number(a.size ?? 0) }, (request.query as { days: number }).days) };
  });
  app.get('/audiences/:key/history', {
    config: read,
    schema: {
      tags: ['audiences'], summary: 'Membership history: each stint with when it was entered and exited, newest first', params: KEY_PARAM,
      querystring: { type: 'object', properties: { profileId: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, cursor: { type: 'integer' } } },
    },
  }, async (request) => {
    const a = await audienceOf(request);
    const q = request.query as { profileId?: string; limit: number; cursor?: number };
    const rows = await audiences.history(db, a.id, { profileId: q.profileId, limit: q.limit + 1, before: q.cursor });
    const page = rows.slice(0, q.limit);
    const shown = await visibleOnly(request, page);
    return {
      data: shown.map((r) => ({ profileId: r.profile_id, enteredAt: iso(r.entered_at), exitedAt: iso(r.exited_at), exitReason: r.exit_reason })),
      nextCursor: rows.length > q.limit ? Number(page[page.length - 1].id) : null,
    };
  });
}
