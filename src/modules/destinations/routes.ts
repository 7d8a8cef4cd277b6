import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { destinationPatchSchema, destinationSchema, sharedSchemas } from './definition.js';
import { redacted, type Destination, type DestinationsService } from './service.js';
import type { AttemptRow, DeadLetterRow, ReplayRow } from './store.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
const ID_PARAM = { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } };
const PAGE = { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, cursor: { type: 'integer' } } };
const IDS_BODY = {
  type: 'object', additionalProperties: false,
  properties: { ids: { type: 'array', maxItems: 10_000, items: { type: 'integer' }, description: 'Dead letters by id; all of them when absent.' } },
};

function view(d: Destination) {
  return {
    id: d.row.id, ...redacted(d.definition), enabled: Boolean(d.row.enabled), failingSince: iso(d.row.failing_since),
    createdAt: iso(d.row.created_at), updatedAt: iso(d.row.updated_at),
  };
}
const attemptView = (r: AttemptRow) => ({
  id: Number(r.id), at: iso(r.at), outcome: r.outcome, statusCode: r.status_code, latencyMs: r.latency_ms, events: r.events, firstMessageId: r.first_message_id, error: r.error, response: r.response,
});
const deadLetterView = (r: DeadLetterRow) => ({
  id: Number(r.id), eventOffset: r.event_offset === null ? null : Number(r.event_offset), profileId: r.profile_id, attempts: r.attempts, enqueuedAt: iso(r.enqueued_at), failedAt: iso(r.failed_at),
  reason: r.reason, statusCode: r.status_code, error: r.error, response: r.response, ...(r.payload ? { payload: JSON.parse(r.payload) as unknown } : {}),
});
const replayView = (r: ReplayRow) => ({
  id: r.id, from: iso(r.from_at), to: iso(r.to_at), status: r.status, scanned: Number(r.scanned), enqueued: Number(r.enqueued), createdAt: iso(r.created_at), finishedAt: iso(r.finished_at),
});

