import type { FastifyInstance } from 'fastify';
import type { Members } from './members.js';
import type { Principal } from './service.js';
import { email, idParams, invitation, member, role } from './schema.js';

/** A workspace's members and its invitations. */
export async function memberRoutes(app: FastifyInstance, { members }: { members: Members }) {
  // The workspace's users and invitees are its staff, not its customers: their emails are never masked.
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), pii: false };
  });
  app.get('/users', {
    config: { access: { permission: 'users:read' } },
    schema: { tags: ['users'], summary: 'The workspace\'s members and their roles', response: { 200: { type: 'object', properties: { data: { type: 'array', items: member } } } } },
  }, async (request) => ({ data: await members.members(request.principal!.workspaceId) }));

  app.delete('/users/:id', {
    config: { access: { permission: 'users:write' } },
    schema: { tags: ['users'], summary: 'Remove a member from the workspace (not its last owner); their sessions in it end', params: idParams },
  }, async (request, reply) => {
    await members.removeMember(request.principal as Principal, (request.params as { id: string }).id);
    return reply.status(204).send();
  });

  app.patch('/users/:id', {
    config: { access: { permission: 'users:write' } },
    schema: {
      tags: ['users'], summary: 'Give a member another role (built-in or custom); it applies to their sessions at once',
      description: 'Only an owner makes, changes or demotes an owner; nobody gives a role holding permissions they lack (403). The last owner stays owner (409).',
      params: idParams, body: { type: 'object', required: ['role'], additionalProperties: false, properties: { role } },
      response: { 200: member },
    },
  }, async (request) => members.setRole(request.principal as Principal, (request.params as { id: string }).id, (request.body as { role: string }).role));

  app.post('/invitations', {
    config: { access: { permission: 'users:write' } },
    schema: {
      tags: ['users'], summary: 'Invite someone by email; the single-use token (valid 7 days) is in this response only',
      body: { type: 'object', required: ['email', 'role'], additionalProperties: false, properties: { email, role } },
      response: { 201: { type: 'object', properties: { token: { type: 'string' }, invitation } } },
    },
  }, async (request, reply) => {
    const body = request.body as { email: string; role: string };
    reply.status(201);
    return members.invite(request.principal as Principal, body.email, body.role);
  });

  app.get('/invitations', {
    config: { access: { permission: 'users:read' } },
    schema: { tags: ['users'], summary: 'Invitations not yet accepted, revoked or expired (never their tokens)', response: { 200: { type: 'object', properties: { data: { type: 'array', items: invitation } } } } },
  }, async (request) => ({ data: await members.invitations(request.principal!.workspaceId) }));

  app.delete('/invitations/:id', {
    config: { access: { permission: 'users:write' } },
    schema: { tags: ['users'], summary: 'Revoke a pending invitation', params: idParams },
  }, async (request, reply) => {
    await members.revokeInvitation(request.principal!.workspaceId, (request.params as { id: string }).id);
    return reply.status(204).send();
  });
}
