/** One candidate trait value from one event. */
export interface TraitWrite {
  workspaceId: string;
  profileId: string;
  name: string;
  value: unknown;
  at: number;
  offset: number;
  sourceId: string;
  messageId: string;
}

export const DEFAULT_SET_ONCE = ['createdAt', 'created_at'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Trait values an event carries: identify and group `traits`, and `context.traits` on any call. */
export function traitsOf(message: Record<string, unknown>): { user: Record<string, unknown>; account: Record<string, unknown> } {
  const context = isObject(message.context) ? message.context : {};
  let user: Record<string, unknown> = isObject(context.traits) ? { ...context.traits } : {};
  let account: Record<string, unknown> = {};
  if (message.type === 'identify' && isObject(message.traits)) user = { ...user, ...message.traits };
  if (message.type === 'group' && isObject(message.traits)) account = { ...message.traits };
  for (const bag of [user, account]) {
    for (const key of Object.keys(bag)) if (bag[key] === undefined || key === '__proto__' || key === 'constructor') delete bag[key];
  }
  return { user, account };
}

/**
 * Keeps one write per (profile, trait): the newest by event time (ties: the later log offset) or, for
 * set-once traits, the oldest. The store applies the same comparison against what it already holds.
 */
export function reduceTraitWrites(writes: TraitWrite[], setOnce: (workspaceId: string, name: string) => boolean): TraitWrite[] {
  const best = new Map<string, TraitWrite>();
  for (const w of writes) {
    const key = `${w.profileId}\u0000${w.name}`;
    const current = best.get(key);
    const once = setOnce(w.workspaceId, w.name);
    const wins = !current || (once ? w.at < current.at || (w.at === current.at && w.offset < current.offset) : w.at > current.at || (w.at === current.at && w.offset > current.offset));
    if (wins) best.set(key, w);
  }
  return [...best.values()];
}
