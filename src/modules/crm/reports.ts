import { sql, type Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { fromMinor } from './money.js';
import { listPipelines } from './pipelines.js';
import { ALL_RECORDS, ownerVisible, type RecordScope } from './record-scope.js';

/** Money per currency: amounts of different currencies are never added together. */
type Amounts = Record<string, number>;
const add = (to: Amounts, currency: string, minor: number) => {
  to[currency] = (to[currency] ?? 0) + minor;
};
const major = (a: Amounts) => Object.fromEntries(Object.entries(a).map(([c, m]) => [c, fromMinor(m, c)]));
const n = (v: unknown) => Number(v ?? 0);

/** The CRM's reports, computed in SQL per request (aggregates over the workspace's records; deals only those in the caller's scope). */
export const reports = {
  /** Per stage of a pipeline: open deals, their value and their value weighted by the stage's probability. */
  async pipeline(db: Kysely<any>, workspaceId: string, pipelineId?: string, scope: RecordScope = ALL_RECORDS) {
    const pipelines = await listPipelines(db, workspaceId);
    const pipeline = pipelineId ? pipelines.find((p) => p.id === pipelineId) : pipelines[0];
    if (!pipeline) throw errors.notFound('Pipeline');
    const rows = await sql<{ stage_id: string; currency: string; deals: number; minor: number }>`select stage_id, currency, count(*) as deals, coalesce(sum(amount_minor), 0) as minor
      from crm_deals where workspace_id = ${workspaceId} and pipeline_id = ${pipeline.id} and ${ownerVisible('owner_id', scope)} group by stage_id, currency`.execute(db);
    return {
      pipelineId: pipeline.id,
      stages: pipeline.stages.map((s) => {
        const mine = rows.rows.filter((r) => r.stage_id === s.id);
        const value: Amounts = {};
        for (const r of mine) add(value, r.currency, n(r.minor));
        const weighted = Object.fromEntries(Object.entries(value).map(([c, m]) => [c, Math.round((m * s.probability) / 100)]));
        return { stageId: s.id, name: s.name, outcome: s.outcome, probability: s.probability, deals: mine.reduce((a, r) => a + n(r.deals), 0), value: major(value), weighted: major(weighted) };
      }),
    };
  },

  /** Open deals by close month, weighted by their stage's probability, beside what was won in that month. */
  async forecast(db: Kysely<any>, workspaceId: string, from: string, to: string, scope: RecordScope = ALL_RECORDS) {
    const open = await sql<{ month: string; currency: string; minor: number; weighted: number; deals: number }>`select substr(d.close_date, 1, 7) as month, d.currency,
      coalesce(sum(d.amount_minor), 0) as minor, coalesce(sum(d.amount_minor * s.probability), 0) as weighted, count(*) as deals
      from crm_deals d join crm_stages s on s.id = d.stage_id
      where d.workspace_id = ${workspaceId} and ${ownerVisible('d.owner_id', scope)} and d.status = 'open' and d.close_date >= ${from} and d.close_date < ${to} group by substr(d.close_date, 1, 7), d.currency`.execute(db);
    const won = await sql<{ month: string; currency: string; minor: number; deals: number }>`select substr(close_date, 1, 7) as month, currency, coalesce(sum(amount_minor), 0) as minor, count(*) as deals
      from crm_deals where workspace_id = ${workspaceId} and ${ownerVisible('owner_id', scope)} and status = 'won' and close_date >= ${from} and close_date < ${to} group by substr(close_date, 1, 7), currency`.execute(db);
    const months = [...new Set([...open.rows, ...won.rows].map((r) => r.month))].sort();
    return months.map((month) => {
      const o = open.rows.filter((r) => r.month === month);
      const w = won.rows.filter((r) => r.month === month);
      const pipeline: Amounts = {};
      const weighted: Amounts = {};
      const closed: Amounts = {};
      for (const r of o) {
        add(pipeline, r.currency, n(r.minor));
        add(weighted, r.currency, Math.round(n(r.weighted) / 100));
      }
      for (const r of w) add(closed, r.currency, n(r.minor));
      return { month, openDeals: o.reduce((a, r) => a + n(r.deals), 0), pipeline: major(pipeline), weighted: major(weighted), wonDeals: w.reduce((a, r) => a + n(r.deals), 0), won: major(closed) };
    });
  },

  /** Of the deals closed in [from, to), the share won, overall and per owner. */
  async winRate(db: Kysely<any>, workspaceId: string, from: number, to: number, scope: RecordScope = ALL_RECORDS) {
    const rows = await sql<{ owner_id: string | null; status: string; deals: number }>`select owner_id, status, count(*) as deals from crm_deals
      where workspace_id = ${workspaceId} and ${ownerVisible('owner_id', scope)} and status in ('won', 'lost') and closed_at >= ${from} and closed_at < ${to} group by owner_id, status`.execute(db);
    const rate = (list: typeof rows.rows) => {
      const won = list.filter((r) => r.status === 'won').reduce((a, r) => a + n(r.deals), 0);
      const lost = list.filter((r) => r.status === 'lost').reduce((a, r) => a + n(r.deals), 0);
      return { won, lost, winRate: won + lost ? won / (won + lost) : null };
    };
    const owners = [...new Set(rows.rows.map((r) => r.owner_id))];
    return { ...rate(rows.rows), owners: owners.map((o) => ({ ownerId: o, ...rate(rows.rows.filter((r) => r.owner_id === o)) })) };
  },

  /** Activities logged in [from, to), per owner and kind. */
  async activities(db: Kysely<any>, workspaceId: string, from: number, to: number) {
    const rows = await sql<{ owner_id: string | null; kind: string; n: number }>`select owner_id, kind, count(*) as n from crm_activities
      where workspace_id = ${workspaceId} and occurred_at >= ${from} and occurred_at < ${to} group by owner_id, kind`.execute(db);
    const owners = [...new Set(rows.rows.map((r) => r.owner_id))];
    return owners.map((o) => {
      const mine = rows.rows.filter((r) => r.owner_id === o);
      const count = (k: string) => n(mine.find((r) => r.kind === k)?.n);
      return { ownerId: o, notes: count('note'), calls: count('call'), emails: count('email'), meetings: count('meeting'), total: mine.reduce((a, r) => a + n(r.n), 0) };
    });
  },

  /** SLA compliance of the tickets opened in [from, to), per priority: targets met, missed, and still running. */
  async sla(db: Kysely<any>, workspaceId: string, from: number, to: number, now: number) {
    const rows = await sql<{ priority: string; tickets: number; fr_met: number; fr_missed: number; res_met: number; res_missed: number }>`select priority, count(*) as tickets,
      sum(case when first_responded_at is not null and first_responded_at <= first_response_due_at then 1 else 0 end) as fr_met,
      sum(case when coalesce(first_responded_at, ${now}) > first_response_due_at then 1 else 0 end) as fr_missed,
      sum(case when resolved_at is not null and resolved_at <= resolution_due_at then 1 else 0 end) as res_met,
      sum(case when coalesce(resolved_at, ${now}) > resolution_due_at then 1 else 0 end) as res_missed
      from crm_tickets where workspace_id = ${workspaceId} and created_at >= ${from} and created_at < ${to} group by priority`.execute(db);
    const share = (met: number, missed: number) => (met + missed ? met / (met + missed) : null);
    return rows.rows.map((r) => ({
      priority: r.priority, tickets: n(r.tickets),
      firstResponse: { met: n(r.fr_met), missed: n(r.fr_missed), running: n(r.tickets) - n(r.fr_met) - n(r.fr_missed), compliance: share(n(r.fr_met), n(r.fr_missed)) },
      resolution: { met: n(r.res_met), missed: n(r.res_missed), running: n(r.tickets) - n(r.res_met) - n(r.res_missed), compliance: share(n(r.res_met), n(r.res_missed)) },
    }));
  },
};
