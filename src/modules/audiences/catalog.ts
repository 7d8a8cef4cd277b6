import { createHash } from 'node:crypto';
import { errors } from '../../platform/errors.js';
import type { AggregateSpec } from './aggregate.js';
import type { AudienceDefinition, Collection, ComputedTraitDefinition, Condition, EventFilter, ValueTest, Window } from './definition.js';
import { leaves } from './evaluate.js';
import { filterType } from './match.js';
import { bucketMs, DAY, windowMs } from './window.js';

export interface DefinitionRow {
  id: string;
  workspace_id: string;
  key: string;
  name: string;
  collection: string;
  definition: string;
  status: string;
  computed_at: number | null;
  created_at: number;
  updated_at: number;
  description?: string | null;
  size?: number;
}

export interface TraitEntry {
  row: DefinitionRow;
  definition: ComputedTraitDefinition;
  spec: AggregateSpec;
  window?: Window;
  decayMs?: number;
  traitRules: { test: ValueTest & { trait: string }; points: number }[];
}

/** What an audience's membership can change with, for deciding which profiles to re-evaluate. */
export interface Dependencies {
  aggregates: Set<string>;
  traits: Set<string>;
  computed: Set<string>;
  audiences: Set<string>;
}

export interface AudienceEntry {
  row: DefinitionRow;
  definition: AudienceDefinition;
  own: Dependencies;
  /** Of the conditions under `account`: what the user's accounts' changes can affect. */
  account: Dependencies | undefined;
}

