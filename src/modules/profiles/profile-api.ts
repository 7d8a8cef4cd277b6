import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { LoggedEvent } from '../collect/index.js';
import { parseExternalId, type Collection, type Directory, type IdentifierRow, type ProfileRow } from '../identity/index.js';
import { errors } from '../../platform/errors.js';
import type { HiddenEvents, HiddenProfiles } from '../../platform/http/access.js';
import type { ProfilesService } from './service.js';

export interface ProfileApiDeps {
  db: Kysely<any>;
  directory: Directory;
  profiles: ProfilesService;
  eventsAt(workspaceId: string, offsets: number[]): Promise<LoggedEvent[]>;
  /** Trait classes other modules compute (audiences: `audience`, `computed_trait`), by name. */
  /** Contacts and companies the caller may not see (record visibility): 404, as an unknown profile. */
  hidden: HiddenProfiles;
  /** Events about records the caller may not see (the CRM's, about a hidden deal): left out of a page. */
  hiddenEvents: HiddenEvents;
  classes?: Partial<Record<'audience' | 'computed_trait', (workspaceId: string, profileId: string) => Promise<{ name: string; value: unknown; updated_at: number }[]>>>;
}

interface Params {
  spaceId: string;
  collection: string;
  externalId: string;
}

const iso = (ms: number) => new Date(Number(ms)).toISOString();
const list = (csv?: string) => (csv ? csv.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

function cursor(request: FastifyRequest, next: string | null) {
  const url = new URL(request.url, 'http://x');
  return { url: url.pathname + url.search, has_more: next !== null, next: next ?? '' };
}

function externalIdView(row: IdentifierRow) {
  return {
    source_id: row.source_id, collection: row.collection, id: row.value, type: row.type,
    created_at: iso(row.first_seen), encoding: 'none', first_message_id: row.first_message_id,
  };
}

/**
 * Segment's Profile API: `GET /v1/spaces/{workspaceId}/collections/{users|accounts}/profiles/{type}:{value}/…`
 * with its response shapes, `limit`/`next` pagination and error codes. The API key is the Basic username.
 */
export async function profileApiRoutes(app: FastifyInstance, deps: ProfileApiDeps) {
  const { directory, profiles } = deps;
  app.addHook('onSend', async (request, reply) => {
    reply.header('request-id', request.id);
  });

  async function resolve(request: FastifyRequest): Promise<{ profile: ProfileRow; collection: Collection }> {
    const { spaceId, collection, externalId } = request.params as Params;
    // Another workspace's space answers like a missing profile: no existence leak.
    if (spaceId !== request.principal!.workspaceId) throw errors.notFound('Profile');
    if (collection !== 'users' && collection !== 'accounts') throw errors.notFound('Collection');
    const profile = await directory.byIdentifier(spaceId, collection, parseExternalId(decodeURIComponent(externalId)));
    if (!profile || (await deps.hidden(request.principal!, [profile.id])).has(profile.id)) throw errors.notFound('Profile');
    return { profile, collection };
  }

  const base = '/v1/spaces/:spaceId/collections/:collection/profiles/:externalId';
  const route = (resource: string, summary: string, querystring: Record<string, unknown>, handler: (request: FastifyRequest) => Promise<unknown>) =>
    app.get(`${base}/${resource}`, {
      config: { access: { permission: 'profiles:read' } },
      schema: {
        tags: ['profile api'], summary,
        params: { type: 'object', properties: { spaceId: { type: 'string' }, collection: { type: 'string', enum: ['users', 'accounts'] }, externalId: { type: 'string' } } },
        querystring: { type: 'object', properties: querystring },
      },
    }, handler);

  route('traits', "A profile's traits", {
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 10 }, next: { type: 'string' }, include: { type: 'string' },
    class: { type: 'string', enum: ['traits', 'audience', 'computed_trait'] }, verbose: { type: 'boolean', default: false },
  }, async (request) => {
    const { profile } = await resolve(request);
    const q = request.query as { limit: number; next?: string; include?: string; class?: string; verbose: boolean };
    // class=audience / computed_trait come from the audiences module; without a class, the profile's own traits.
    const provider = q.class === 'audience' || q.class === 'computed_trait' ? deps.classes?.[q.class] : undefined;
    let rows = provider
      ? (await provider(profile.workspace_id, profile.id)).map((r) => ({ name: r.name, value: JSON.stringify(r.value), source_id: 'rapport', updated_at: r.updated_at }))
      : q.class === 'audience' || q.class === 'computed_trait' ? [] : await profiles.traits(deps.db, profile.id);
    const include = list(q.include);
    if (include) rows = rows.filter((r) => include.includes(r.name));
    if (q.next) rows = rows.filter((r) => r.name > q.next!);
    const page = rows.slice(0, q.limit);
    const traits: Record<string, unknown> = {};
    for (const r of page) {
      const value = JSON.parse(r.value);
      traits[r.name] = q.verbose ? { value, source_id: r.source_id, updated_at: iso(r.updated_at) } : value;
    }
    return { traits, cursor: cursor(request, rows.length > q.limit ? page[page.length - 1].name : null) };
  });

  route('external_ids', "A profile's identifiers", {
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, next: { type: 'string' }, include: { type: 'string' }, verbose: { type: 'boolean' },
  }, async (request) => {
    const { profile } = await resolve(request);
    const q = request.query as { limit: number; next?: string; include?: string };
    let rows = await directory.identifiers(profile.id);
    const include = list(q.include);
    if (include) rows = rows.filter((r) => include.includes(r.type));
    const start = q.next ? Number(q.next) : 0;
    const page = rows.slice(start, start + q.limit);
    return { data: page.map(externalIdView), cursor: cursor(request, start + q.limit < rows.length ? String(start + q.limit) : null) };
  });

  route('events', "A profile's events, across merges", {
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, next: { type: 'string' }, start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' },
    include: { type: 'string' }, exclude: { type: 'string' }, sort: { type: 'string', enum: ['asc', 'desc'], default: 'desc' },
  }, async (request) => {
    const { profile } = await resolve(request);
    const q = request.query as { limit: number; next?: string; start?: string; end?: string; include?: string; exclude?: string; sort: 'asc' | 'desc' };
    const start = q.next ? Number(q.next) : 0;
    if (!Number.isInteger(start) || start < 0) throw errors.invalidRequest('next is not a cursor this API returned.');
    const rows = await profiles.timelinePage(deps.db, profile.id, {
      from: q.start ? Date.parse(q.start) : undefined, to: q.end ? Date.parse(q.end) : undefined,
      include: list(q.include), exclude: list(q.exclude), sort: q.sort, skip: start, limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const byOffset = new Map((await deps.eventsAt(profile.workspace_id, page.map((r) => Number(r.event_offset)))).map((e) => [e.offset, e]));
    const properties = (r: (typeof page)[number]) => (((byOffset.get(Number(r.event_offset))?.message ?? {}) as { properties?: Record<string, unknown> }).properties ?? {});
    // Left out after the page is read: a page may be short, and `next` goes on.
    const hidden = await deps.hiddenEvents(request.principal!, page.map((r) => ({ sourceId: byOffset.get(Number(r.event_offset))?.sourceId ?? '', properties: properties(r) })));
    const data = page.filter((_, i) => !hidden[i]).map((r) => {
      const e = byOffset.get(Number(r.event_offset));
      const m = (e?.message ?? {}) as Record<string, unknown>;
      const ids = JSON.parse(r.identifiers) as string[];
      return {
        external_ids: ids.map((k) => ({ type: k.slice(0, k.indexOf(':')), id: k.slice(k.indexOf(':') + 1), collection: 'users', encoding: 'none' })),
        context: m.context ?? {}, type: r.type, message_id: e?.messageId, source_id: e?.sourceId, timestamp: iso(r.timestamp),
        properties: m.properties ?? (r.type === 'identify' || r.type === 'group' ? m.traits : {}) ?? {}, event: r.event ?? undefined, related: { users: null },
      };
    });
    return { data, cursor: cursor(request, rows.length > q.limit ? String(start + q.limit) : null) };
  });

  route('metadata', "When a profile was created and last updated, and by which messages", {}, async (request) => {
    const { profile } = await resolve(request);
    const timeline = await profiles.timeline(deps.db, profile.id);
    const first = timeline[0];
    const last = timeline[timeline.length - 1];
    const events = await deps.eventsAt(profile.workspace_id, [first, last].filter(Boolean).map((r) => Number(r.event_offset)));
    const at = (offset?: number) => events.find((e) => e.offset === Number(offset));
    return {
      metadata: {
        created_at: iso(profile.created_at), updated_at: iso(Math.max(Number(profile.updated_at), Number(last?.timestamp ?? 0))), expires_at: null,
        first_message_id: at(first?.event_offset)?.messageId ?? null, first_source_id: at(first?.event_offset)?.sourceId ?? null,
        last_message_id: at(last?.event_offset)?.messageId ?? null, last_source_id: at(last?.event_offset)?.sourceId ?? null,
      },
    };
  });

  route('links', "The accounts a user belongs to (or the users of an account)", {}, async (request) => {
    const { profile, collection } = await resolve(request);
    const other: Collection = collection === 'users' ? 'accounts' : 'users';
    const all = await directory.links(profile.id, collection);
    const hidden = await deps.hidden(request.principal!, all);
    const linked = all.filter((id) => !hidden.has(id));
    const data = [];
    for (const id of linked) data.push({ to_collection: other, external_ids: (await directory.identifiers(id)).map(externalIdView) });
    return { data, cursor: cursor(request, null) };
  });
}
