export { until } from '../support/wait.js';
import { acceptedMessages, type Receiver } from '../support/receiver.js';

/**
 * What a receiver that dedupes by messageId makes of what it accepted: each message the first time it
 * came (in arrival order), and how many times each came.
 */
export function firstAcceptances(receiver: Receiver, from = 0): { order: string[]; times: Map<string, number> } {
  const order: string[] = [];
  const times = new Map<string, number>();
  for (const m of acceptedMessages({ ...receiver, requests: receiver.requests.slice(from) })) {
    const id = String(m.messageId);
    const n = times.get(id) ?? 0;
    if (n === 0) order.push(id);
    times.set(id, n + 1);
  }
  return { order, times };
}

/** Where a user's messages were first accepted out of the order they were sent in, or [] when never. */
export function outOfOrder(sent: { messageId: string; userId: string }[], accepted: string[]): string[] {
  const position = new Map(sent.map((m, i) => [m.messageId, i]));
  const userOf = new Map(sent.map((m) => [m.messageId, m.userId]));
  const last = new Map<string, string>();
  const problems: string[] = [];
  for (const id of accepted) {
    const user = userOf.get(id);
    if (user === undefined) continue;
    const before = last.get(user);
    if (before !== undefined && position.get(before)! > position.get(id)!) problems.push(`${user}: ${id} accepted after ${before}`);
    last.set(user, id);
  }
  return problems;
}
