import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { explain, parseExternalId, type Collection, type Directory, type Identifier, type ProfileRow } from '../identity/index.js';
import { errors } from '../../platform/errors.js';
import type { HiddenProfiles } from '../../platform/http/access.js';
import { traitValueIn } from './trait-value.js';
import type { ProfilesService } from './service.js';
import type { ProfilesTables } from './store.js';

export interface ProfileManagementDeps {
  db: Kysely<any>;
  directory: Directory;
  profiles: ProfilesService;
  split(input: { workspaceId: string; profileId: string; identifier: Identifier; actor: string }): Promise<{ profileId: string; newProfileId: string; movedEvents: number }>;
  merge(input: { workspaceId: string; primaryId: string; duplicateId: string; actor: string }): Promise<unknown>;
  /** Contacts and companies the caller may not see (record visibility): 404, or left out of lists. */
  hidden: HiddenProfiles;
}

const iso = (ms: number) => new Date(Number(ms)).toISOString();
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } };

function encodeCursor(row: ProfileRow) {
  return Buffer.from(JSON.stringify([Number(row.created_at), row.id])).toString('base64url');
}
function decodeCursor(cursor: string) {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [number, string];
    if (typeof createdAt !== 'number' || typeof id !== 'string') throw new Error();
    return { createdAt, id };
  } catch {
    throw errors.invalidRequest('The cursor is not one this API returned.');
  }
}

