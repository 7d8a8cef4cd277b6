/** The computed trait form's state, and how it becomes a definition (audiences/definition.ts) and back. */
// .js: the node typecheck reads this file too, through its unit test.
import { typedTest, valueTest } from './audience-condition.js';

export type TraitKind = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'most_frequent' | 'first' | 'last' | 'unique_list' | 'unique_count' | 'score';
export type EventType = 'track' | 'page' | 'screen' | 'identify' | 'group' | 'alias';
export type WindowUnit = 'minutes' | 'hours' | 'days';

export const AGGREGATE_KINDS: { value: TraitKind; label: string }[] = [
  { value: 'count', label: 'Count of events' },
  { value: 'sum', label: 'Sum of a property' },
  { value: 'avg', label: 'Average of a property' },
  { value: 'min', label: 'Smallest value of a property' },
  { value: 'max', label: 'Largest value of a property' },
  { value: 'most_frequent', label: 'Most frequent value' },
  { value: 'first', label: 'First value' },
  { value: 'last', label: 'Last value' },
  { value: 'unique_list', label: 'List of unique values' },
  { value: 'unique_count', label: 'Number of unique values' },
];

export const EVENT_TYPES: EventType[] = ['track', 'page', 'screen', 'identify', 'group', 'alias'];

/** A property test on the events counted: `where` of the event filter. */
export interface WhereRow { id: number; property: string; op: string; value: string }

/** One rule of a score: points per matching event, or once for a trait condition the profile meets. */
export interface RuleRow { id: number; on: 'event' | 'trait'; eventType: EventType; eventName: string; trait: string; op: string; value: string; points: number }

export interface TraitForm {
  key: string;
  name: string;
  collection: 'users' | 'accounts';
  kind: TraitKind;
  eventType: EventType;
  eventName: string;
  property: string;
  where: WhereRow[];
  /** null: all time */
  windowLast: number | null;
  windowUnit: WindowUnit;
  rules: RuleRow[];
  /** null: no decay */
  halfLifeDays: number | null;
}

export interface TraitDefinition {
  key: string;
  name: string;
  collection: 'users' | 'accounts';
  kind: TraitKind;
  event?: { type?: EventType; name?: string; where?: ({ property: string; op: string; value?: unknown; values?: unknown[] })[] };
  property?: string;
  within?: { last: number; unit: WindowUnit };
  rules?: ({ event: { type?: EventType; name?: string }; points: number } | { trait: { trait: string; op: string; value?: unknown; values?: unknown[] }; points: number })[];
  decay?: { half_life_days: number };
}

let next = 1;
export const newWhere = (): WhereRow => ({ id: next++, property: '', op: 'eq', value: '' });
export const newRule = (on: RuleRow['on'] = 'event'): RuleRow => ({ id: next++, on, eventType: 'track', eventName: '', trait: '', op: 'eq', value: '', points: 10 });

export function newForm(kind: TraitKind): TraitForm {
  return {
    key: '', name: '', collection: 'users', kind, eventType: 'track', eventName: '', property: '', where: [],
    windowLast: null, windowUnit: 'days', rules: kind === 'score' ? [newRule()] : [], halfLifeDays: null,
  };
}

const eventFilter = (type: EventType, name: string) => ({ type, ...(name.trim() ? { name: name.trim() } : {}) });

/** The definition the API is sent. Only what the kind uses; what is still wrong, the API says. */
export function toDefinition(form: TraitForm): TraitDefinition {
  const base = { key: form.key, name: form.name.trim(), collection: form.collection, kind: form.kind };
  const within = form.windowLast ? { within: { last: form.windowLast, unit: form.windowUnit } } : {};
  if (form.kind === 'score') {
    return {
      ...base, ...within,
      rules: form.rules.map((r) => (r.on === 'event'
        ? { event: eventFilter(r.eventType, r.eventName), points: r.points }
        : { trait: { trait: r.trait.trim(), ...valueTest(r) } as { trait: string; op: string }, points: r.points })),
      ...(form.halfLifeDays ? { decay: { half_life_days: form.halfLifeDays } } : {}),
    };
  }
  const where = form.where.map((w) => ({ property: w.property.trim(), ...valueTest(w) } as { property: string; op: string }));
  return {
    ...base, ...within,
    event: { ...eventFilter(form.eventType, form.eventName), ...(where.length ? { where } : {}) },
    ...(form.kind !== 'count' && form.property.trim() ? { property: form.property.trim() } : {}),
  };
}

/** A saved definition, typed back into the form to change it. */
export function fromDefinition(d: TraitDefinition): TraitForm {
  const form = newForm(d.kind);
  return {
    ...form,
    key: d.key, name: d.name, collection: d.collection,
    eventType: d.event?.type ?? 'track', eventName: d.event?.name ?? '', property: d.property ?? '',
    where: (d.event?.where ?? []).map((w) => ({ ...newWhere(), property: w.property, ...typedTest(w) })),
    windowLast: d.within?.last ?? null, windowUnit: d.within?.unit ?? 'days',
    rules: (d.rules ?? []).map((r) => ('event' in r
      ? { ...newRule('event'), eventType: r.event.type ?? 'track', eventName: r.event.name ?? '', points: r.points }
      : { ...newRule('trait'), trait: r.trait.trait, ...typedTest(r.trait), points: r.points })),
    halfLifeDays: d.decay?.half_life_days ?? null,
  };
}

/** The window in words: "last 30 days" or "all time". */
export function windowText(within: TraitDefinition['within']): string {
  return within ? `last ${within.last} ${within.last === 1 ? within.unit.slice(0, -1) : within.unit}` : 'all time';
}

/** The computed trait keys a condition tree uses: which audiences depend on a trait. */
export function computedTraitsIn(condition: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(condition)) for (const c of condition) computedTraitsIn(c, into);
  else if (condition && typeof condition === 'object') {
    const c = condition as Record<string, unknown>;
    if (typeof c.computed_trait === 'string') into.add(c.computed_trait);
    for (const value of Object.values(c)) if (value && typeof value === 'object') computedTraitsIn(value, into);
  }
  return into;
}
