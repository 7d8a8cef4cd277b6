import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import type { ConsentCategoryRow } from './consent-store.js';
import type { Consent, Withdrawal } from './consent.js';

const tags = ['privacy'];
const iso = (ms: number) => new Date(Number(ms)).toISOString();
const ID = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } };
const CATEGORY_NAME = { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S', description: 'As events name it in context.consent.categoryPreferences (case-sensitive), e.g. Advertising.' };
const DESCRIPTION = { type: ['string', 'null'], maxLength: 2000 };
const categoryView = (r: ConsentCategoryRow) => ({ id: r.id, name: r.name, description: r.description, createdAt: r.created_at, updatedAt: r.updated_at });
const categoryResponse = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, description: { type: ['string', 'null'] }, createdAt: { type: 'string' }, updatedAt: { type: 'string' } },
};
const consentResponse = {
  type: 'object',
  properties: {
    profileId: { type: 'string' },
    categoryPreferences: { type: 'object', additionalProperties: { type: 'boolean' }, description: 'Current consent per category (Segment\'s shape); a category never stated is absent.' },
    categories: {
      type: 'object',
      additionalProperties: { type: 'object', properties: { granted: { type: 'boolean' }, statedAt: { type: 'string' }, source: { type: 'string' } } },
    },
    history: {
      type: 'array', description: 'Changes of consent, newest first.',
      items: {
        type: 'object',
        properties: {
          category: { type: 'string' }, granted: { type: 'boolean' }, statedAt: { type: 'string' }, recordedAt: { type: 'string' }, source: { type: 'string', enum: ['event', 'api'] },
          actor: { type: ['object', 'null'], properties: { type: { type: 'string' }, id: { type: 'string' } } },
          event: { type: ['object', 'null'], properties: { offset: { type: 'integer' }, messageId: { type: 'string' } } },
        },
      },
    },
  },
};

export interface ConsentRouteDeps {
  db: Kysely<any>;
  consent: Consent;
  /** The live profile an id names in the workspace (merged ids followed), or undefined. */
  profile(workspaceId: string, id: string): Promise<{ id: string } | undefined>;
  /** Drops what is queued for destinations under consent just withdrawn (in the same transaction). */
  withdraw(db: Kysely<any>, withdrawals: Withdrawal[]): Promise<unknown>;
}

/** Consent categories of the workspace, and each profile's consent with its history. */
export async function consentRoutes(app: FastifyInstance, { db, consent, profile, withdraw }: ConsentRouteDeps) {
  const read = { access: { permission: 'privacy:read' } } as const;
  const write = { access: { permission: 'privacy:write' } } as const;

  app.get('/privacy/consent-categories', { config: read, schema: { tags, summary: 'The workspace\'s consent categories', response: { 200: { type: 'object', properties: { data: { type: 'array', items: categoryResponse } } } } } },
    async (request) => ({ data: (await consent.categories(db, request.principal!.workspaceId)).map(categoryView) }));
  app.post('/privacy/consent-categories', {
    config: write,
    schema: {
      tags, summary: 'Create a consent category',
      description: 'Only categories the workspace defines are kept on profiles (from events and from the API). Destinations name the categories they need in their `consent` setting.',
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: CATEGORY_NAME, description: DESCRIPTION } },
      response: { 201: categoryResponse },
    },
  }, async (request, reply) => {
    const row = await consent.createCategory(db, request.principal!.workspaceId, request.body as { name: string; description?: string });
    return reply.status(201).send(categoryView(row));
  });
  app.get('/privacy/consent-categories/:id', { config: read, schema: { tags, summary: 'One consent category', params: ID, response: { 200: categoryResponse } } },
    async (request) => categoryView(await consent.category(db, request.principal!.workspaceId, (request.params as { id: string }).id)));
  app.patch('/privacy/consent-categories/:id', {
    config: write,
    schema: {
      tags, summary: 'Change a consent category\'s description (its name is what events and destinations refer to, so it is fixed)', params: ID,
      body: { type: 'object', required: ['description'], additionalProperties: false, properties: { description: DESCRIPTION } },
      response: { 200: categoryResponse },
    },
  }, async (request) => categoryView(await consent.updateCategory(db, request.principal!.workspaceId, (request.params as { id: string }).id, request.body as { description: string | null })));
  app.delete('/privacy/consent-categories/:id', {
    config: write, schema: { tags, summary: 'Delete a consent category (profiles\' current consent for it goes; their history stays)', params: ID },
  }, async (request, reply) => {
    await consent.removeCategory(db, request.principal!.workspaceId, (request.params as { id: string }).id);
    return reply.status(204).send();
  });

  async function view(profileId: string) {
    const { current, history } = await consent.get(db, profileId);
    return {
      profileId,
      categoryPreferences: Object.fromEntries(current.map((r) => [r.category, Number(r.granted) === 1])),
      categories: Object.fromEntries(current.map((r) => [r.category, { granted: Number(r.granted) === 1, statedAt: iso(r.stated_at), source: r.source }])),
      history: history.map((h) => ({
        category: h.category, granted: Number(h.granted) === 1, statedAt: iso(h.stated_at), recordedAt: iso(h.recorded_at), source: h.source,
        actor: h.actor_type ? { type: h.actor_type, id: h.actor_id } : null,
        event: h.event_offset !== null ? { offset: Number(h.event_offset), messageId: h.message_id } : null,
      })),
    };
  }
  async function owned(workspaceId: string, id: string) {
    const p = await profile(workspaceId, id);
    if (!p) throw errors.notFound('Profile');
    return p;
  }

  app.get('/profiles/:id/consent', {
    config: read, schema: { tags, summary: 'A profile\'s current consent and its history (when, from which event or which caller)', params: ID, response: { 200: consentResponse } },
  }, async (request) => view((await owned(request.principal!.workspaceId, (request.params as { id: string }).id)).id));
  app.put('/profiles/:id/consent', {
    config: { ...write, audit: { action: 'privacy.consent.update', targetType: 'profile' } },
    schema: {
      tags, summary: 'State a profile\'s consent for some categories (others are left as they are)', params: ID,
      body: {
        type: 'object', required: ['categoryPreferences'], additionalProperties: false,
        properties: { categoryPreferences: { type: 'object', minProperties: 1, maxProperties: 50, additionalProperties: { type: 'boolean' }, description: 'Category name → granted, as in Segment\'s consent spec.' } },
      },
      response: { 200: consentResponse },
    },
  }, async (request) => {
    const workspaceId = request.principal!.workspaceId;
    const p = await owned(workspaceId, (request.params as { id: string }).id);
    const preferences = (request.body as { categoryPreferences: Record<string, boolean> }).categoryPreferences;
    await db.transaction().execute(async (tx) => withdraw(tx, await consent.set(tx, workspaceId, p.id, preferences, request.principal!.actor)));
    return view(p.id);
  });
}
