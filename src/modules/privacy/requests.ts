import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditEntry } from '../audit/index.js';
import { normalizeLookup, type Identifier } from '../identity/index.js';
import { errors, RapportError } from '../../platform/errors.js';
import { requestsStore as store, type PrivacyRequestRow, type RequestStatus, type RequestType } from './requests-store.js';
import { suppression } from './suppression.js';

export const REQUEST_TYPES: RequestType[] = ['suppress', 'unsuppress', 'delete', 'export'];
/** A request running this long is taken to have lost its node and is run again (each step is one transaction). */
const STALE_MS = 10 * 60_000;
/** An export's document can be downloaded for this long. */
export const EXPORT_TTL_MS = 7 * 86_400_000;

/** What a request's work produced: the profile it found, counts (never values), and an export's document. */
export interface RequestOutcome {
  profileId: string | null;
  result: Record<string, number | string | boolean | null>;
  document?: unknown;
}

export interface RequestContext {
  workspaceId: string;
  requestId: string;
  identifier: Identifier;
  now: number;
}

export interface RequestsDeps {
  now(): number;
  record(db: Kysely<any>, ...entries: AuditEntry[]): Promise<void>;
  /** The live person profile holding the identifier, with every identifier it holds; null when none does. */
  resolve(db: Kysely<any>, workspaceId: string, identifier: Identifier): Promise<{ profileId: string; identifiers: Identifier[] } | null>;
  /** Erases the person (a workflow across modules), inside the request's transaction. */
  erase(tx: Kysely<any>, request: RequestContext): Promise<RequestOutcome>;
  /** Gathers everything about the person as one document. */
  export(tx: Kysely<any>, request: RequestContext): Promise<RequestOutcome>;
}

const SYSTEM = { type: 'system', id: 'privacy' };

/**
 * Privacy requests by identifier. Each is created pending (the HTTP layer records it in the audit log by its
 * type, `privacy.delete`, with the identifier's type, never its value); a worker runs it in one transaction
 * that also marks it completed, forgets the identifier's value and records the outcome
 * (`privacy.delete.complete` with counts), or marks it failed (`privacy.delete.fail`).
 */