/** A workspace's definitions in the form the pipeline uses: aggregates indexed by the events they count. */
export interface Catalog {
  workspaceId: string;
  traits: TraitEntry[];
  /** Dependencies first. */
  audiences: AudienceEntry[];
  aggregates: Map<string, AggregateSpec>;
  byEvent: Map<string, AggregateSpec[]>;
  traitsByKey: Map<string, TraitEntry>;
  audiencesByKey: Map<string, AudienceEntry>;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The counter behind an event condition; conditions with the same filter and bucket width share one. */
export function leafAggregateId(workspaceId: string, collection: Collection, filter: EventFilter, within: Window | undefined): string {
  const digest = createHash('sha256').update(canonical({ workspaceId, collection, filter: { ...filter, type: filterType(filter) }, bucket: String(bucketMs(within)) })).digest('hex');
  return `ev:${digest.slice(0, 32)}`;
}

export const eventKey = (type: string, name: string | null | undefined) => `${type}|${name ?? ''}`;

const emptyDeps = (): Dependencies => ({ aggregates: new Set(), traits: new Set(), computed: new Set(), audiences: new Set() });

export function traitEntry(row: DefinitionRow): TraitEntry {
  const d = JSON.parse(row.definition) as ComputedTraitDefinition;
  const collection = row.collection as Collection;
  const base = { id: `ct:${row.id}`, workspaceId: row.workspace_id, collection };
  if (d.kind === 'score') {
    const eventRules = (d.rules ?? []).filter((r): r is { event: EventFilter; points: number } => 'event' in r);
    const traitRules = (d.rules ?? []).filter((r): r is { trait: ValueTest & { trait: string }; points: number } => 'trait' in r).map((r) => ({ test: r.trait, points: r.points }));
    const bucket = d.within ? bucketMs(d.within) : d.decay ? DAY : Infinity;
    return {
      row, definition: d, window: d.within, traitRules, decayMs: d.decay ? d.decay.half_life_days * DAY : undefined,
      spec: {
        ...base, kind: 'points', filters: eventRules.map((r) => r.event), points: eventRules.map((r) => r.points), bucket,
        retain: d.within ? windowMs(d.within) : Infinity, windows: d.within ? [windowMs(d.within)] : undefined,
        decay: d.decay ? d.decay.half_life_days * DAY : undefined,
      },
    };
  }
  return {
    row, definition: d, window: d.within, traitRules: [],
    spec: {
      ...base, kind: d.kind, filters: [d.event ?? {}], property: d.property, bucket: bucketMs(d.within),
      retain: d.within ? windowMs(d.within) : Infinity, windows: d.within ? [windowMs(d.within)] : undefined,
    },
  };
}

export function buildCatalog(workspaceId: string, traitRows: DefinitionRow[], audienceRows: DefinitionRow[]): Catalog {
  const traits = traitRows.map(traitEntry);
  const aggregates = new Map<string, AggregateSpec>();
  for (const t of traits) if (t.row.status === 'ready') aggregates.set(t.spec.id, t.spec);

  const entries = audienceRows.map((row): AudienceEntry => {
    const definition = { ...(JSON.parse(row.definition) as Pick<AudienceDefinition, 'condition'>), key: row.key, name: row.name, collection: row.collection as Collection };
    const own = emptyDeps();
    let account: Dependencies | undefined;
    leaves(definition.condition, (leaf, inAccount) => {
      const deps = inAccount ? (account ??= emptyDeps()) : own;
      const collection: Collection = inAccount ? 'accounts' : definition.collection;
      if ('trait' in leaf) deps.traits.add(leaf.trait);
      else if ('computed_trait' in leaf) deps.computed.add(leaf.computed_trait);
      else if ('audience' in leaf) deps.audiences.add(leaf.audience);
      else if ('event' in leaf) {
        const id = leafAggregateId(workspaceId, collection, leaf.event, leaf.within);
        deps.aggregates.add(id);
        if (row.status !== 'ready') return;
        const retain = leaf.within ? windowMs(leaf.within) : Infinity;
        const prior = aggregates.get(id) ?? aggregates.set(id, { id, workspaceId, collection, kind: 'count', filters: [leaf.event], bucket: bucketMs(leaf.within), retain, windows: [] }).get(id)!;
        prior.retain = Math.max(prior.retain, retain);
        if (leaf.within && !prior.windows!.includes(retain)) prior.windows!.push(retain);
      }
    });
    return { row, definition, own, account };
  });

  const byEvent = new Map<string, AggregateSpec[]>();
  for (const spec of aggregates.values()) {
    for (const key of new Set(spec.filters.map((f) => eventKey(filterType(f), f.name)))) {
      const list = byEvent.get(key) ?? [];
      list.push(spec);
      byEvent.set(key, list);
    }
  }
  const audiencesByKey = new Map(entries.map((e) => [e.row.key, e]));
  return { workspaceId, traits, audiences: topological(entries, audiencesByKey), aggregates, byEvent, traitsByKey: new Map(traits.map((t) => [t.row.key, t])), audiencesByKey };
}

function topological(entries: AudienceEntry[], byKey: Map<string, AudienceEntry>): AudienceEntry[] {
  const out: AudienceEntry[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (e: AudienceEntry) => {
    const s = state.get(e.row.key);
    if (s === 'done') return;
    if (s === 'visiting') throw errors.validation(`Audience "${e.row.key}" depends on itself through other audiences.`);
    state.set(e.row.key, 'visiting');
    for (const dep of [...e.own.audiences, ...(e.account?.audiences ?? [])]) {
      const d = byKey.get(dep);
      if (d) visit(d);
    }
    state.set(e.row.key, 'done');
    out.push(e);
  };
  entries.forEach(visit);
  return out;
}

/** Checks what the schema cannot: references, collections, and the kinds' required fields. */
export function checkComputedTrait(d: ComputedTraitDefinition): void {
  if (d.kind === 'score') {
    if (!d.rules?.length) throw errors.validation('A score needs rules: { event, points } or { trait, points }.');
    if (d.event || d.property) throw errors.validation('A score takes rules, not event or property.');
    return;
  }
  if (d.rules || d.decay) throw errors.validation('rules and decay are for kind "score".');
  if (!d.event) throw errors.validation(`Kind "${d.kind}" needs an event filter.`);
  if (d.kind !== 'count' && !d.property) throw errors.validation(`Kind "${d.kind}" needs the event property it aggregates.`);
  if (d.kind === 'count' && d.property) throw errors.validation('Kind "count" counts events; it takes no property.');
}

export function checkAudience(d: AudienceDefinition, catalog: Catalog): void {
  const walk = (c: Condition, collection: Collection) => {
    if ('all' in c) return c.all.forEach((x) => walk(x, collection));
    if ('any' in c) return c.any.forEach((x) => walk(x, collection));
    if ('not' in c) return walk(c.not, collection);
    if ('account' in c) {
      if (collection !== 'users') throw errors.validation('An account condition belongs in an audience of users (and not inside another account condition).');
      return walk(c.account, 'accounts');
    }
    if ('computed_trait' in c) {
      const t = catalog.traitsByKey.get(c.computed_trait);
      if (!t) throw errors.validation(`No computed trait "${c.computed_trait}".`);
      if (t.row.collection !== collection) throw errors.validation(`Computed trait "${c.computed_trait}" is of ${t.row.collection}, not ${collection}.`);
    }
    if ('audience' in c) {
      const a = catalog.audiencesByKey.get(c.audience);
      if (!a) throw errors.validation(`No audience "${c.audience}".`);
      if (a.row.collection !== collection) throw errors.validation(`Audience "${c.audience}" is of ${a.row.collection}, not ${collection}.`);
    }
  };
  walk(d.condition, d.collection);
}
