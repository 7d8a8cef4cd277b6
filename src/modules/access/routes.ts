import type { FastifyInstance } from 'fastify';
import { role } from './schema.js';
import type { AccessService, Principal } from './service.js';

const apiKey = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, prefix: { type: 'string' }, role: { type: 'string' }, roleName: { type: ['string', 'null'] },
    createdAt: { type: 'string' }, expiresAt: { type: ['string', 'null'] }, revokedAt: { type: ['string', 'null'] }, lastUsedAt: { type: ['string', 'null'] },
  },
};

export async function accessRoutes(app: FastifyInstance, { access }: { access: AccessService }) {
  app.get('/api-keys', {
    config: { access: { permission: 'api_keys:read' } },
    schema: { tags: ['api keys'], summary: 'List API keys (never their secrets)', response: { 200: { type: 'object', properties: { data: { type: 'array', items: apiKey } } } } },
  }, async (request) => ({ data: await access.listApiKeys(request.principal!.workspaceId) }));

  app.post('/api-keys', {
    // The response's `key` is the secret: only the new key's id goes to the audit log.
    config: { access: { permission: 'api_keys:write' }, audit: { targetId: (response: { apiKey?: { id?: string } } | undefined) => response?.apiKey?.id } },
    schema: {
      tags: ['api keys'], summary: 'Create an API key with a role (built-in or custom; not one holding permissions yours lacks); its secret is in this response only',
      body: {
        type: 'object', required: ['name'], additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, role: { ...role, default: 'admin' }, expiresAt: { type: ['string', 'null'], format: 'date-time' } },
      },
      response: { 201: { type: 'object', properties: { key: { type: 'string' }, apiKey } } },
    },
  }, async (request, reply) => {
    const body = request.body as { name: string; role: string; expiresAt?: string | null };
    reply.status(201);
    return access.createApiKey(request.principal!.workspaceId, body.name, body.role, body.expiresAt ?? null, request.principal as Principal);
  });

  app.delete('/api-keys/:id', {
    config: { access: { permission: 'api_keys:write' } },
    schema: { tags: ['api keys'], summary: 'Revoke an API key', params: { type: 'object', properties: { id: { type: 'string' } } } },
  }, async (request, reply) => {
    await access.revokeApiKey(request.principal!.workspaceId, (request.params as { id: string }).id);
    return reply.status(204).send();
  });
}
