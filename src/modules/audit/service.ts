import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { entryHash, GENESIS, sha256, type ChainedFields } from './chain.js';
import { recordedChange } from './redact.js';
import { createAuditStore, type AuditFilter, type AuditRow, type AuditTables, type NewAuditRow } from './store.js';

/** Who did it: an API key, a signed-in user, or Rapport itself (`system`, with the job's name as id). */
export type ActorType = 'api_key' | 'user' | 'system';

/** One thing to record. Time, sequence and hashes are the log's to assign. */
export interface AuditEntry {
  workspaceId: string;
  actor: { type: ActorType | (string & {}); id: string };
  /** Dot-separated, object first, verb last: `crm.deal.update`, `api_key.create`, `auth.login`, `privacy.delete`. */
  action: string;
  target?: { type: string; id?: string | null } | null;
  /** What changed or was asked for; secrets are redacted and long values cut before it is stored. */
  change?: unknown;
  requestId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** The outcome: the HTTP status of a request; for other entries the closest one (200 done, 401 refused login…). */
  status?: number | null;
}

export type VerifyResult =
  | { ok: true; entries: number; erased: number; head: { seq: number; hash: string } }
  | { ok: false; entries: number; broken: { id: number | null; seq: number; reason: BrokenReason; message: string } };

export type BrokenReason = 'missing_entries' | 'prev_hash_mismatch' | 'change_altered' | 'change_missing' | 'hash_mismatch' | 'head_mismatch';

const PAGE = 1_000;
const cut = (value: string | null | undefined, max: number) => (value ? value.slice(0, max) : null);

const fieldsOf = (r: NewAuditRow | AuditRow): ChainedFields => ({
  workspaceId: r.workspace_id, seq: Number(r.seq), at: r.at, actorType: r.actor_type, actorId: r.actor_id, action: r.action,
  targetType: r.target_type, targetId: r.target_id, changeDigest: r.change_digest, requestId: r.request_id, ip: r.ip,
  userAgent: r.user_agent, status: r.status === null ? null : Number(r.status), prevHash: r.prev_hash,
});

