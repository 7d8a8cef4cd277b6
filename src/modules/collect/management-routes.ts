import type { FastifyInstance } from 'fastify';
import { personalDataMask } from '../../platform/http/pii.js';
import type { Debugger, DebuggerCursor } from './debugger.js';
import { SOURCE_TYPES, type CollectService } from './service.js';

const source = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    workspaceId: { type: 'string' },
    name: { type: 'string' },
    type: { type: 'string' },
    writeKey: { type: 'string', description: 'Public: it can only ingest events.' },
    enabled: { type: 'boolean' },
    rateLimit: { type: ['integer', 'null'], description: 'Events per second for this write key; null uses the server default.' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
};
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } };
const writable = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  type: { type: 'string', enum: [...SOURCE_TYPES] },
  rateLimit: { type: ['integer', 'null'], minimum: 1 },
};

interface Workspace {
  id: string;
  name: string;
  created_at: string;
}

export async function managementRoutes(
  app: FastifyInstance,
  { collect, debug, workspace }: { collect: CollectService; debug: Debugger; workspace: (id: string) => Promise<Workspace | undefined> },
) {
  const ws = (request: { principal?: { workspaceId: string } }) => request.principal!.workspaceId;

  app.get('/workspace', {
    config: { access: { permission: 'workspace:read' } },
    schema: { tags: ['workspace'], summary: 'The workspace this key belongs to' },
  }, async (request) => {
    const row = await workspace(ws(request));
    return { id: row!.id, name: row!.name, createdAt: row!.created_at };
  });

  app.get('/sources', {
    config: { access: { permission: 'sources:read' } },
    schema: { tags: ['sources'], summary: 'List sources', response: { 200: { type: 'object', properties: { data: { type: 'array', items: source } } } } },
  }, async (request) => ({ data: await collect.listSources(ws(request)) }));

  app.post('/sources', {
    config: { access: { permission: 'sources:write' } },
    schema: {
      tags: ['sources'], summary: 'Create a source with a new write key',
      body: { type: 'object', required: ['name', 'type'], additionalProperties: false, properties: writable },
      response: { 201: source },
    },
  }, async (request, reply) => {
    const body = request.body as { name: string; type: string; rateLimit?: number | null };
    reply.status(201);
    return collect.createSource(ws(request), body);
  });

  app.get('/sources/:id', {
    config: { access: { permission: 'sources:read' } },
    schema: { tags: ['sources'], summary: 'One source', params: idParams, response: { 200: source } },
  }, async (request) => collect.getSource(ws(request), (request.params as { id: string }).id));

  app.patch('/sources/:id', {
    config: { access: { permission: 'sources:write' } },
    schema: {
      tags: ['sources'], summary: 'Rename, retype, enable or disable a source, or set its rate limit', params: idParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { ...writable, enabled: { type: 'boolean' } } },
      response: { 200: source },
    },
  }, async (request) => collect.updateSource(ws(request), (request.params as { id: string }).id, request.body as never));

  app.post('/sources/:id/rotate-write-key', {
    config: { access: { permission: 'sources:write' } },
    schema: { tags: ['sources'], summary: 'Replace the write key; the old one stops working', params: idParams, response: { 200: source } },
  }, async (request) => collect.rotateWriteKey(ws(request), (request.params as { id: string }).id));

  // An open stream would keep the server from closing: end each one when it shuts down.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });

  const debuggerQuery = {
    type: 'object',
    properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
  };

  app.get('/sources/:id/debugger', {
    config: { access: { permission: 'debugger:read' } },
    schema: { tags: ['debugger'], summary: 'The newest events of a source, accepted and rejected (with reasons)', params: idParams, querystring: debuggerQuery },
  }, async (request) => {
    const { id } = request.params as { id: string };
    await collect.getSource(ws(request), id);
    const { entries, cursor } = await debug.recent(id, (request.query as { limit: number }).limit);
    return { data: entries, cursor };
  });

  app.get('/sources/:id/debugger/stream', {
    config: { access: { permission: 'debugger:read' } },
    schema: {
      tags: ['debugger'], params: idParams,
      summary: 'Server-sent events: each new event of the source as it is stored or rejected',
      description: 'Each message is a `data:` line with one debugger entry. Polls the log, so it sees events taken by any node.',
    },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    await collect.getSource(ws(request), id);
    // Start at the log's current end: the stream shows what arrives from now on.
    let { cursor } = await debug.recent(id, 1);
    const mask = personalDataMask(request);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(': connected\n\n');
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const poll = async () => {
      if (closed) return;
      try {
        const batch = await debug.recent(id, 200, cursor as DebuggerCursor);
        cursor = batch.cursor;
        for (const entry of batch.entries.reverse()) raw.write(`id: ${entry.offset ?? `r${entry.rejectionId}`}\ndata: ${JSON.stringify(mask(entry))}\n\n`);
        if (batch.entries.length === 0) raw.write(': keep-alive\n\n');
      } catch (error) {
        request.log.warn({ err: error }, 'debugger stream poll failed');
      }
      if (!closed) timer = setTimeout(poll, 500);
    };
    const end = () => {
      closed = true;
      clearTimeout(timer);
      streams.delete(end);
      raw.end();
    };
    streams.add(end);
    request.raw.on('close', end);
    timer = setTimeout(poll, 250);
  });
}
