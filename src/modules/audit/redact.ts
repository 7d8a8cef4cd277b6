/** What stands in for a secret in a recorded change. */
export const REDACTED = '[redacted]';

// Field names (compared lower case, without separators) whose values are never stored: passwords, tokens,
// API keys, write keys, signing secrets, credentials.
const SECRET_NAMES = ['password', 'passwd', 'secret', 'token', 'apikey', 'writekey', 'privatekey', 'authorization', 'cookie', 'credential', 'signature'];
const LONG_STRING = 2_000;
const MAX_CHANGE_CHARS = 64 * 1024;

export function isSecretName(name: string): boolean {
  const folded = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_NAMES.some((s) => folded.includes(s));
}

function walk(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.length > LONG_STRING ? `[${value.length} characters omitted]` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth > 20) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const secret = isSecretName(k) && v !== null && v !== undefined && v !== '';
    // Custom HTTP headers (a destination's) carry credentials under any name: keep the names only.
    out[k] = secret ? REDACTED : k === 'headers' && v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).map((h) => [h, REDACTED])) : walk(v, depth + 1);
  }
  return out;
}

/**
 * A change as the audit log keeps it, as JSON text: secrets replaced by a marker whatever their depth,
 * long strings (a CSV upload) replaced by their length, and the whole capped, so the audit log never
 * becomes a second copy of the data it describes. Null when there is nothing to record.
 */
export function recordedChange(change: unknown): string | null {
  if (change === undefined || change === null) return null;
  const text = JSON.stringify(walk(change, 0));
  if (text === undefined) return null;
  return text.length > MAX_CHANGE_CHARS ? JSON.stringify({ omitted: `${text.length} characters` }) : text;
}
