import type { AddressInfo } from 'node:net';
import { createRapport, type Rapport } from '../../src/app.js';
import type { Clock } from '../../src/platform/clock.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import type { Engine, EngineStore } from './engines.js';

export interface TestServer {
  url: string;
  rapport: Rapport;
  store: EngineStore;
  setup: SetupResult;
  /** Fetch against the management API with the owner's API key. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** A JSON call: the owner's API key unless another (or none: null) is given; the body parsed, the ETag if any. */
  call(method: string, path: string, body?: unknown, apiKey?: string | null, headers?: Record<string, string>): Promise<{ status: number; body: any; etag: string | null }>;
  close(): Promise<void>;
}

export type ServerOverrides = {
  collect?: Partial<Config['collect']>; delivery?: Partial<Config['delivery']>; access?: Partial<Config['access']>; privacy?: Partial<Config['privacy']>; clock?: Clock; webDir?: string;
};

/** A real Rapport on a real store, listening on a free port, with no workspace yet (a fresh installation). */
export async function startBareServer(engine: Engine, overrides: ServerOverrides = {}): Promise<Omit<TestServer, 'setup' | 'api' | 'call'>> {
  const store = await engine.create();
  const base = loadConfig({ RAPPORT_DATA_DIR: store.dataDir, ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}), LOG_LEVEL: 'warn' });
  const config: Config = {
    ...base, port: 0, host: '127.0.0.1', ...(overrides.webDir ? { webDir: overrides.webDir } : {}),
    collect: { ...base.collect, ...overrides.collect }, delivery: { ...base.delivery, ...overrides.delivery }, access: { ...base.access, ...overrides.access },
    privacy: { ...base.privacy, ...overrides.privacy },
  };
  const rapport = await createRapport(config, overrides.clock ? { clock: overrides.clock } : {});
  await rapport.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = rapport.app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rapport,
    store,
    async close() {
      await rapport.close();
      await store.drop();
    },
  };
}

/** A real Rapport on a real store, listening on a free port, with a workspace already set up. */
export async function startServer(engine: Engine, overrides: ServerOverrides = {}): Promise<TestServer> {
  const bare = await startBareServer(engine, overrides);
  const setup = await setupWorkspace(
    { access: bare.rapport.core.access.service, collect: bare.rapport.core.collect.service },
    { workspace: 'Acme', email: 'owner@acme.test', password: 'correct horse battery staple' },
  );
  return { ...bare, setup, ...clientOf(bare.url, setup) };
}

/** The management API of a server, as the workspace's owner (or another key). */
export function clientOf(url: string, setup: SetupResult): Pick<TestServer, 'api' | 'call'> {
  return {
    api: (path, init = {}) =>
      fetch(url + path, { ...init, headers: { authorization: `Bearer ${setup.apiKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) } }),
    async call(method, path, body, apiKey = setup.apiKey, extra = {}) {
      const headers: Record<string, string> = { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...extra };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null, etag: res.headers.get('etag') };
    },
  };
}

/** Rows of the event log, read straight from the store. */
export async function logRows(server: TestServer): Promise<{ offset: number; message_id: string; type: string; payload: Record<string, unknown> }[]> {
  const rows = await server.rapport.database.db.selectFrom('events').select(['offset', 'message_id', 'type', 'payload']).orderBy('offset').execute();
  return rows.map((r: { offset: unknown; message_id: string; type: string; payload: unknown }) => ({
    offset: Number(r.offset),
    message_id: r.message_id,
    type: r.type,
    payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : (r.payload as Record<string, unknown>),
  }));
}
