import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startBareServer } from '../support/server.js';
import { BROWSER_TEST_TIMEOUT, launchBrowser, openApp, runBrowserTests, screenshot, signInThroughForm } from '../support/web.js';

const OWNER = { email: 'founder@acme.test', password: 'a long first-run passphrase' };

describe.skipIf(!runBrowserTests)('the web app: first run, sign-in and workspaces', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let server: Awaited<ReturnType<typeof startBareServer>>;
  let browser: Browser;

  beforeAll(async () => {
    server = await startBareServer(ENGINES[0]);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('refuses a weak owner password or a half-filled form at setup, and creates nothing', async () => {
    const post = (body: unknown) => fetch(`${server.url}/api/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const weak = await post({ workspace: 'Acme', email: 'x@acme.test', password: 'short' });
    expect(weak.status).toBe(400);
    expect((await weak.json()).error.message).toMatch(/12 characters/);
    expect((await post({ workspace: 'Acme' })).status).toBe(400);
    expect(await server.rapport.core.access.service.installed()).toBe(false);
    expect(await (await fetch(`${server.url}/api/v1/setup`)).json()).toEqual({ needed: true });
  });

  it('sets up the first workspace and its owner from the browser, signed in at once, and only once', async () => {
    const { context, page, problems } = await openApp(browser, server.url);
    await page.getByRole('heading', { name: 'Set up Rapport' }).waitFor();
    await screenshot(page, 'setup');
    await page.getByLabel('Workspace name').fill('Acme');
    await page.getByLabel('Your email').fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(OWNER.password);
    await page.getByLabel('Repeat the password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.getByRole('combobox', { name: 'Workspace' }).inputValue()).toBe('Acme');

    // The owner's session, with the first source made for them; setup is now closed, to everyone.
    const session = await page.evaluate(() => fetch('/api/v1/auth/session').then((r) => r.json()));
    expect(session).toMatchObject({ user: { email: OWNER.email }, role: 'owner', workspace: { name: 'Acme' } });
    const sources = await page.evaluate(() => fetch('/api/v1/sources').then((r) => r.json()));
    expect(sources.data.map((s: { name: string }) => s.name)).toEqual(['Website']);
    const again = await fetch(`${server.url}/api/v1/setup`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workspace: 'Evil', email: 'evil@x.test', password: 'another long passphrase' }),
    });
    expect(again.status).toBe(409);
    expect(await (await fetch(`${server.url}/api/v1/setup`)).json()).toEqual({ needed: false });
    expect(await server.rapport.core.access.service.installed()).toBe(true);

    // The audit log names the owner as who set the installation up.
    const audit = await page.evaluate(() => fetch('/api/v1/audit?action=workspace.setup').then((r) => r.json()));
    expect(audit.data).toEqual([expect.objectContaining({ action: 'workspace.setup', actor: expect.objectContaining({ type: 'user', id: session.user.id }) })]);
    expect(JSON.stringify(audit.data[0])).not.toContain(OWNER.password);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('signs out and back in; a wrong password is said plainly', async () => {
    const { context, page, problems } = await openApp(browser, server.url);
    await page.getByRole('heading', { name: 'Sign in to Rapport' }).waitFor();
    await screenshot(page, 'sign-in');
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor();
    await signInThroughForm(page, OWNER);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Rapport' }).waitFor();
    expect((await context.cookies()).filter((c) => c.name === '__Host-rapport_session')).toEqual([]);
    expect(await page.evaluate(() => fetch('/api/v1/auth/session').then((r) => r.status))).toBe(401);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('switches between the workspaces the user belongs to', async () => {
    const access = server.rapport.core.access.service;
    const { workspace } = await access.ensureWorkspace('Globex');
    await access.ensureMember(workspace.id, OWNER.email, OWNER.password, 'admin');
    const { context, page, problems } = await openApp(browser, server.url);
    await signInThroughForm(page, OWNER);
    const switcher = page.getByRole('combobox', { name: 'Workspace' });
    await switcher.click();
    await page.getByRole('option', { name: 'Globex' }).click();
    await page.waitForFunction(() => fetch('/api/v1/auth/session').then((r) => r.json()).then((s) => s.workspace.name === 'Globex'));
    expect(await switcher.inputValue()).toBe('Globex');
    const sources = await page.evaluate(() => fetch('/api/v1/sources').then((r) => r.json()));
    expect(sources.data).toEqual([]);
    // Only into one's own workspaces, and only with the CSRF token.
    const post = (body: unknown, csrf: boolean) => page.evaluate(async ({ body, csrf }) => {
      const session = await fetch('/api/v1/auth/session').then((r) => r.json());
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': session.csrfToken } : {}) };
      return (await fetch('/api/v1/auth/switch-workspace', { method: 'POST', headers, body: JSON.stringify(body) })).status;
    }, { body, csrf });
    expect(await post({ workspaceId: 'not-mine' }, true)).toBe(403);
    expect(await post({ workspaceId: workspace.id }, false)).toBe(403);
    expect(await post({}, true)).toBe(400);
    const withKey = await fetch(`${server.url}/api/v1/auth/switch-workspace`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer rk_nope' }, body: JSON.stringify({ workspaceId: workspace.id }),
    });
    expect(withKey.status).toBe(401);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('serves client routes from index.html, long-caches hashed assets, and leaves the APIs their 404s', async () => {
    const page = await fetch(`${server.url}/crm/deals/some-deal`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('cache-control')).toBe(null);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await page.text();
    const asset = html.match(/\/assets\/[\w.-]+\.js/)?.[0];
    expect(asset).toBeDefined();
    const script = await fetch(server.url + asset);
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // Sent compressed as the browser accepts (fetch decodes it): the same bytes either way.
    const as = (encoding: string) => fetch(server.url + asset, { headers: { 'accept-encoding': encoding } });
    const [brotli, gzip, plain] = await Promise.all([as('gzip, deflate, br'), as('gzip'), as('identity')]);
    expect([brotli, gzip, plain].map((r) => r.headers.get('content-encoding'))).toEqual(['br', 'gzip', null]);
    const text = await plain.text();
    expect(text.length).toBeGreaterThan(1000);
    expect(await brotli.text()).toBe(text);
    expect(await gzip.text()).toBe(text);
    expect((await fetch(`${server.url}/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/assets/..%2f..%2fpackage.json`)).status).toBeGreaterThanOrEqual(400);
    for (const path of ['/api/v1/nope', '/v1/nope', '/api', '/metricsx/../metrics']) {
      const answer = await fetch(server.url + path);
      expect([404, 200].includes(answer.status) && !(answer.headers.get('content-type') ?? '').includes('text/html'), path).toBe(true);
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