/** Management API of destinations: configuration, delivery log, dead letters, replays and resyncs. */
export async function destinationRoutes(app: FastifyInstance, { db, destinations, changed }: { db: Kysely<any>; destinations: DestinationsService; changed: () => void }) {
  for (const s of sharedSchemas) app.addSchema(s);
  const read = { access: { permission: 'destinations:read' } } as const;
  const write = { access: { permission: 'destinations:write' } } as const;
  const ws = (request: { principal?: { workspaceId: string } }) => request.principal!.workspaceId;
  const id = (request: { params: unknown }) => (request.params as { id: string }).id;
  const tags = ['destinations'];

  app.get('/destinations', { config: read, schema: { tags, summary: 'Destinations (secrets redacted)' } }, async (request) => ({
    data: (await destinations.list(db, ws(request))).map(view),
  }));
  // The service validates bodies (clear messages per type); the schema documents them.
  app.post('/destinations', {
    config: write, attachValidation: true,
    schema: {
      tags, summary: 'Create a destination',
      description: 'Types: webhook (JSON POST of single events or batches, optional HMAC-SHA256 signature), segment (Segment-format /v1/batch to any compatible endpoint, such as another Rapport) and audience_sync (added and removed members of audiences). Events processed from then on are delivered; use a replay for earlier ones.',
      body: destinationSchema,
    },
  }, async (request, reply) => {
    const d = await destinations.create(db, ws(request), request.body);
    changed();
    return reply.status(201).send(view(d));
  });
  app.get('/destinations/:id', { config: read, schema: { tags, summary: 'One destination', params: ID_PARAM } }, async (request) => view(await destinations.get(db, ws(request), id(request))));
  app.patch('/destinations/:id', {
    config: write, attachValidation: true,
    schema: { tags, summary: 'Change a destination (enable, disable, settings merged, other fields replaced)', params: ID_PARAM, body: destinationPatchSchema },
  }, async (request) => {
    const d = await destinations.update(db, ws(request), id(request), request.body as Record<string, unknown>);
    changed();
    return view(d);
  });
  app.delete('/destinations/:id', { config: write, schema: { tags, summary: 'Delete a destination, its queue and its dead letters', params: ID_PARAM } }, async (request, reply) => {
    await destinations.remove(db, ws(request), id(request));
    changed();
    return reply.status(204).send();
  });

  app.get('/destinations/:id/stats', { config: read, schema: { tags, summary: 'Queue depth, messages waiting to be retried, dead letters, and the last hour of deliveries', params: ID_PARAM } }, async (request) => {
    const s = await destinations.stats(db, ws(request), id(request));
    return { ...s, oldestEnqueuedAt: iso(s.oldestEnqueuedAt), failingSince: iso(s.failingSince) };
  });
  app.get('/destinations/:id/attempts', { config: read, schema: { tags, summary: 'Delivery log: each request with its outcome, status, latency and response excerpt, newest first', params: ID_PARAM, querystring: PAGE } }, async (request) => {
    const q = request.query as { limit: number; cursor?: number };
    const rows = await destinations.attempts(db, ws(request), id(request), q.limit + 1, q.cursor);
    const page = rows.slice(0, q.limit);
    return { data: page.map(attemptView), nextCursor: rows.length > q.limit ? Number(page[page.length - 1].id) : null };
  });
  app.get('/destinations/:id/dead-letters', { config: read, schema: { tags, summary: 'Messages given up, with why, newest first', params: ID_PARAM, querystring: PAGE } }, async (request) => {
    const q = request.query as { limit: number; cursor?: number };
    const rows = await destinations.deadLetters(db, ws(request), id(request), q.limit + 1, q.cursor);
    const page = rows.slice(0, q.limit);
    return { data: page.map(deadLetterView), nextCursor: rows.length > q.limit ? Number(page[page.length - 1].id) : null };
  });
  app.post('/destinations/:id/dead-letters/replay', { config: write, schema: { tags, summary: 'Send dead letters again (all, or by id), oldest first, with a fresh retry window', params: ID_PARAM, body: IDS_BODY } }, async (request, reply) => {
    const n = await destinations.replayDeadLetters(db, ws(request), id(request), (request.body as { ids?: number[] } | undefined)?.ids);
    return reply.status(202).send({ requeued: n });
  });
  app.delete('/destinations/:id/dead-letters', { config: write, schema: { tags, summary: 'Discard dead letters (all, or by id)', params: ID_PARAM, body: IDS_BODY } }, async (request) => ({
    discarded: await destinations.discardDeadLetters(db, ws(request), id(request), (request.body as { ids?: number[] } | undefined)?.ids),
  }));

  app.post('/destinations/:id/replays', {
    config: write,
    schema: {
      tags, summary: 'Replay what the log received in a time range to this destination (through its filter)', params: ID_PARAM,
      body: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } } },
    },
  }, async (request, reply) => {
    const body = request.body as { from: string; to: string };
    const r = await destinations.startReplay(db, ws(request), id(request), { from: Date.parse(body.from), to: Date.parse(body.to) });
    return reply.status(202).send(replayView(r));
  });
  app.get('/destinations/:id/replays', { config: read, schema: { tags, summary: 'Replays with their progress, newest first', params: ID_PARAM } }, async (request) => ({
    data: (await destinations.replays(db, ws(request), id(request))).map(replayView),
  }));
  app.post('/destinations/:id/resync', { config: write, schema: { tags, summary: "An audience sync's full resync: every current member sent as added, the last request marked complete", params: ID_PARAM } }, async (request, reply) =>
    reply.status(202).send(await destinations.resync(db, ws(request), id(request))));
  app.post('/destinations/:id/test', { config: write, schema: { tags, summary: 'Send one sample event now (outside the queue) and show what the destination answered', params: ID_PARAM } }, async (request) =>
    destinations.test(db, ws(request), id(request)));
}
