import { describe, expect, it } from 'vitest';
import { maskPersonalData } from './pii.js';

describe('masking personal data', () => {
  it('masks emails, phones and addresses by key at any depth, keeping a hint', () => {
    const contact = {
      id: 'c1', name: 'Ann Lee', email: 'ann.lee@example.com', phone: '+49 30 1234567', title: 'CTO',
      traits: { workEmail: 'ann@corp.example', mobile_phone: '+1 (555) 010-9988', address: { street: '1 Main St', city: 'Berlin', postalCode: 10115 } },
      custom: { emails: ['a@b.example', 'c@d.example'], emailOptIn: true, emailsSent: 12 },
    };
    expect(maskPersonalData(contact)).toEqual({
      id: 'c1', name: 'Ann Lee', email: 'a***@example.com', phone: '***67', title: 'CTO',
      traits: { workEmail: 'a***@corp.example', mobile_phone: '***88', address: { street: '***', city: '***', postalCode: '***' } },
      custom: { emails: ['a***@b.example', 'c***@d.example'], emailOptIn: true, emailsSent: 12 },
    });
    // A copy: the answer's object is left as it was.
    expect(contact.email).toBe('ann.lee@example.com');
  });

  it('masks identifiers by type and email addresses wherever they appear in text', () => {
    const profile = {
      identifiers: [{ type: 'email', value: 'ann@example.com' }, { type: 'phone', value: '+4930123456' }, { type: 'user_id', value: 'u-1' }],
      external_ids: [{ id: '+4930123456', type: 'phone', collection: 'users', encoding: 'none' }],
      explanation: 'merged because email:ann@example.com and phone:+4930123456 were seen together',
      hits: [{ object: 'contact', id: 'c1', title: 'Ann Lee', subtitle: 'ann@example.com · Acme' }],
      activity: { type: 'email', id: 'act-1', subject: 'Re: offer to bob@example.org' },
      context: { ip: '203.0.113.9', userAgent: 'Mozilla/5.0' },
      traitDetails: [{ name: 'phone', value: '+49 30 1234567' }, { name: 'address', value: { city: 'Berlin' } }, { name: 'plan', value: 'pro' }],
    };
    expect(maskPersonalData(profile)).toEqual({
      identifiers: [{ type: 'email', value: 'a***@example.com' }, { type: 'phone', value: '***56' }, { type: 'user_id', value: 'u-1' }],
      external_ids: [{ id: '***56', type: 'phone', collection: 'users', encoding: 'none' }],
      explanation: 'merged because email:a***@example.com and phone:*** were seen together',
      hits: [{ object: 'contact', id: 'c1', title: 'Ann Lee', subtitle: 'a***@example.com · Acme' }],
      activity: { type: 'email', id: 'act-1', subject: 'Re: offer to b***@example.org' },
      context: { ip: '***', userAgent: 'Mozilla/5.0' },
      traitDetails: [{ name: 'phone', value: '***67' }, { name: 'address', value: { city: '***' } }, { name: 'plan', value: 'pro' }],
    });
  });

  it('leaves what holds nothing personal alone: nulls, empty strings, ids, counts, dates', () => {
    const at = new Date(0);
    expect(maskPersonalData({ email: null, phone: '', at, n: 3, ok: true, list: [1, 'two'] })).toEqual({ email: null, phone: '', at, n: 3, ok: true, list: [1, 'two'] });
    expect(maskPersonalData('no address here')).toBe('no address here');
  });

  it('masks a value under an email key that does not look like an email completely', () => {
    expect(maskPersonalData({ email: 'not-an-address' })).toEqual({ email: '***' });
  });
});
