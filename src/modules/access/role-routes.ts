import type { FastifyInstance } from 'fastify';
import { PERMISSIONS } from './permissions.js';
import type { RoleInput, Roles } from './roles.js';
import type { Principal } from './service.js';
import { idParams } from './schema.js';

const permissions = { type: 'array', maxItems: PERMISSIONS.length, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 100 } };
const roleView = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, description: { type: 'string' }, builtIn: { type: 'boolean' },
    permissions: { type: 'array', items: { type: 'string' } }, createdAt: { type: ['string', 'null'] }, updatedAt: { type: ['string', 'null'] },
  },
};
const name = { type: 'string', minLength: 1, maxLength: 100 };
const description = { type: 'string', maxLength: 1000 };

/** The workspace's roles: the built-in ones, read-only, and its own. */
export async function roleRoutes(app: FastifyInstance, { roles }: { roles: Roles }) {
  const caller = (request: { principal?: unknown }) => request.principal as Principal;

  app.get('/roles/permissions', {
    config: { access: 'signed-in' },
    schema: { tags: ['roles'], summary: 'Every permission a role can hold', response: { 200: { type: 'object', properties: { data: { type: 'array', items: { type: 'string' } } } } } },
  }, async () => ({ data: [...PERMISSIONS] }));

  app.get('/roles', {
    config: { access: { permission: 'roles:read' } },
    schema: { tags: ['roles'], summary: 'Built-in roles, then the workspace\'s custom roles, with their permissions', response: { 200: { type: 'object', properties: { data: { type: 'array', items: roleView } } } } },
  }, async (request) => ({ data: await roles.list(caller(request).workspaceId) }));

  app.get('/roles/:id', {
    config: { access: { permission: 'roles:read' } },
    schema: { tags: ['roles'], summary: 'One role: a built-in role by its name, a custom one by its id', params: idParams, response: { 200: roleView } },
  }, async (request) => roles.get(caller(request).workspaceId, (request.params as { id: string }).id));

  app.post('/roles', {
    config: { access: { permission: 'roles:write' } },
    schema: {
      tags: ['roles'], summary: 'Create a custom role: a name, a description and a set of permissions (none your own role lacks)',
      description: 'Members, invitations and API keys take the new role\'s `id` as their role. Names are unique in the workspace and may not be a built-in role\'s.',
      body: { type: 'object', required: ['name', 'permissions'], additionalProperties: false, properties: { name, description, permissions } },
      response: { 201: roleView },
    },
  }, async (request, reply) => reply.status(201).send(await roles.create(caller(request), request.body as Required<Pick<RoleInput, 'name' | 'permissions'>> & RoleInput)));

  app.patch('/roles/:id', {
    config: { access: { permission: 'roles:write' } },
    schema: {
      tags: ['roles'], summary: 'Rename a custom role, or change its description or permissions; holders\' sessions and API keys follow within seconds',
      params: idParams, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name, description, permissions } },
      response: { 200: roleView },
    },
  }, async (request) => roles.update(caller(request), (request.params as { id: string }).id, request.body as RoleInput));

  app.delete('/roles/:id', {
    config: { access: { permission: 'roles:write' } },
    schema: { tags: ['roles'], summary: 'Delete a custom role no member, pending invitation or API key holds (409 otherwise)', params: idParams },
  }, async (request, reply) => {
    await roles.remove(caller(request), (request.params as { id: string }).id);
    return reply.status(204).send();
  });
}
