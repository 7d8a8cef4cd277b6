import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { eventLog } from './log-reader.js';
import type { CollectStore, CollectTables } from './store.js';

const MINUTE = 60_000;

export interface Activity {
  from: string;
  to: string;
  /** One entry per minute of the range, oldest first, zeros included. */
  minutes: { at: string; accepted: number; rejected: number }[];
  sources: { sourceId: string; accepted: number; rejected: number; lastEventAt: string | null }[];
  /** The whole installation's pipeline: events in the log not yet processed by the slowest consumer. */
  pipeline: { lagEvents: number; logEnd: number };
}

/**
 * What a workspace's sources took in lately, per minute and per source, and how far the pipeline is behind.
 * The log is scanned from the first offset received in the range (found by binary search on the offset),
 * so the cost follows the range's events, not the log's length.
 */
export function createActivity({ db, store, clock }: { db: Kysely<CollectTables>; store: CollectStore; clock: Clock }) {
  return async function activity(workspaceId: string, minutes: number): Promise<Activity> {
    const to = Math.floor(clock.now() / MINUTE) * MINUTE + MINUTE;
    const from = to - minutes * MINUTE;
    const sources = await store.sources(workspaceId);
    const sourceIds = sources.map((s) => s.id);
    const firstOffset = await eventLog.offsetBefore(db, from);
    // The minute each event was received in, as the same integer arithmetic on both engines.
    const minute = sql<number>`received_at - received_at % ${sql.lit(MINUTE)}`;
    const [accepted, rejected, end, consumers] = await Promise.all([
      sourceIds.length === 0 ? [] : db.selectFrom('events')
        .select((eb) => ['source_id', minute.as('minute'), eb.fn.max('received_at').as('last'), eb.fn.countAll().as('n')])
        .where('offset', '>', firstOffset).where('workspace_id', '=', workspaceId).where('received_at', '>=', from)
        .groupBy(['source_id', minute]).execute(),
      sourceIds.length === 0 ? [] : db.selectFrom('rejected_events')
        .select((eb) => ['source_id', minute.as('minute'), eb.fn.countAll().as('n')])
        .where('source_id', 'in', sourceIds).where('received_at', '>=', from)
        .groupBy(['source_id', minute]).execute(),
      store.logEnd(),
      store.consumerOffsets(),
    ]);
    const perMinute = Array.from({ length: minutes }, (_, i) => ({ at: new Date(from + i * MINUTE).toISOString(), accepted: 0, rejected: 0 }));
    const perSource = new Map(sources.map((s) => [s.id, { sourceId: s.id, accepted: 0, rejected: 0, lastEventAt: null as string | null }]));
    const slot = (receivedAt: unknown) => perMinute[Math.min(minutes - 1, Math.floor((Number(receivedAt) - from) / MINUTE))];
    for (const row of accepted as { source_id: string; n: unknown; minute: unknown; last: unknown }[]) {
      const n = Number(row.n);
      slot(row.minute).accepted += n;
      const s = perSource.get(row.source_id);
      if (s) {
        s.accepted += n;
        const at = new Date(Number(row.last)).toISOString();
        if (!s.lastEventAt || at > s.lastEventAt) s.lastEventAt = at;
      }
    }
    for (const row of rejected as { source_id: string; n: unknown; minute: unknown }[]) {
      const n = Number(row.n);
      slot(row.minute).rejected += n;
      const s = perSource.get(row.source_id);
      if (s) s.rejected += n;
    }
    const slowest = consumers.length > 0 ? Math.min(...consumers.map((c) => Number(c.offset))) : 0;
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      minutes: perMinute,
      sources: [...perSource.values()],
      pipeline: { lagEvents: Math.max(0, end - slowest), logEnd: end },
    };
  };
}

const count = { type: 'integer' };

export async function activityRoutes(app: FastifyInstance, { activity }: { activity: ReturnType<typeof createActivity> }) {
  app.get('/stats/events', {
    config: { access: { permission: 'sources:read' } },
    schema: {
      tags: ['sources'],
      summary: 'Events accepted and refused per minute and per source over the last minutes, and the pipeline lag',
      querystring: { type: 'object', additionalProperties: false, properties: { minutes: { type: 'integer', minimum: 1, maximum: 1440, default: 60 } } },
      response: {
        200: {
          type: 'object',
          properties: {
            from: { type: 'string' }, to: { type: 'string' },
            minutes: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, accepted: count, rejected: count } } },
            sources: { type: 'array', items: { type: 'object', properties: { sourceId: { type: 'string' }, accepted: count, rejected: count, lastEventAt: { type: ['string', 'null'] } } } },
            pipeline: { type: 'object', properties: { lagEvents: count, logEnd: count }, description: 'Installation-wide: rapport_pipeline_lag_events and the log\'s last offset.' },
          },
        },
      },
    },
  }, async (request) => activity(request.principal!.workspaceId, (request.query as { minutes: number }).minutes));
}