export function createRequests(deps: RequestsDeps) {
  async function get(db: Kysely<any>, workspaceId: string, id: string): Promise<PrivacyRequestRow> {
    const row = await store.get(db, workspaceId, id);
    if (!row) throw errors.notFound('Privacy request');
    return row;
  }

  const handlers: Record<RequestType, (tx: Kysely<any>, r: RequestContext) => Promise<RequestOutcome>> = {
    async suppress(tx, r) {
      const found = await deps.resolve(tx, r.workspaceId, r.identifier);
      const ids = [r.identifier, ...(found?.identifiers ?? []), ...(found ? [{ profileId: found.profileId }] : [])];
      const keys = await suppression.add(tx, r.workspaceId, { id: r.requestId, reason: 'suppress' }, ids, r.now);
      return { profileId: found?.profileId ?? null, result: { profileFound: found !== null, suppressedKeys: keys } };
    },
    async unsuppress(tx, r) {
      const lifted = await suppression.lift(tx, r.workspaceId, r.identifier);
      return { profileId: null, result: { liftedKeys: lifted } };
    },
    delete: (tx, r) => deps.erase(tx, r),
    export: (tx, r) => deps.export(tx, r),
  };

  async function fail(db: Kysely<any>, row: PrivacyRequestRow, error: unknown) {
    // A coded error's message is ours; anything else may quote values, so only its kind is kept.
    const message = error instanceof RapportError ? error.message : `internal error (${error instanceof Error ? error.name : 'unknown'})`;
    await db.transaction().execute(async (tx) => {
      await store.finish(tx, row.id, { status: 'failed', finished_at: deps.now(), error: message });
      await deps.record(tx, { workspaceId: row.workspace_id, actor: SYSTEM, action: `privacy.${row.type}.fail`, target: { type: 'privacy_request', id: row.id }, change: { error: message }, status: 500 });
    });
  }

  return {
    get,
    list: (db: Kysely<any>, workspaceId: string, q: { limit: number; type?: RequestType; status?: RequestStatus; before?: { at: number; id: string } }) => store.list(db, workspaceId, q),

    async create(db: Kysely<any>, workspaceId: string, input: { type: RequestType; identifier: Identifier }, actor: { type: string; id: string }): Promise<PrivacyRequestRow> {
      if (input.identifier.type === 'group_id') throw errors.validation('Privacy requests are about people: a group_id names an account.');
      const identifier = normalizeLookup({ type: input.identifier.type, value: input.identifier.value.trim() });
      if (!identifier.value) throw errors.validation('The identifier needs a value.');
      const row: PrivacyRequestRow = {
        id: randomUUID(), workspace_id: workspaceId, type: input.type, identifier_type: identifier.type, identifier_value: identifier.value, profile_id: null,
        status: 'pending', attempts: 0, actor_type: actor.type, actor_id: actor.id, created_at: deps.now(), started_at: null, finished_at: null, error: null, result: null,
      };
      await store.insert(db, row);
      return row;
    },

    /** Runs the oldest waiting request, if any; false when there was none to take. */
    async runNext(db: Kysely<any>): Promise<boolean> {
      const now = deps.now();
      const id = await store.next(db, now - STALE_MS);
      if (!id) return false;
      if (!(await store.claim(db, id, now, now - STALE_MS))) return true;
      const row = (await store.byId(db, id))!;
      try {
        if (row.identifier_value === null) throw errors.conflict('The request\'s identifier is gone (the person was deleted by another request).');
        await db.transaction().execute(async (tx) => {
          const at = deps.now();
          const outcome = await handlers[row.type](tx, { workspaceId: row.workspace_id, requestId: row.id, identifier: { type: row.identifier_type, value: row.identifier_value! }, now: at });
          if (outcome.document !== undefined) {
            await store.putExport(tx, { request_id: row.id, workspace_id: row.workspace_id, profile_id: outcome.profileId, document: JSON.stringify(outcome.document), created_at: at, expires_at: at + EXPORT_TTL_MS });
          }
          await store.finish(tx, row.id, { status: 'completed', finished_at: deps.now(), identifier_value: null, profile_id: outcome.profileId, result: JSON.stringify(outcome.result), error: null });
          await deps.record(tx, { workspaceId: row.workspace_id, actor: SYSTEM, action: `privacy.${row.type}.complete`, target: { type: 'privacy_request', id: row.id }, change: outcome.result, status: 200 });
        });
      } catch (error) {
        await fail(db, row, error);
      }
      return true;
    },

    /** A failed request runs again (its identifier was kept for that). */
    async retry(db: Kysely<any>, workspaceId: string, id: string): Promise<PrivacyRequestRow> {
      const row = await get(db, workspaceId, id);
      if (row.status !== 'failed') throw errors.conflict(`Only a failed request can be retried; this one is ${row.status}.`);
      if (row.identifier_value === null) throw errors.conflict('The request\'s identifier is gone (the person was deleted by another request): make a new request.');
      await store.finish(db, id, { status: 'pending', error: null, finished_at: null, started_at: null });
      return get(db, workspaceId, id);
    },
    export: (db: Kysely<any>, workspaceId: string, requestId: string) => store.export(db, workspaceId, requestId),
    expireExports: (db: Kysely<any>) => store.expireExports(db, deps.now()),
    /** A deleted person's other requests lose the identifier's value, and their exports go. */
    forget: (db: Kysely<any>, workspaceId: string, identifiers: Identifier[], profileIds: string[]) => store.forget(db, workspaceId, identifiers, profileIds),
  };
}

export type Requests = ReturnType<typeof createRequests>;
