import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

describe('a server whose web app is not built', () => {
  let server: TestServer;
  let empty: string;
  beforeAll(async () => {
    empty = mkdtempSync(join(tmpdir(), 'rapport-no-web-'));
    server = await startServer(ENGINES[0], { webDir: empty });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(empty, { recursive: true, force: true });
  });

  it('still starts, serves the APIs, and says at / how to build the app', async () => {
    const home = await fetch(`${server.url}/`);
    expect(home.status).toBe(503);
    expect(await home.text()).toContain('npm run build');
    expect((await fetch(`${server.url}/profiles/abc`)).status).toBe(503);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await server.call('GET', '/api/v1/sources')).status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/nope`)).status).toBe(404);
  });
});
