import { describe, expect, it } from 'vitest';
import { deriveAudit } from './audit.js';

describe('the action a write is recorded as', () => {
  it.each([
    ['POST', '/crm/deals', 'crm.deal.create', 'crm.deal', []],
    ['PATCH', '/crm/deals/:id', 'crm.deal.update', 'crm.deal', ['id']],
    ['DELETE', '/crm/deals/:id', 'crm.deal.delete', 'crm.deal', ['id']],
    ['POST', '/api-keys', 'api_key.create', 'api_key', []],
    ['DELETE', '/api-keys/:id', 'api_key.delete', 'api_key', ['id']],
    ['POST', '/crm/contacts/:id/merge', 'crm.contact.merge', 'crm.contact', ['id']],
    ['POST', '/crm/deals/bulk', 'crm.deal.bulk', 'crm.deal', []],
    ['POST', '/sources/:id/rotate-write-key', 'source.rotate_write_key', 'source', ['id']],
    ['POST', '/destinations/:id/dead-letters/replay', 'destination.dead_letter.replay', 'destination', ['id']],
    ['DELETE', '/destinations/:id/dead-letters', 'destination.dead_letter.delete', 'destination', ['id']],
    ['POST', '/destinations/:id/replays', 'destination.replay.create', 'destination', ['id']],
    ['PUT', '/crm/sla-policies/:priority', 'crm.sla_policy.update', 'crm.sla_policy', ['priority']],
    ['DELETE', '/crm/fields/:object/:key', 'crm.field.delete', 'crm.field', ['object', 'key']],
    ['PUT', '/computed-traits/:key', 'computed_trait.update', 'computed_trait', ['key']],
    ['PUT', '/identity/rules/:type', 'identity.rule.update', 'identity.rule', ['type']],
    ['PUT', '/profiles/settings', 'profile.setting.update', 'profile.setting', []],
    ['PATCH', '/workspace', 'workspace.update', 'workspace', []],
  ])('%s %s → %s', (method, path, action, targetType, params) => {
    expect(deriveAudit(method, path)).toEqual({ action, targetType, params });
  });
});
