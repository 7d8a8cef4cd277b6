import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { MIN_RETENTION_DAYS, type Retention } from './retention.js';

const settingsResponse = {
  type: 'object',
  properties: {
    retentionDays: { type: ['integer', 'null'], description: 'Raw events received longer ago than this are deleted; null keeps them.' },
    updatedAt: { type: ['string', 'null'] },
  },
};

/** The workspace's privacy settings: retention of raw events. */
export async function settingsRoutes(app: FastifyInstance, { db, retention }: { db: Kysely<any>; retention: Retention }) {
  const tags = ['privacy'];
  app.get('/privacy/settings', { config: { access: { permission: 'privacy:read' } }, schema: { tags, summary: 'Privacy settings (retention of raw events)', response: { 200: settingsResponse } } },
    async (request) => retention.settings(db, request.principal!.workspaceId));
  app.put('/privacy/settings', {
    config: { access: { permission: 'privacy:write' } },
    schema: {
      tags, summary: 'Set how long raw events are kept',
      description: `Raw events (the log) received more than retentionDays days ago are deleted by a periodic job, once every consumer has processed them; profiles, traits, timelines, computed traits and CRM records stay. At least ${MIN_RETENTION_DAYS} days (messageId deduplication lasts as long as an event is kept); null keeps events for ever.`,
      body: {
        type: 'object', required: ['retentionDays'], additionalProperties: false,
        properties: { retentionDays: { type: ['integer', 'null'], minimum: MIN_RETENTION_DAYS, maximum: 36_500 } },
      },
      response: { 200: settingsResponse },
    },
  }, async (request) => retention.setRetention(db, request.principal!.workspaceId, (request.body as { retentionDays: number | null }).retentionDays));
}
