import { GraphView, type ProfileNode } from './graph.js';
import { keyOf, type Collection, type Identifier } from './identifiers.js';
import type { RuleBook } from './rules.js';

/** Why an identifier of an event did not join the profile, or why a merge did not happen. */
export interface ResolutionWarning {
  code: 'blocked_value' | 'limit_exceeded' | 'merge_cap' | 'identifier_cap';
  identifier?: Identifier;
  rule: string;
  message: string;
}

export interface Resolution {
  /** The profile the event belongs to, or null when it carried no usable identifier. */
  profileId: string | null;
  created: boolean;
  /** Identifiers this event added to the profile. */
  attached: Identifier[];
  /** Profiles folded into `profileId` by this event, oldest first, with the identifiers that linked them. */
  merged: { profileId: string; via: Identifier[]; anchor: Identifier[]; moved: Identifier[] }[];
  warnings: ResolutionWarning[];
}

export interface EventIdentity {
  collection: Collection;
  /** Highest-priority first is not required; the resolver orders them. */
  identifiers: Identifier[];
  /** Event time in epoch ms (limits with a window count in event time, so a replay decides alike). */
  at: number;
  offset: number;
}

function countByType(ids: Iterable<{ type: string; firstSeen: number }>, type: string, since: number | null): number {
  let n = 0;
  for (const id of ids) if (id.type === type && (since === null || id.firstSeen > since)) n++;
  return n;
}

/**
 * Segment-style deterministic resolution of one event against the graph, mutating `view`:
 * no match creates a profile, one match attaches, several merge into the oldest, unless a limit or cap
 * would break; then the event's lowest-priority identifier is dropped and the rest tried again.
 */
export function resolveEvent(view: GraphView, rules: RuleBook, event: EventIdentity, newProfileId: () => string): Resolution {
  const warnings: ResolutionWarning[] = [];
  const seen = new Set<string>();
  let candidates: Identifier[] = [];
  for (const id of event.identifiers) {
    const key = keyOf(id);
    if (seen.has(key)) continue;
    seen.add(key);
    if (rules.isBlocked(id.type, id.value)) {
      warnings.push({ code: 'blocked_value', identifier: id, rule: `blocked:${id.type}`, message: `"${id.value}" is a blocked ${id.type} and was ignored.` });
    } else candidates.push(id);
  }
  // Stable: among equal priorities the event's own order decides (alias puts userId before previousId).
  candidates = candidates.map((id, i) => ({ id, i })).sort((a, b) => rules.compare(a.id, b.id) || a.i - b.i).map((x) => x.id);

  while (candidates.length > 0) {
    const owners: ProfileNode[] = [];
    const fresh: Identifier[] = [];
    for (const id of candidates) {
      const owner = view.ownerOf(event.collection, id);
      if (!owner) fresh.push(id);
      else if (!owners.includes(owner)) owners.push(owner);
    }
    owners.sort((a, b) => a.createdOffset - b.createdOffset || a.id.localeCompare(b.id));
    const target = owners[0];
    const others = owners.slice(1);

    const violated = limitViolation(rules, event.at, target, others, fresh);
    if (violated) {
      const dropped = candidates.pop()!;
      warnings.push({
        code: 'limit_exceeded', identifier: dropped, rule: `limit:${violated}`,
        message: `Linking would give the profile more ${violated} values than its limit allows; ${dropped.type} "${dropped.value}" was left off.`,
      });
      continue;
    }

    if (!target && fresh.length > rules.caps.identifiersPerProfile) {
      const dropped = candidates.pop()!;
      warnings.push({ code: 'identifier_cap', identifier: dropped, rule: 'cap:identifiers', message: `One event carried more than ${rules.caps.identifiersPerProfile} identifiers; ${dropped.type} "${dropped.value}" was left off.` });
      continue;
    }
    if (!target) {
      const node: ProfileNode = { id: newProfileId(), collection: event.collection, createdOffset: event.offset, merges: 0, identifiers: new Map() };
      view.addProfile(node);
      for (const id of fresh) view.attach(node, id, event.at, event.offset);
      return { profileId: node.id, created: true, attached: fresh, merged: [], warnings };
    }

    const caps = rules.caps;
    const mergesAfter = target.merges + others.reduce((n, o) => n + o.merges + 1, 0);
    const idsAfter = target.identifiers.size + others.reduce((n, o) => n + o.identifiers.size, 0) + fresh.length;
    if (others.length > 0 && mergesAfter > caps.mergesPerProfile) {
      warnings.push({ code: 'merge_cap', rule: 'cap:merges', message: `Profile ${target.id} has reached ${caps.mergesPerProfile} merges; no more merges into it (possible blob profile).` });
      return attachOnly(view, rules, event, candidates, warnings);
    }
    if (idsAfter > caps.identifiersPerProfile) {
      warnings.push({ code: 'identifier_cap', rule: 'cap:identifiers', message: `Profile ${target.id} would hold more than ${caps.identifiersPerProfile} identifiers; none were added (possible blob profile).` });
      return others.length > 0 ? attachOnly(view, rules, event, candidates, warnings, true) : { profileId: target.id, created: false, attached: [], merged: [], warnings };
    }

    const anchor = candidates.filter((id) => view.ownerOf(event.collection, id) === target);
    const merged = others.map((o) => ({
      profileId: o.id,
      anchor,
      via: candidates.filter((id) => view.ownerOf(event.collection, id) === o),
      moved: [...o.identifiers.values()].map(({ type, value }) => ({ type, value })),
    }));
    for (const other of others) view.merge(target, other);
    for (const id of fresh) view.attach(target, id, event.at, event.offset);
    return { profileId: target.id, created: false, attached: fresh, merged, warnings };
  }
  return { profileId: null, created: false, attached: [], merged: [], warnings };
}

