import type { FastifyInstance } from 'fastify';
import { idParams } from './schema.js';
import { RECORD_VISIBILITY, type RecordVisibility, type Teams } from './teams.js';

const team = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, memberIds: { type: 'array', items: { type: 'string' } }, createdAt: { type: 'string' }, updatedAt: { type: 'string' } },
};
const name = { type: 'string', minLength: 1, maxLength: 100 };
const memberIds = { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 100 }, description: 'User ids of members of the workspace; replaces the team\'s members.' };
const visibility = {
  type: 'object', required: ['recordVisibility'], additionalProperties: false,
  properties: {
    recordVisibility: {
      enum: [...RECORD_VISIBILITY],
      description: '`all`: contacts and deals are visible to every role that may read them. `team`: to roles without `records:all`, only those owned by the caller or a member of one of the caller\'s teams, and unowned ones; an API key (no user) sees only unowned ones unless its role holds `records:all`.',
    },
  },
};

/** Teams, and the workspace's record visibility. */
export async function teamRoutes(app: FastifyInstance, { teams }: { teams: Teams }) {
  const ws = (request: { principal?: { workspaceId: string } }) => request.principal!.workspaceId;
  const id = (request: { params: unknown }) => (request.params as { id: string }).id;

  app.get('/teams', {
    config: { access: { permission: 'users:read' } },
    schema: { tags: ['users'], summary: 'Teams with their members', response: { 200: { type: 'object', properties: { data: { type: 'array', items: team } } } } },
  }, async (request) => ({ data: await teams.list(ws(request)) }));
  app.get('/teams/:id', {
    config: { access: { permission: 'users:read' } },
    schema: { tags: ['users'], summary: 'One team', params: idParams, response: { 200: team } },
  }, async (request) => teams.get(ws(request), id(request)));
  app.post('/teams', {
    config: { access: { permission: 'users:write' } },
    schema: { tags: ['users'], summary: 'Create a team', body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name, memberIds } }, response: { 201: team } },
  }, async (request, reply) => reply.status(201).send(await teams.create(ws(request), request.body as { name: string; memberIds?: string[] })));
  app.patch('/teams/:id', {
    config: { access: { permission: 'users:write' } },
    schema: { tags: ['users'], summary: 'Rename a team or set its members', params: idParams, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name, memberIds } }, response: { 200: team } },
  }, async (request) => teams.update(ws(request), id(request), request.body as { name?: string; memberIds?: string[] }));
  app.delete('/teams/:id', {
    config: { access: { permission: 'users:write' } },
    schema: { tags: ['users'], summary: 'Delete a team (its members stay in the workspace)', params: idParams },
  }, async (request, reply) => {
    await teams.remove(ws(request), id(request));
    return reply.status(204).send();
  });

  app.get('/workspace/record-visibility', {
    config: { access: { permission: 'workspace:read' } },
    schema: { tags: ['users'], summary: 'Who sees which contacts and deals', response: { 200: visibility } },
  }, async (request) => ({ recordVisibility: await teams.visibility(ws(request)) }));
  app.put('/workspace/record-visibility', {
    config: { access: { permission: 'workspace:write' } },
    schema: { tags: ['users'], summary: 'Make contacts and deals visible to all, or to their owner and the owner\'s teams (roles with records:all see all)', body: visibility, response: { 200: visibility } },
  }, async (request) => ({ recordVisibility: await teams.setVisibility(ws(request), (request.body as { recordVisibility: RecordVisibility }).recordVisibility) }));
}
