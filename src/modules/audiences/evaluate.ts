import type { Condition, EventFilter, Window } from './definition.js';
import { testValue } from './match.js';

/** What the evaluator knows about one profile at one moment. */
export interface ProfileContext {
  traits: Map<string, unknown>;
  /** Computed trait values by key. */
  computed: Map<string, unknown>;
  /** Matching events of this profile within the window (all time when undefined). */
  count(filter: EventFilter, within: Window | undefined): number;
  /** Keys of the audiences the profile is in. */
  audiences: Set<string>;
  /** The accounts a user belongs to. */
  accounts: ProfileContext[];
}

/** The incremental side of an audience: the condition decided for one profile in memory. compile.ts is the SQL side. */
export function evaluate(condition: Condition, ctx: ProfileContext): boolean {
  if ('all' in condition) return condition.all.every((c) => evaluate(c, ctx));
  if ('any' in condition) return condition.any.some((c) => evaluate(c, ctx));
  if ('not' in condition) return !evaluate(condition.not, ctx);
  if ('trait' in condition) return testValue(condition, ctx.traits.get(condition.trait));
  if ('computed_trait' in condition) return testValue(condition, ctx.computed.get(condition.computed_trait));
  if ('event' in condition) {
    const n = ctx.count(condition.event, condition.within);
    const { op, value } = condition.count ?? { op: 'at_least', value: 1 };
    return op === 'at_least' ? n >= value : op === 'at_most' ? n <= value : n === value;
  }
  if ('audience' in condition) return ctx.audiences.has(condition.audience) === (condition.member ?? true);
  return ctx.accounts.some((account) => evaluate(condition.account, account));
}

/** Calls `visit` on every leaf of a condition, with whether it sits under `account`. */
export function leaves(condition: Condition, visit: (leaf: Condition, inAccount: boolean) => void, inAccount = false): void {
  if ('all' in condition) condition.all.forEach((c) => leaves(c, visit, inAccount));
  else if ('any' in condition) condition.any.forEach((c) => leaves(c, visit, inAccount));
  else if ('not' in condition) leaves(condition.not, visit, inAccount);
  else if ('account' in condition) leaves(condition.account, visit, true);
  else visit(condition, inAccount);
}