/** After a refused merge the event still belongs somewhere: the profile of its highest-priority known identifier. */
function attachOnly(view: GraphView, rules: RuleBook, event: EventIdentity, candidates: Identifier[], warnings: ResolutionWarning[], noNewIds = false): Resolution {
  const best = candidates.map((id) => view.ownerOf(event.collection, id)).find((p): p is ProfileNode => Boolean(p))!;
  const fresh = noNewIds ? [] : candidates.filter((id) => !view.ownerOf(event.collection, id));
  const attached: Identifier[] = [];
  // One at a time, so two new values of one type cannot pass the limit check together.
  // Candidates are in priority order, so what fits under the identifier cap is the most valuable.
  for (const id of fresh) {
    if (best.identifiers.size >= rules.caps.identifiersPerProfile) {
      warnings.push({ code: 'identifier_cap', identifier: id, rule: 'cap:identifiers', message: `Profile ${best.id} holds ${rules.caps.identifiersPerProfile} identifiers, its cap; ${id.type} "${id.value}" was not added.` });
      continue;
    }
    if (limitViolation(rules, event.at, best, [], [id])) continue;
    view.attach(best, id, event.at, event.offset);
    attached.push(id);
  }
  return { profileId: best.id, created: false, attached, merged: [], warnings };
}

/** The type whose limit the union would break, or null. Only growth is refused: a profile already over a tightened limit keeps working. */
function limitViolation(rules: RuleBook, at: number, target: ProfileNode | undefined, others: ProfileNode[], fresh: Identifier[]): string | null {
  const types = new Set<string>([...fresh.map((f) => f.type), ...others.flatMap((o) => [...o.identifiers.values()].map((h) => h.type))]);
  for (const type of types) {
    const rule = rules.rule(type);
    const since = rule.windowMs === null ? null : at - rule.windowMs;
    const before = target ? countByType(target.identifiers.values(), type, since) : 0;
    let after = before + countByType(fresh.map((f) => ({ type: f.type, firstSeen: at })), type, since);
    for (const o of others) after += countByType(o.identifiers.values(), type, since);
    if (after > rule.limit && after > before) return type;
  }
  return null;
}
