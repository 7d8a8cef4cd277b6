/** Per workspace and identifier type: how much weight an identifier carries and how many a profile may hold. */
export interface IdentifierRule {
  type: string;
  /** 1 is highest. On a conflict the incoming event's lowest-priority identifier is dropped first. */
  priority: number;
  /** Most values of this type one profile may hold (within `windowMs` when set). */
  limit: number;
  /** Rolling window for the limit, in milliseconds of event time; null counts for ever. */
  windowMs: number | null;
  /** Values never promoted to identifiers (compared case-insensitively), on top of the universal junk list. */
  blocked: string[];
}

export interface Caps {
  /** Merges one profile may absorb; past it, merges are refused with a warning. */
  mergesPerProfile: number;
  /** Identifiers one profile may hold in all. */
  identifiersPerProfile: number;
}

export const DEFAULT_CAPS: Caps = { mergesPerProfile: 100, identifiersPerProfile: 1000 };

const DAY = 24 * 60 * 60 * 1000;

/** Values no real person shares: SDK placeholders, serialisation accidents, "logged-out" ids. */
export const JUNK_VALUES = ['', 'null', 'undefined', 'anonymous', 'guest', '0', '-1', '[object object]', 'nan', 'email', 'id', 'none', 'nil', 'unknown'];
const JUNK = new Set(JUNK_VALUES);
const ZEROES_AND_DASHES = /^[0-]*$/;

export const DEFAULT_RULES: IdentifierRule[] = [
  { type: 'user_id', priority: 1, limit: 1, windowMs: null, blocked: [] },
  { type: 'email', priority: 2, limit: 5, windowMs: null, blocked: [] },
  { type: 'phone', priority: 3, limit: 5, windowMs: null, blocked: [] },
  { type: 'device_id', priority: 4, limit: 5, windowMs: null, blocked: [] },
  { type: 'advertising_id', priority: 5, limit: 5, windowMs: null, blocked: [] },
  { type: 'anonymous_id', priority: 6, limit: 5, windowMs: 7 * DAY, blocked: [] },
  { type: 'group_id', priority: 1, limit: 1, windowMs: null, blocked: [] },
];

/** The rule of a type not configured: below every configured type, limit 5. */
export function defaultRuleFor(type: string): IdentifierRule {
  return DEFAULT_RULES.find((r) => r.type === type) ?? { type, priority: 10, limit: 5, windowMs: null, blocked: [] };
}

export class RuleBook {
  private readonly byType = new Map<string, IdentifierRule>();

  constructor(overrides: IdentifierRule[] = [], readonly caps: Caps = DEFAULT_CAPS) {
    for (const rule of DEFAULT_RULES) this.byType.set(rule.type, rule);
    for (const rule of overrides) this.byType.set(rule.type, rule);
  }

  rule(type: string): IdentifierRule {
    return this.byType.get(type) ?? defaultRuleFor(type);
  }

  all(): IdentifierRule[] {
    return [...this.byType.values()].sort((a, b) => a.priority - b.priority || a.type.localeCompare(b.type));
  }

  isBlocked(type: string, value: string): boolean {
    const v = value.trim().toLowerCase();
    if (JUNK.has(v) || ZEROES_AND_DASHES.test(v)) return true;
    return this.rule(type).blocked.some((b) => b.toLowerCase() === v);
  }

  /** Lower sorts first: by priority, then type name, so every node orders identifiers alike. */
  compare(a: { type: string }, b: { type: string }): number {
    return this.rule(a.type).priority - this.rule(b.type).priority || a.type.localeCompare(b.type);
  }
}
