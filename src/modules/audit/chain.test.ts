import { describe, expect, it } from 'vitest';
import { canonical, entryHash, GENESIS, type ChainedFields } from './chain.js';

const entry: ChainedFields = {
  workspaceId: 'w1', seq: 1, at: '2026-11-27T10:00:00.000Z', actorType: 'api_key', actorId: 'k1', action: 'crm.deal.update',
  targetType: 'crm.deal', targetId: 'd1', changeDigest: 'ab', requestId: 'r1', ip: '127.0.0.1', userAgent: 'curl', status: 200, prevHash: GENESIS,
};

describe('the hash chain', () => {
  it('serialises an entry one way only, in a documented order', () => {
    expect(canonical(entry)).toBe(`["rapport.audit.v1","w1",1,"2026-11-27T10:00:00.000Z","api_key","k1","crm.deal.update","crm.deal","d1","ab","r1","127.0.0.1","curl",200,"${GENESIS}"]`);
    expect(entryHash(entry)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes the hash when any field changes, including the hash before it', () => {
    const base = entryHash(entry);
    const variants: Partial<ChainedFields>[] = [
      { workspaceId: 'w2' }, { seq: 2 }, { at: '2026-11-27T10:00:00.001Z' }, { actorType: 'user' }, { actorId: 'k2' }, { action: 'crm.deal.delete' },
      { targetType: null }, { targetId: 'd2' }, { changeDigest: null }, { requestId: null }, { ip: '10.0.0.1' }, { userAgent: null }, { status: 400 },
      { prevHash: '1'.repeat(64) },
    ];
    for (const v of variants) expect(entryHash({ ...entry, ...v }), JSON.stringify(v)).not.toBe(base);
  });

  it('cannot be fooled by moving text between fields', () => {
    expect(entryHash({ ...entry, targetType: 'crm.deal', targetId: 'd1' })).not.toBe(entryHash({ ...entry, targetType: 'crm.deal","d1', targetId: null }));
  });
});
