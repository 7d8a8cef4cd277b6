import { afterEach, describe, expect, it } from 'vitest';
import { applyMapping, render } from './mapping.js';

const message = () => ({
  type: 'track',
  event: 'Order Completed',
  userId: 'u-1',
  properties: { total: 19.99, plan: 'pro', products: [{ sku: 'A-1' }] },
  context: { page: { path: '/checkout' } },
});

describe('mapping a message before it is sent', () => {
  it('sends the message untouched without steps', () => {
    const m = message();
    expect(applyMapping(m, undefined)).toBe(m);
    expect(applyMapping(m, [])).toBe(m);
  });

  it('renames a field, creating the objects its new path needs', () => {
    const out = applyMapping(message(), [{ op: 'rename', from: 'properties.total', to: 'order.revenue.amount' }]);
    expect(out.order).toEqual({ revenue: { amount: 19.99 } });
    expect(out.properties).toEqual({ plan: 'pro', products: [{ sku: 'A-1' }] });
  });

  it('leaves the message as it is when the field to rename is absent', () => {
    expect(applyMapping(message(), [{ op: 'rename', from: 'properties.missing', to: 'x' }])).toEqual(message());
  });

  it('drops a field, nested or not, and ignores a field that is absent', () => {
    const out = applyMapping(message(), [
      { op: 'drop', path: 'context.page.path' },
      { op: 'drop', path: 'userId' },
      { op: 'drop', path: 'properties.nothing.here' },
    ]);
    expect(out).toEqual({ ...message(), userId: undefined, context: { page: {} } });
    expect('userId' in out).toBe(false);
  });

  it('sets a constant, replacing whatever stood in its way', () => {
    const out = applyMapping(message(), [
      { op: 'set', path: 'context.app.name', value: 'shop' },
      { op: 'set', path: 'properties.plan.tier', value: { level: 2 } },
    ]);
    expect(out.context).toEqual({ page: { path: '/checkout' }, app: { name: 'shop' } });
    expect(out.properties).toMatchObject({ plan: { tier: { level: 2 } } });
  });

  it('sets a copy of the constant, so one message cannot change the next', () => {
    const steps = [{ op: 'set' as const, path: 'tags', value: { list: ['a'] } }];
    const first = applyMapping(message(), steps);
    (first.tags as { list: string[] }).list.push('changed');
    expect(applyMapping(message(), steps).tags).toEqual({ list: ['a'] });
  });

  it('renders a template from the message as the steps before it left it', () => {
    const out = applyMapping(message(), [
      { op: 'rename', from: 'userId', to: 'customer.id' },
      { op: 'template', path: 'summary', template: '{{ customer.id }} bought {{properties.products}} for {{properties.total}} on {{context.page.path}}{{missing.path}}' },
    ]);
    expect(out.summary).toBe('u-1 bought [{"sku":"A-1"}] for 19.99 on /checkout');
  });

  it('renders missing and null values as empty', () => {
    expect(render('[{{a}}|{{b}}|{{c.d}}]', { a: null, c: 3 })).toBe('[||]');
  });

  it('never changes the message it was given', () => {
    const m = message();
    applyMapping(m, [
      { op: 'drop', path: 'properties.plan' },
      { op: 'set', path: 'context.page.path', value: '/' },
      { op: 'rename', from: 'event', to: 'name' },
    ]);
    expect(m).toEqual(message());
  });
});

describe('mapping paths that name prototypes', () => {
  afterEach(() => {
    for (const o of [Object.prototype, Function.prototype] as unknown as Record<string, unknown>[]) delete o.polluted;
  });

  it('ignores set and template steps that would write to a prototype', () => {
    const out = applyMapping(message(), [
      { op: 'set', path: '__proto__.polluted', value: true },
      { op: 'set', path: 'constructor.prototype.polluted', value: true },
      { op: 'set', path: 'properties.__proto__.polluted', value: true },
      { op: 'template', path: 'context.constructor.prototype.polluted', template: 'yes' },
      { op: 'set', path: 'prototype', value: true },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out).toEqual(message());
  });

  it('ignores a rename onto a prototype, and a rename or drop through one', () => {
    const out = applyMapping(message(), [
      { op: 'rename', from: '__proto__.toString', to: 'stolen' },
      { op: 'drop', path: 'constructor.prototype.toString' },
      { op: 'rename', from: 'event', to: '__proto__.polluted' },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(typeof Object.prototype.toString).toBe('function');
    expect(out.stolen).toBeUndefined();
  });

  it('keeps the field where it was when its rename onto a prototype is ignored', () => {
    const out = applyMapping(message(), [{ op: 'rename', from: 'event', to: '__proto__.polluted' }]);
    expect(out).toEqual(message());
  });

  it('does not follow a "__proto__" key that came in the JSON of an event', () => {
    const incoming = JSON.parse('{"type":"track","__proto__":{"polluted":"from the wire"}}') as Record<string, unknown>;
    const out = applyMapping(incoming, [
      { op: 'set', path: '__proto__.polluted', value: 'mapped' },
      { op: 'template', path: 'copy', template: '{{__proto__.polluted}}' },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});
