import { describe, expect, it } from 'vitest';
import type { DestinationDefinition, DestinationFilter } from './definition.js';
import { passes, type EventFacts } from './filter.js';

const hook = (filter?: DestinationFilter, consent?: string[]): DestinationDefinition => ({
  name: 'Hook', type: 'webhook', settings: { url: 'https://hooks.example.com/in' }, ...(filter ? { filter } : {}), ...(consent ? { consent } : {}),
});
const track = (event: string, message: Record<string, unknown> = {}): EventFacts => ({ type: 'track', event, message: { type: 'track', event, ...message } });
const page = (name: string | undefined, message: Record<string, unknown> = {}): EventFacts => ({ type: 'page', event: null, message: { type: 'page', ...(name === undefined ? {} : { name }), ...message } });
const screen = (name: string): EventFacts => ({ type: 'screen', event: null, message: { type: 'screen', name } });
const identify = (traits: Record<string, unknown> = {}): EventFacts => ({ type: 'identify', event: null, message: { type: 'identify', userId: 'u1', traits } });
const withConsent = (categoryPreferences: unknown): EventFacts => track('Order Completed', { context: { consent: { categoryPreferences } } });

describe('which events a destination takes', () => {
  it('takes every event when it has no filter and asks for no consent', () => {
    for (const e of [track('Signed Up'), page('Pricing'), screen('Home'), identify(), { type: 'alias', event: null, message: { type: 'alias' } }]) {
      expect(passes(hook(), e)).toBe(true);
    }
  });

  describe('by type', () => {
    it('takes only the listed types', () => {
      const d = hook({ types: ['track', 'identify'] });
      expect(passes(d, track('Signed Up'))).toBe(true);
      expect(passes(d, identify())).toBe(true);
      expect(passes(d, page('Pricing'))).toBe(false);
      expect(passes(d, screen('Home'))).toBe(false);
    });
  });

  describe('by name', () => {
    it('takes the listed track events only, by exact, case-sensitive name', () => {
      const d = hook({ events: ['Order Completed', 'Signed Up'] });
      expect(passes(d, track('Order Completed'))).toBe(true);
      expect(passes(d, track('Signed Up'))).toBe(true);
      expect(passes(d, track('Order Viewed'))).toBe(false);
      expect(passes(d, track('order completed'))).toBe(false);
    });

    it('matches a page or a screen by its name', () => {
      const d = hook({ events: ['Pricing', 'Home'] });
      expect(passes(d, page('Pricing'))).toBe(true);
      expect(passes(d, screen('Home'))).toBe(true);
      expect(passes(d, page('Docs'))).toBe(false);
    });

    it('refuses a page without a name, and calls that have no name at all', () => {
      const d = hook({ events: ['Pricing'] });
      expect(passes(d, page(undefined, { properties: { name: 'Pricing' } }))).toBe(false);
      expect(passes(d, identify({ name: 'Pricing' }))).toBe(false);
      expect(passes(d, { type: 'group', event: null, message: { type: 'group', name: 'Pricing' } })).toBe(false);
    });

    it('does not take a track event\'s name from its properties', () => {
      expect(passes(hook({ events: ['Pricing'] }), { type: 'track', event: 'Viewed', message: { type: 'track', event: 'Viewed', name: 'Pricing' } })).toBe(false);
    });

    it('needs both the type and the name when the filter names both', () => {
      const d = hook({ types: ['page'], events: ['Pricing'] });
      expect(passes(d, page('Pricing'))).toBe(true);
      expect(passes(d, screen('Pricing'))).toBe(false);
      expect(passes(d, track('Pricing'))).toBe(false);
    });
  });

  describe('by property tests', () => {
    it('tests a value at a path from the message root', () => {
      const d = hook({ where: [{ path: 'properties.plan', op: 'eq', value: 'pro' }] });
      expect(passes(d, track('Upgraded', { properties: { plan: 'pro' } }))).toBe(true);
      expect(passes(d, track('Upgraded', { properties: { plan: 'free' } }))).toBe(false);
      expect(passes(d, track('Upgraded'))).toBe(false);
    });

    it('descends into nested objects such as the context', () => {
      const d = hook({ where: [{ path: 'context.page.path', op: 'starts_with', value: '/docs' }] });
      expect(passes(d, page('Docs', { context: { page: { path: '/docs/install' } } }))).toBe(true);
      expect(passes(d, page('Blog', { context: { page: { path: '/blog' } } }))).toBe(false);
    });

    it.each<[string, DestinationFilter['where'], Record<string, unknown>, boolean]>([
      ['exists holds for a present value', [{ path: 'properties.coupon', op: 'exists' }], { coupon: 'X' }, true],
      ['exists fails for null', [{ path: 'properties.coupon', op: 'exists' }], { coupon: null }, false],
      ['not_exists holds for an absent value', [{ path: 'properties.coupon', op: 'not_exists' }], {}, true],
      ['neq holds for an absent value', [{ path: 'properties.plan', op: 'neq', value: 'free' }], {}, true],
      ['eq is typed: the string "5" is not 5', [{ path: 'properties.total', op: 'eq', value: 5 }], { total: '5' }, false],
      ['gt compares numbers', [{ path: 'properties.total', op: 'gt', value: 100 }], { total: 150 }, true],
      ['gt fails at the bound', [{ path: 'properties.total', op: 'gt', value: 100 }], { total: 100 }, false],
      ['gte holds at the bound', [{ path: 'properties.total', op: 'gte', value: 100 }], { total: 100 }, true],
      ['lt never holds for a numeric string', [{ path: 'properties.total', op: 'lt', value: 100 }], { total: '50' }, false],
      ['lte holds below the bound', [{ path: 'properties.total', op: 'lte', value: 100 }], { total: 50 }, true],
      ['in holds for one of the values', [{ path: 'properties.plan', op: 'in', values: ['pro', 'team'] }], { plan: 'team' }, true],
      ['not_in fails for one of the values', [{ path: 'properties.plan', op: 'not_in', values: ['pro', 'team'] }], { plan: 'pro' }, false],
      ['contains finds a substring', [{ path: 'properties.sku', op: 'contains', value: '-XL-' }], { sku: 'TS-XL-RED' }, true],
      ['starts_with is case-sensitive', [{ path: 'properties.sku', op: 'starts_with', value: 'ts' }], { sku: 'TS-XL' }, false],
      ['every test must hold', [{ path: 'properties.plan', op: 'eq', value: 'pro' }, { path: 'properties.total', op: 'gt', value: 10 }], { plan: 'pro', total: 5 }, false],
      ['all tests holding takes the event', [{ path: 'properties.plan', op: 'eq', value: 'pro' }, { path: 'properties.total', op: 'gt', value: 10 }], { plan: 'pro', total: 50 }, true],
    ])('%s', (_, where, properties, expected) => {
      expect(passes(hook({ where }), track('Order Completed', { properties }))).toBe(expected);
    });

    it('tests traits of identify calls by their path', () => {
      const d = hook({ types: ['identify'], where: [{ path: 'traits.plan', op: 'eq', value: 'pro' }] });
      expect(passes(d, identify({ plan: 'pro' }))).toBe(true);
      expect(passes(d, identify({ plan: 'free' }))).toBe(false);
    });

    it('never reads a path through the prototype', () => {
      const d = hook({ where: [{ path: 'properties.constructor', op: 'exists' }] });
      expect(passes(d, track('Viewed', { properties: {} }))).toBe(false);
    });
  });

  describe('by consent', () => {
    it('takes an event only when every required category is granted', () => {
      const d = hook(undefined, ['analytics', 'marketing']);
      expect(passes(d, withConsent({ analytics: true, marketing: true, ads: false }))).toBe(true);
      expect(passes(d, withConsent({ analytics: true, marketing: false }))).toBe(false);
      expect(passes(d, withConsent({ analytics: true }))).toBe(false);
    });

    it('refuses an event that says nothing about consent', () => {
      const d = hook(undefined, ['analytics']);
      expect(passes(d, track('Order Completed'))).toBe(false);
      expect(passes(d, track('Order Completed', { context: { consent: {} } }))).toBe(false);
      expect(passes(d, withConsent(null))).toBe(false);
    });

    it('counts only true as granted, not truthy values', () => {
      const d = hook(undefined, ['analytics']);
      expect(passes(d, withConsent({ analytics: 'true' }))).toBe(false);
      expect(passes(d, withConsent({ analytics: 1 }))).toBe(false);
      expect(passes(d, withConsent(['analytics']))).toBe(false);
    });

    it('asks nothing when the list of required categories is empty', () => {
      expect(passes(hook(undefined, []), track('Order Completed'))).toBe(true);
    });

    it('applies consent on top of the filter', () => {
      const d = hook({ events: ['Order Completed'] }, ['analytics']);
      expect(passes(d, withConsent({ analytics: true }))).toBe(true);
      expect(passes(d, track('Order Viewed', { context: { consent: { categoryPreferences: { analytics: true } } } }))).toBe(false);
    });

    it('takes the profile\'s consent when the event says nothing', () => {
      const d = hook(undefined, ['analytics', 'ads']);
      expect(passes(d, track('Order Completed'), { analytics: true, ads: true })).toBe(true);
      expect(passes(d, track('Order Completed'), { analytics: true })).toBe(false);
      expect(passes(d, withConsent({ analytics: true }), { ads: true })).toBe(true);
    });

    it('refuses when either the event or the profile refuses a category', () => {
      const d = hook(undefined, ['analytics']);
      expect(passes(d, withConsent({ analytics: true }), { analytics: false })).toBe(false);
      expect(passes(d, withConsent({ analytics: false }), { analytics: true })).toBe(false);
    });

    it('leaves consent for later when told to (null), judging only the filter', () => {
      const d = hook({ events: ['Order Completed'] }, ['analytics']);
      expect(passes(d, track('Order Completed'), null)).toBe(true);
      expect(passes(d, track('Order Viewed'), null)).toBe(false);
    });
  });
});
