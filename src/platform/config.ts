import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Role = 'api' | 'worker' | 'all';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** The built web app (Vite's output), served at `/`. */
  webDir: string;
  /** `postgres://…` switches storage to PostgreSQL; absent means embedded SQLite in `dataDir`. */
  databaseUrl?: string;
  logLevel: string;
  role: Role;
  collect: {
    /** Events waiting for the log before new requests get 503 + Retry-After. */
    maxPendingEvents: number;
    /** Default events per second per write key (0 = unlimited); a source can override it. */
    rateLimitPerWriteKey: number;
  };
  audiences: {
    /** How often conditions that age out (windows, decay) are re-checked, in ms. */
    recheckMs: number;
  };
  access: {
    /** A session unused this long is over. */
    sessionIdleMinutes: number;
    /** A session is over this long after sign-in, however busy. */
    sessionMaxHours: number;
    /** Failed sign-ins allowed per email, and per client address, within the window before 429. */
    loginFailuresPerEmail: number;
    loginFailuresPerIp: number;
    loginWindowMinutes: number;
  };
  privacy: {
    /** How often raw events past a workspace's retention are deleted (and expired exports), in ms. */
    retentionEveryMs: number;
  };
  delivery: {
    /** How long an idle destination waits before looking for new messages (the pipeline also wakes it), in ms. */
    pollMs: number;
    /** How long a node's claim on a destination lasts unless renewed: the hand-over time when a node dies, in ms. */
    leaseMs: number;
  };
  nodes: {
    /** How often a worker node says it is alive in PostgreSQL, in ms. */
    heartbeatMs: number;
    /** A worker silent this long is dead and its log partitions go to the others, in ms. */
    ttlMs: number;
  };
}

function positiveIntFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = intFromEnv(env, name, fallback);
  if (value === 0) throw new Error(`${name} must be a positive integer, got "0"`);
  return value;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error(`DATABASE_URL must start with postgres:// (got "${databaseUrl.split(':')[0]}:…"); leave it unset for the embedded SQLite store`);
  }
  return {
    port: intFromEnv(env, 'PORT', 8080),
    host: env.HOST || '0.0.0.0',
    dataDir: resolve(env.RAPPORT_DATA_DIR || './data'),
    // dist/web from both src/platform and dist/platform: the build puts it there.
    webDir: resolve(env.RAPPORT_WEB_DIR || fileURLToPath(new URL('../../dist/web', import.meta.url))),
    databaseUrl,
    logLevel: env.LOG_LEVEL || 'info',
    role: 'all',
    collect: {
      maxPendingEvents: intFromEnv(env, 'RAPPORT_MAX_PENDING_EVENTS', 100_000),
      rateLimitPerWriteKey: intFromEnv(env, 'RAPPORT_WRITE_KEY_RATE_LIMIT', 0),
    },
    access: {
      sessionIdleMinutes: positiveIntFromEnv(env, 'RAPPORT_SESSION_IDLE_MINUTES', 30),
      sessionMaxHours: positiveIntFromEnv(env, 'RAPPORT_SESSION_MAX_HOURS', 12),
      loginFailuresPerEmail: positiveIntFromEnv(env, 'RAPPORT_LOGIN_FAILURES_PER_EMAIL', 5),
      loginFailuresPerIp: positiveIntFromEnv(env, 'RAPPORT_LOGIN_FAILURES_PER_IP', 50),
      loginWindowMinutes: positiveIntFromEnv(env, 'RAPPORT_LOGIN_WINDOW_MINUTES', 15),
    },
    audiences: { recheckMs: intFromEnv(env, 'RAPPORT_AUDIENCE_RECHECK_MS', 15_000) },
    privacy: { retentionEveryMs: positiveIntFromEnv(env, 'RAPPORT_RETENTION_EVERY_MS', 3_600_000) },
    delivery: { pollMs: intFromEnv(env, 'RAPPORT_DELIVERY_POLL_MS', 500), leaseMs: intFromEnv(env, 'RAPPORT_DELIVERY_LEASE_MS', 10_000) },
    nodes: { heartbeatMs: positiveIntFromEnv(env, 'RAPPORT_NODE_HEARTBEAT_MS', 1_000), ttlMs: positiveIntFromEnv(env, 'RAPPORT_NODE_TTL_MS', 5_000) },
    ...overrides,
  };
}
