import { createHash } from 'node:crypto';

/** The hash before a workspace's first entry. */
export const GENESIS = '0'.repeat(64);

/** What an entry's hash covers: every column but its id, its hash and its change (covered by the change's digest). */
export interface ChainedFields {
  workspaceId: string;
  seq: number;
  at: string;
  actorType: string;
  actorId: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  changeDigest: string | null;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  status: number | null;
  prevHash: string;
}

export const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The canonical serialisation: a JSON array in this fixed order, prefixed by its version. An array of
 * strings, numbers and nulls has exactly one JSON.stringify rendering, so anyone can recompute a hash from
 * an export. The change is covered by its digest, so it can be erased (privacy) without breaking the chain.
 */
export function canonical(e: ChainedFields): string {
  return JSON.stringify([
    'rapport.audit.v1', e.workspaceId, e.seq, e.at, e.actorType, e.actorId, e.action, e.targetType, e.targetId,
    e.changeDigest, e.requestId, e.ip, e.userAgent, e.status, e.prevHash,
  ]);
}

export const entryHash = (e: ChainedFields) => sha256(canonical(e));