export function createAuditService({ postgres, now }: { postgres: boolean; now: () => number }) {
  const store = createAuditStore(postgres);
  const iso = () => new Date(now()).toISOString();

  /** Appends to one workspace's chain inside `tx`, holding its head until `tx` ends. */
  async function appendIn(tx: Kysely<AuditTables>, workspaceId: string, entries: AuditEntry[]) {
    let head = await store.lockHead(tx, workspaceId);
    if (!head) {
      await store.createHead(tx, workspaceId, GENESIS);
      head = (await store.lockHead(tx, workspaceId))!;
    }
    // The time is taken under the lock, so a chain's times never go backwards on one node.
    const at = iso();
    let { seq, hash: prevHash } = head;
    const rows: NewAuditRow[] = [];
    for (const e of entries) {
      const change = recordedChange(e.change);
      const row: Omit<NewAuditRow, 'hash'> = {
        workspace_id: workspaceId, seq: ++seq, at, actor_type: cut(e.actor.type, 50)!, actor_id: cut(e.actor.id, 200)!, action: cut(e.action, 200)!,
        target_type: cut(e.target?.type, 100), target_id: cut(e.target?.id, 500), change, change_digest: change === null ? null : sha256(change),
        request_id: cut(e.requestId, 200), ip: cut(e.ip, 100), user_agent: cut(e.userAgent, 500), status: e.status ?? null, prev_hash: prevHash,
      };
      const hash = entryHash(fieldsOf({ ...row, hash: '' }));
      rows.push({ ...row, hash });
      prevHash = hash;
    }
    await store.append(tx, rows);
  }

  return {
    /**
     * Appends entries to their workspaces' chains. Given a transaction, the entries commit (or roll back)
     * with it, and hold the chain's head until then, so keep it short; given the database, in one of their own.
     */
    async record(db: Kysely<any>, ...entries: AuditEntry[]): Promise<void> {
      if (entries.length === 0) return;
      const byWorkspace = new Map<string, AuditEntry[]>();
      for (const e of entries) {
        const group = byWorkspace.get(e.workspaceId);
        if (group) group.push(e);
        else byWorkspace.set(e.workspaceId, [e]);
      }
      // Heads are locked in one order, so two multi-workspace appends cannot deadlock.
      const run = async (tx: Kysely<any>) => {
        for (const workspaceId of [...byWorkspace.keys()].sort()) await appendIn(tx, workspaceId, byWorkspace.get(workspaceId)!);
      };
      if (db.isTransaction) await run(db);
      else await db.transaction().execute(run);
    },

    /** Newest first; `cursor` is the `nextCursor` of the page before. */
    async list(db: Kysely<any>, workspaceId: string, filter: AuditFilter, limit: number, cursor?: string) {
      const before = cursor === undefined ? undefined : Number(cursor);
      if (before !== undefined && !Number.isSafeInteger(before)) throw errors.invalidRequest('The cursor is not one this API gave out.');
      const rows = await store.newest(db, workspaceId, filter, limit + 1, before);
      const page = rows.slice(0, limit);
      return { entries: page, nextCursor: rows.length > limit ? String(page[page.length - 1].seq) : null };
    },

    /**
     * Every matching entry in chain order, a page at a time, as the chain stood when this was called
     * (an export ends at a defined entry, whatever is appended while it streams, its own record included).
     */
    async entries(db: Kysely<any>, workspaceId: string, filter: AuditFilter): Promise<AsyncGenerator<AuditRow[]>> {
      const last = (await store.head(db, workspaceId))?.seq ?? 0;
      return (async function* pages() {
        for (let after = 0; ;) {
          const rows = (await store.oldest(db, workspaceId, filter, PAGE, after)).filter((r) => Number(r.seq) <= last);
          if (rows.length > 0) yield rows;
          if (rows.length < PAGE) return;
          after = Number(rows[rows.length - 1].seq);
        }
      })();
    },

    /**
     * Recomputes the workspace's chain from its first entry up to the head read at the start (entries
     * appended meanwhile are not judged): every seq present, each entry's prev_hash the hash before it, each
     * change matching its digest (or erased, on record), each hash recomputed, and the head the last entry.
     */
    async verify(db: Kysely<any>, workspaceId: string): Promise<VerifyResult> {
      const head = await store.head(db, workspaceId);
      let prev = GENESIS;
      let checked = 0;
      let erased = 0;
      const broken = (row: AuditRow | null, seq: number, reason: BrokenReason, message: string): VerifyResult =>
        ({ ok: false, entries: checked, broken: { id: row ? Number(row.id) : null, seq, reason, message } });
      for (let after = 0; ;) {
        const rows = await store.oldest(db, workspaceId, {}, PAGE, after);
        for (const row of rows) {
          const seq = Number(row.seq);
          if (head && seq > head.seq) break;
          if (seq !== checked + 1) return broken(row, seq, 'missing_entries', `Entries ${checked + 1} to ${seq - 1} are missing before this one.`);
          if (row.prev_hash !== prev) return broken(row, seq, 'prev_hash_mismatch', 'Its prev_hash is not the hash of the entry before it.');
          if (row.change !== null && sha256(row.change) !== row.change_digest) return broken(row, seq, 'change_altered', 'Its change does not match the digest it was written with.');
          if (row.change === null && row.change_digest !== null) {
            if (!row.change_erased_at) return broken(row, seq, 'change_missing', 'Its change is gone without an erasure on record.');
            erased++;
          }
          if (entryHash(fieldsOf(row)) !== row.hash) return broken(row, seq, 'hash_mismatch', 'Its fields do not hash to its hash.');
          prev = row.hash;
          checked++;
        }
        if (rows.length < PAGE || (head && checked >= head.seq)) break;
        after = Number(rows[rows.length - 1].seq);
      }
      if (!head) return checked === 0 ? { ok: true, entries: 0, erased: 0, head: { seq: 0, hash: GENESIS } } : broken(null, checked, 'head_mismatch', 'The chain has entries but its head is gone.');
      if (checked !== head.seq || prev !== head.hash) return broken(null, checked + 1, 'missing_entries', `The head is entry ${head.seq} but the chain ends at entry ${checked}.`);
      return { ok: true, entries: checked, erased, head };
    },

    /**
     * Privacy: erases the recorded change of entries about these targets, or mentioning these values
     * (an email, a user id), in one workspace. Who did what to which record, and when, stays and still
     * verifies (the chain covers the change's digest, not the change); the entry shows when it was erased.
     */
    eraseChanges: (db: Kysely<any>, workspaceId: string, match: { targetIds?: string[]; mentioning?: string[] }) =>
      store.eraseChanges(db, workspaceId, match, iso()),
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