/** Rapport's own profile API for the web app: list and search, one profile whole, explain, split, trait settings. */
export async function profileManagementRoutes(app: FastifyInstance, deps: ProfileManagementDeps) {
  const { directory, profiles } = deps;
  const traitsDb = deps.db as Kysely<ProfilesTables>;

  async function summary(row: ProfileRow) {
    const [ids, traits] = await Promise.all([directory.identifiers(row.id), profiles.traits(deps.db, row.id)]);
    return {
      id: row.id, collection: row.collection, createdAt: iso(row.created_at), updatedAt: iso(row.updated_at), merges: row.merges,
      identifiers: ids.map((i) => ({ type: i.type, value: i.value })),
      traits: Object.fromEntries(traits.map((t) => [t.name, JSON.parse(t.value)])),
    };
  }

  async function owned(request: FastifyRequest, id: string): Promise<ProfileRow> {
    const row = await directory.live(request.principal!.workspaceId, id);
    if (!row || (await deps.hidden(request.principal!, [row.id])).has(row.id)) throw errors.notFound('Profile');
    return row;
  }

  app.get('/profiles', {
    config: { access: { permission: 'profiles:read' } },
    schema: {
      tags: ['profiles'], summary: 'List or search profiles, newest first',
      description: '`q`: an identifier value or its beginning (any type), or `type:value`. `trait`: `name:value` for an exact trait value. Cursor pagination with `cursor`.',
      querystring: {
        type: 'object',
        properties: {
          collection: { type: 'string', enum: ['users', 'accounts'], default: 'users' },
          q: { type: 'string', minLength: 1, maxLength: 500 }, trait: { type: 'string', minLength: 3, maxLength: 1000 },
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string' },
        },
      },
    },
  }, async (request) => {
    const workspaceId = request.principal!.workspaceId;
    const q = request.query as { collection: Collection; q?: string; trait?: string; limit: number; cursor?: string };
    let rows: ProfileRow[];
    let next: string | null = null;
    if (q.q && /^[a-z0-9_]+:./.test(q.q)) {
      const hit = await directory.byIdentifier(workspaceId, q.collection, parseExternalId(q.q));
      rows = hit ? [hit] : [];
    } else if (q.q) {
      const ids = await directory.searchIdentifiers(workspaceId, q.collection, q.q.includes('@') ? q.q.toLowerCase() : q.q, q.limit);
      rows = (await Promise.all(ids.map((id) => directory.live(workspaceId, id)))).filter((r): r is ProfileRow => Boolean(r));
    } else if (q.trait) {
      const at = q.trait.indexOf(':');
      if (at <= 0) throw errors.invalidRequest('trait must be name:value.');
      const name = q.trait.slice(0, at);
      const raw = q.trait.slice(at + 1);
      const values = [JSON.stringify(raw), ...(raw !== '' && !Number.isNaN(Number(raw)) ? [raw] : []), ...(raw === 'true' || raw === 'false' ? [raw] : [])];
      const hits = await traitsDb.selectFrom('profile_traits').select('profile_id').where('workspace_id', '=', workspaceId).where('name', '=', name).where(traitValueIn('value', values)).limit(q.limit).execute();
      rows = (await Promise.all(hits.map((h) => directory.live(workspaceId, h.profile_id)))).filter((r): r is ProfileRow => Boolean(r) && r!.collection === q.collection);
    } else {
      const page = await directory.list(workspaceId, q.collection, q.limit + 1, q.cursor ? decodeCursor(q.cursor) : undefined);
      rows = page.slice(0, q.limit);
      if (page.length > q.limit) next = encodeCursor(rows[rows.length - 1]);
    }
    // Contacts and companies the caller may not see are left out (a page may then be short; `next` goes on).
    const hidden = await deps.hidden(request.principal!, rows.map((r) => r.id));
    const unique = [...new Map(rows.filter((r) => !hidden.has(r.id)).map((r) => [r.id, r])).values()];
    return { data: await Promise.all(unique.map(summary)), cursor: { next, hasMore: next !== null } };
  });

  app.get('/profiles/:id', {
    config: { access: { permission: 'profiles:read' } },
    schema: { tags: ['profiles'], summary: 'One profile: identifiers, traits (with their source and time), linked accounts or users, recent merge log', params: idParams },
  }, async (request) => {
    const row = await owned(request, (request.params as { id: string }).id);
    const collection = row.collection as Collection;
    const [base, traits, all, log] = await Promise.all([summary(row), profiles.traits(deps.db, row.id), directory.links(row.id, collection), directory.mergeLog(row.id, 50)]);
    const hiddenLinks = await deps.hidden(request.principal!, all);
    const links = all.filter((id) => !hiddenLinks.has(id));
    const linked = await Promise.all(links.map(async (id) => ({ id, identifiers: (await directory.identifiers(id)).map((i) => ({ type: i.type, value: i.value })) })));
    return {
      ...base,
      traitDetails: traits.map((t) => ({ name: t.name, value: JSON.parse(t.value), updatedAt: iso(t.updated_at), sourceId: t.source_id, messageId: t.message_id })),
      [collection === 'users' ? 'accounts' : 'users']: linked,
      mergeLog: log.map((r) => ({ id: Number(r.id), kind: r.kind, otherProfileId: r.other_profile_id, identifiers: JSON.parse(r.identifiers), rule: r.rule, message: r.message, messageId: r.message_id, at: iso(r.at) })),
      warnings: log.filter((r) => r.kind === 'warning').length,
    };
  });

  app.get('/profiles/:id/explain', {
    config: { access: { permission: 'profiles:read' } },
    schema: { tags: ['profiles'], summary: 'Why each identifier is on this profile, and the merge history behind it', params: idParams },
  }, async (request) => {
    const row = await owned(request, (request.params as { id: string }).id);
    return explain(row.id, await directory.identifiers(row.id), await directory.mergeHistory(row.id));
  });

  app.post('/profiles/:id/split', {
    config: { access: { permission: 'profiles:write' } },
    schema: {
      tags: ['profiles'], summary: 'Move one identifier, and the events that carried it, to a new profile',
      description: 'Both profiles\' traits are rebuilt from their events. A later event that links the identifier again merges it again, unless its value is blocked in the identity rules.',
      params: idParams,
      body: { type: 'object', required: ['type', 'value'], additionalProperties: false, properties: { type: { type: 'string', minLength: 1 }, value: { type: 'string', minLength: 1 } } },
    },
  }, async (request, reply) => {
    const workspaceId = request.principal!.workspaceId;
    const row = await owned(request, (request.params as { id: string }).id);
    if (row.id !== (request.params as { id: string }).id) throw errors.conflict(`This profile was merged into ${row.id}; split that one.`);
    const body = request.body as Identifier;
    const result = await deps.split({ workspaceId, profileId: row.id, identifier: body, actor: `${request.principal!.actor.type}:${request.principal!.actor.id}` });
    reply.status(201);
    return result;
  });

  app.post('/profiles/:id/merge', {
    config: { access: { permission: 'profiles:write' } },
    schema: {
      tags: ['profiles'], summary: 'Merge another profile of the same person into this one (recorded in the merge log)',
      description: 'The other profile\'s identifiers, links, traits (newest value wins), events, computed traits, audience memberships and CRM fields move to this one; '
        + 'its id keeps answering, as this profile. Refused (409) when the merged profile would break an identity rule (two user ids, say) or the two are one already. Undo a wrong merge by splitting.',
      params: idParams,
      body: { type: 'object', required: ['duplicateId'], additionalProperties: false, properties: { duplicateId: { type: 'string', minLength: 1 } } },
    },
  }, async (request) => {
    const workspaceId = request.principal!.workspaceId;
    const primary = await owned(request, (request.params as { id: string }).id);
    const duplicate = await owned(request, (request.body as { duplicateId: string }).duplicateId);
    if (primary.id === duplicate.id) throw errors.conflict('These ids are one profile already.');
    await deps.merge({ workspaceId, primaryId: primary.id, duplicateId: duplicate.id, actor: `${request.principal!.actor.type}:${request.principal!.actor.id}` });
    return summary({ ...(await owned(request, primary.id)) });
  });

  app.get('/profiles/settings', {
    config: { access: { permission: 'profiles:read' } },
    schema: { tags: ['profiles'], summary: 'Profile settings: the traits that keep their first value' },
  }, async (request) => ({ setOnceTraits: [...(await profiles.setOnceNames(deps.db, request.principal!.workspaceId))].sort() }));

  app.put('/profiles/settings', {
    config: { access: { permission: 'profiles:write' } },
    schema: {
      tags: ['profiles'], summary: 'Set the traits that keep their first value ($set_once)',
      body: { type: 'object', required: ['setOnceTraits'], additionalProperties: false, properties: { setOnceTraits: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 500 } } },
    },
  }, async (request) => {
    const names = [...new Set((request.body as { setOnceTraits: string[] }).setOnceTraits)].sort();
    await profiles.saveSetOnce(deps.db, request.principal!.workspaceId, names);
    return { setOnceTraits: names };
  });
}
